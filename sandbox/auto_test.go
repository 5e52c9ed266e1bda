package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

func named(name string) *sandboxtest.Fake {
	return &sandboxtest.Fake{NameFunc: func() string { return name }}
}

func ok(e sandbox.Engine) func(context.Context) (sandbox.Engine, error) {
	return func(context.Context) (sandbox.Engine, error) { return e, nil }
}

func failing(msg string) func(context.Context) (sandbox.Engine, error) {
	return func(context.Context) (sandbox.Engine, error) {
		return nil, errors.New(msg + "\nsecond line")
	}
}

// probeTimeout is the one the tests give Auto.
const probeTimeout = 50 * time.Millisecond

// hanging never answers: only the probe timeout gets Auto past it. It
// checks that Auto gave it one: a deadline no further away than the
// timeout (time.Until only shrinks, so a slow machine cannot break this),
// else it fails at once with a reason the test does not expect.
func hanging(ctx context.Context) (sandbox.Engine, error) {
	d, ok := ctx.Deadline()
	if !ok {
		return nil, errors.New("probed without a deadline")
	}
	if left := time.Until(d); left > probeTimeout {
		return nil, fmt.Errorf("probed with a deadline %v away, beyond the probe timeout %v", left, probeTimeout)
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestAutoFirstThatOpens(t *testing.T) {
	t.Parallel()
	docker, bwrap, none := named("docker"), named("bwrap"), named("none")
	tests := []struct {
		name       string
		candidates []sandbox.Candidate
		want       sandbox.Engine
		reason     []string
	}{
		{
			name: "first answers",
			candidates: []sandbox.Candidate{
				{Name: "docker", Open: ok(docker)}, {Name: "bwrap", Open: ok(bwrap)},
			},
			want: docker,
		},
		{
			name: "falls back with a reason",
			candidates: []sandbox.Candidate{
				{Name: "docker", Open: failing("engine down")}, {Name: "bwrap", Open: ok(bwrap)},
			},
			want:   bwrap,
			reason: []string{"using the bwrap sandbox driver", "docker unavailable (engine down)"},
		},
		{
			name: "slow engine is skipped",
			candidates: []sandbox.Candidate{
				{Name: "docker", Open: hanging}, {Name: "bwrap", Open: failing("not installed")}, {Name: "none", Open: ok(none)},
			},
			want:   none,
			reason: []string{"using the none sandbox driver", "docker unavailable (context deadline exceeded)", "bwrap unavailable (not installed)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, reason, err := sandbox.Auto(t.Context(), probeTimeout, tt.candidates...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("picked %s, want %s", got.Name(), tt.want.Name())
			}
			if len(tt.reason) == 0 && reason != "" {
				t.Errorf("reason %q, want none", reason)
			}
			for _, r := range tt.reason {
				if !strings.Contains(reason, r) {
					t.Errorf("reason %q lacks %q", reason, r)
				}
			}
			if strings.Contains(reason, "\n") {
				t.Errorf("reason %q is not one line", reason)
			}
		})
	}
}

func TestAutoNothingOpens(t *testing.T) {
	t.Parallel()
	_, _, err := sandbox.Auto(t.Context(), 0, sandbox.Candidate{Name: "docker", Open: failing("down")})
	if !errors.Is(err, sandbox.ErrEngineUnreachable) || !strings.Contains(err.Error(), "down") {
		t.Errorf("err %v, want ErrEngineUnreachable naming the cause", err)
	}
	if _, _, err := sandbox.Auto(t.Context(), 0); !errors.Is(err, sandbox.ErrEngineUnreachable) {
		t.Errorf("no candidates: %v", err)
	}
}

func TestFakeUnsetMethodsError(t *testing.T) {
	t.Parallel()
	f := &sandboxtest.Fake{}
	ctx := t.Context()
	var spec sandbox.Spec
	_, e1 := f.Ensure(ctx, spec)
	_, e2 := f.Exec(ctx, spec, sandbox.Exec{})
	e3 := f.Stop(ctx, spec)
	e4 := f.Remove(ctx, spec)
	_, e5 := f.Status(ctx, spec)
	_, e6 := f.List(ctx, nil)
	for i, err := range []error{e1, e2, e3, e4, e5, e6} {
		if err == nil || !strings.HasPrefix(err.Error(), "fake: ") {
			t.Errorf("method %d: %v, want a fake: ... not set error", i, err)
		}
	}
	if f.Name() != "fake" {
		t.Errorf("name %q", f.Name())
	}
}
