package cmdutil

import (
	"context"
	"fmt"
	"sync"

	"github.com/gitloop-dev/git-loop/gitloop"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/none"
)

// Engines constructs sandbox drivers on first use and remembers them.
type Engines struct {
	f       *Factory
	mu      sync.Mutex
	engines map[string]sandbox.Engine
	// AutoReason says why "auto" picked what it picked (for doctor).
	AutoReason string
}

// NewEngines returns the driver registry of f.
func NewEngines(f *Factory) *Engines {
	return &Engines{f: f, engines: map[string]sandbox.Engine{}}
}

// For returns the driver named driver; "auto" picks the best available.
func (e *Engines) For(ctx context.Context, driver string) (sandbox.Engine, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if eng, ok := e.engines[driver]; ok {
		return eng, nil
	}
	var eng sandbox.Engine
	switch driver {
	case "none":
		eng = none.New()
	case "auto":
		eng = none.New()
		e.AutoReason = "no container engine or bubblewrap driver is available in this build; running on the host"
	default:
		return nil, fmt.Errorf("sandbox driver %q is not available (choose auto, docker, bwrap or none)", driver)
	}
	e.engines[driver] = eng
	return eng, nil
}

// Report says which driver the setting resolves to, and why (doctor).
func (e *Engines) Report(ctx context.Context, driver string) gitloop.Check {
	eng, err := e.For(ctx, driver)
	if err != nil {
		return gitloop.Check{Name: "sandbox", Status: gitloop.CheckFail, Detail: err.Error()}
	}
	detail := fmt.Sprintf("driver %s", eng.Name())
	if driver == "auto" && e.AutoReason != "" {
		detail += ": " + e.AutoReason
	}
	status := gitloop.CheckOK
	if eng.Name() == "none" {
		status = gitloop.CheckWarn
		if driver == "none" {
			detail += " (chosen: loops run on the host, without isolation)"
		}
	}
	return gitloop.Check{Name: "sandbox", Status: status, Detail: detail}
}
