package cmdutil

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gitloop-dev/git-loop/gitloop/doctor"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/bwrap"
	"github.com/gitloop-dev/git-loop/sandbox/docker"
	"github.com/gitloop-dev/git-loop/sandbox/kube"
	"github.com/gitloop-dev/git-loop/sandbox/none"
)

// Engines constructs sandbox drivers on first use and remembers them, so a
// command that never needs an engine never contacts one.
type Engines struct {
	f       *Factory
	mu      sync.Mutex
	engines map[string]sandbox.Engine
	// AutoReason says why "auto" picked what it picked (for doctor).
	AutoReason string
	// warn tells the user what a driver cannot enforce here (bwrap's
	// limits without a cgroup).
	warn func(string)
}

// NewEngines returns the driver registry of f.
func NewEngines(f *Factory) *Engines {
	return &Engines{f: f, engines: map[string]sandbox.Engine{}, warn: func(msg string) { f.IOStreams.Progress().Warn(msg) }}
}

// Drivers are the names a user may choose.
var Drivers = []string{"auto", "docker", "bwrap", "kubernetes", "none"}

// For returns the driver named driver; "auto" picks docker if an engine
// answers quickly, else bwrap if it works here, else none.
func (e *Engines) For(ctx context.Context, driver string) (sandbox.Engine, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if eng, ok := e.engines[driver]; ok {
		return eng, nil
	}
	var eng sandbox.Engine
	var err error
	switch driver {
	case "none":
		eng = none.New()
	case "docker":
		eng, err = docker.New()
	case "bwrap":
		eng, err = bwrap.New()
	case kube.Name, "kube":
		eng, err = kube.New(e.kubeOptions(ctx))
	case "auto":
		var reason string
		eng, reason, err = sandbox.Auto(ctx, sandbox.DefaultProbeTimeout,
			docker.Candidate(), bwrap.Candidate(),
			sandbox.Candidate{Name: "none", Open: func(context.Context) (sandbox.Engine, error) { return none.New(), nil }})
		e.AutoReason = reason
	default:
		return nil, &workspace.UsageError{Err: fmt.Errorf("sandbox driver %q does not exist (choose auto, docker, bwrap, kubernetes or none)", driver)}
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox driver %s: %w", driver, err)
	}
	if b, ok := eng.(*bwrap.Engine); ok && b.Warn == nil {
		b.Warn = e.warn
	}
	e.engines[driver] = eng
	e.engines[eng.Name()] = eng
	return eng, nil
}

// kubeOptions are the sandbox.kube.* settings; without a configuration
// (outside a repository, a broken file) kubectl's defaults apply.
func (e *Engines) kubeOptions(ctx context.Context) kube.Options {
	if e.f == nil {
		return kube.Options{}
	}
	cfg, err := e.f.Config(ctx)
	if err != nil || cfg == nil {
		return kube.Options{}
	}
	return kube.Options{
		Context:      cfg.Get("sandbox.kube.context"),
		Namespace:    cfg.Get("sandbox.kube.namespace"),
		StorageClass: cfg.Get("sandbox.kube.storageClass"),
		Storage:      cfg.Get("sandbox.kube.storage"),
		NodeName:     cfg.Get("sandbox.kube.node"),
		// A typo is refused when the config is read; anything but "off"
		// keeps the default.
		NoAgentSandbox: cfg.Get("sandbox.kube.agentSandbox") == "off",
	}
}

// Report says which driver the setting resolves to, and why (doctor); for
// bwrap with the isolated network, which tool connects it, or that none
// is installed, and which of the limits it cannot enforce here.
func (e *Engines) Report(ctx context.Context, driver string, network sandbox.Network, limits sandbox.Limits) doctor.Check {
	eng, err := e.For(ctx, driver)
	if err != nil {
		return doctor.Check{Name: "sandbox", Status: doctor.CheckFail, Detail: err.Error()}
	}
	detail := fmt.Sprintf("driver %s", eng.Name())
	if d, ok := eng.(*docker.Engine); ok {
		if perr := d.Ping(ctx); perr != nil {
			return doctor.Check{Name: "sandbox", Status: doctor.CheckFail, Detail: perr.Error()}
		}
		detail += fmt.Sprintf(" (engine %s, API %s)", d.Host(), d.APIVersion())
	}
	if k, ok := eng.(*kube.Engine); ok {
		if perr := k.Ping(ctx); perr != nil {
			return doctor.Check{Name: "sandbox", Status: doctor.CheckFail, Detail: perr.Error()}
		}
		detail += fmt.Sprintf(" (context %s, namespace %s, %s)", k.Context(), k.Namespace(), k.Host())
	}
	if driver == "auto" {
		if e.AutoReason != "" {
			detail += ": " + e.AutoReason
		} else {
			detail += ": picked by auto"
		}
	}
	status := doctor.CheckOK
	if b, ok := eng.(*bwrap.Engine); ok && network.Or() == sandbox.NetworkIsolated {
		if b.NetPath == "" {
			return doctor.Check{Name: "sandbox", Status: doctor.CheckFail, Detail: detail + ": " + bwrap.ErrNoNetworkTool.Error() +
				" for sandbox.network = isolated: install passt (pasta) or slirp4netns, or set sandbox.network = none (no network) or host (the host's, loopback included)"}
		}
		detail += " (network through " + b.NetTool + ")"
	}
	if b, ok := eng.(*bwrap.Engine); ok {
		if un := b.Unenforced(limits); len(un) > 0 {
			status = doctor.CheckWarn
			detail += fmt.Sprintf("; %s not enforced: no cgroup git loop may write (run as root, or in a delegated cgroup), or use docker", strings.Join(un, ", "))
		}
	}
	if eng.Name() == "none" {
		status = doctor.CheckWarn
		detail += " (loops run on the host, without isolation)"
	}
	return doctor.Check{Name: "sandbox", Status: status, Detail: detail}
}
