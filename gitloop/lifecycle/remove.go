package lifecycle

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// RemoveOptions are the inputs of Remove.
type RemoveOptions struct {
	Name   string
	Force  bool // remove even with unmerged commits or uncommitted changes
	DryRun bool
}

// Remove deletes a loop: sandbox, worktree, branch and record together. It
// refuses (WorkAtRiskError) when that would lose work, unless forced.
func Remove(ctx context.Context, s *workspace.Workspace, opts RemoveOptions) error {
	l, err := Lock(ctx, s)
	if err != nil {
		return fmt.Errorf("rm %s: %w", opts.Name, err)
	}
	defer s.Unlock(l)
	m, err := s.Get(opts.Name)
	if err != nil {
		return err
	}
	if !opts.Force {
		if err := checkNoWorkAtRisk(ctx, s, m); err != nil {
			return err
		}
	}
	in := state.Intent{Op: "rm", Loop: m.Name, Branch: m.Branch, Worktree: m.Worktree, Driver: m.Sandbox.Driver, Contexts: m.Contexts}
	if opts.DryRun {
		dry := &git.Runner{Log: s.Git.Log, DryRun: true}
		_ = dry.Run(ctx, git.Cmd{Label: m.ShortBranch(), Args: []string{"worktree", "remove", "--force", m.Worktree}})
		_ = dry.Run(ctx, git.Cmd{Label: m.ShortBranch(), Args: []string{"branch", "-D", m.ShortBranch()}})
		return nil
	}
	if err := s.Store().BeginIntent(in); err != nil {
		return fmt.Errorf("rm %s: %w", m.Name, err)
	}
	s.Reporter().Step(fmt.Sprintf("removing loop %s", m.Name))
	if err := finishRemove(ctx, s, in); err != nil {
		return fmt.Errorf("rm %s: %w (re-run to finish)", m.Name, err)
	}
	return nil
}

// checkNoWorkAtRisk refuses when the loop has commits reachable neither
// from its base nor from any remote, or uncommitted changes.
func checkNoWorkAtRisk(ctx context.Context, s *workspace.Workspace, m *state.Meta) error {
	hint := fmt.Sprintf("land it first (merge %s) or use --force", m.ShortBranch())
	if _, exists, err := s.RefSHA(ctx, m.Branch); err != nil {
		return err
	} else if exists {
		args := []string{"rev-list", "--count", m.Branch, "--not", m.BaseSHA, "--remotes"}
		if m.BaseRef != "" {
			if _, ok, _ := s.RefSHA(ctx, m.BaseRef); ok {
				args = append(args, m.BaseRef)
			}
		}
		out, err := s.Query.Line(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: args})
		if err != nil {
			return fmt.Errorf("rm %s: %w", m.Name, err)
		}
		if n, _ := strconv.Atoi(out); n > 0 {
			return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has %d %s not on %s or any remote", n, workspace.Plural(n, "commit", "commits"), m.Base), Hint: hint}
		}
	}
	dirty, err := s.DirtyFiles(ctx, m.Worktree)
	if err != nil {
		return err
	}
	if len(dirty) > 0 {
		return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has uncommitted changes (%s)", workspace.Summarize(dirty, 3)), Hint: "commit or stash them, or use --force"}
	}
	return contexts.WorkAtRisk(ctx, s, m)
}
