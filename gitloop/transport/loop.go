package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// EnvTarget carries, from the host's fetch to its helper, the loop's
// driver, sandbox spec and dir as JSON, so the helper needs neither the
// repository's settings nor its records (a fetch's fixed cost). It is the
// host's own environment: a sandbox cannot set it.
const EnvTarget = "GIT_LOOP_TRANSPORT_TARGET"

type wireTarget struct {
	Name   string       `json:"name"`
	Driver string       `json:"driver"`
	Spec   sandbox.Spec `json:"spec"`
	Dir    string       `json:"dir"`
}

// TargetEnv is t, for the loop named name, as EnvTarget.
func TargetEnv(name string, t Target) (string, error) {
	b, err := json.Marshal(wireTarget{Name: name, Driver: t.Engine.Name(), Spec: t.Spec, Dir: t.Dir})
	if err != nil {
		return "", err
	}
	return EnvTarget + "=" + string(b), nil
}

// Helper is git-remote-gitloop: git runs it as "git-remote-gitloop REMOTE
// URL" for a gitloop::NAME URL (URL is then NAME), in the repository that
// holds the loop. It serves one connection on in and out to the loop's
// sandbox; the loop, its engine and its spec come from the host (EnvTarget
// set by the fetch, else the repository's records), never from the
// sandbox. open opens a driver by name; workspace opens the repository.
func Helper(ctx context.Context, open func(ctx context.Context, driver string) (sandbox.Engine, error), ws func(ctx context.Context) (*workspace.Workspace, error),
	args []string, in io.Reader, out, errOut io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: %s REMOTE %s::NAME (git runs it for %s:: URLs)", HelperName, Scheme, Scheme)
	}
	name := strings.TrimPrefix(args[1], Scheme+"::")
	if err := workspace.ValidateName(name, ""); err != nil {
		return fmt.Errorf("%s: %w", HelperName, err)
	}
	var t Target
	if raw := os.Getenv(EnvTarget); raw != "" {
		var w wireTarget
		if err := json.Unmarshal([]byte(raw), &w); err != nil || w.Name != name {
			return fmt.Errorf("%s: %s is not loop %s's target", HelperName, EnvTarget, name)
		}
		eng, err := open(ctx, w.Driver)
		if err != nil {
			return fmt.Errorf("%s: %w", HelperName, err)
		}
		t = Target{Engine: eng, Spec: w.Spec, Dir: w.Dir}
	} else {
		s, err := ws(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", HelperName, err)
		}
		if t, err = LoopTarget(ctx, s, name); err != nil {
			return fmt.Errorf("%s: %w", HelperName, err)
		}
	}
	return Serve(ctx, in, out, errOut, t, LimitsFromEnv())
}

// LoopTarget is where a loop's transport connects: its engine and
// sandbox spec, and its repository at the worktree's path inside.
func LoopTarget(ctx context.Context, s *workspace.Workspace, name string) (Target, error) {
	m, err := s.Get(name)
	if err != nil {
		return Target{}, err
	}
	eng, err := s.OpenEngine(ctx, m.Sandbox.Driver)
	if err != nil {
		return Target{}, fmt.Errorf("loop %s: %w", name, err)
	}
	spec, err := sandboxspec.Spec(s, m)
	if err != nil {
		return Target{}, err
	}
	return Target{Engine: eng, Spec: spec, Dir: m.Worktree}, nil
}

// FetchLoop brings a loop's branch back from its sandbox: into quarantine,
// then loop/NAME by fast-forward only.
func FetchLoop(ctx context.Context, s *workspace.Workspace, m *state.Meta, lim Limits) (FetchResult, error) {
	return Fetch(ctx, s.Git, FetchOptions{
		GitDir:       s.Repo.CommonDir,
		Name:         m.Name,
		SourceBranch: m.Branch,
		Branch:       m.Branch,
		Limits:       lim,
	})
}
