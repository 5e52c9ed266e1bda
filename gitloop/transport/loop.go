package transport

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Helper is git-remote-gitloop: git runs it as "git-remote-gitloop REMOTE
// URL" for a gitloop::NAME URL (URL is then NAME), in the repository that
// holds the loop. It serves one connection on in and out to the loop's
// sandbox; the loop, its engine and its spec come from the host's records,
// never from the sandbox.
func Helper(ctx context.Context, s *workspace.Workspace, args []string, in io.Reader, out, errOut io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: %s REMOTE %s::NAME (git runs it for %s:: URLs)", HelperName, Scheme, Scheme)
	}
	name := strings.TrimPrefix(args[1], Scheme+"::")
	if err := workspace.ValidateName(name, ""); err != nil {
		return fmt.Errorf("%s: %w", HelperName, err)
	}
	t, err := LoopTarget(ctx, s, name)
	if err != nil {
		return fmt.Errorf("%s: %w", HelperName, err)
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
