package gitloop

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
)

// RemoveOptions are the inputs of Service.Remove.
type RemoveOptions struct {
	Name   string
	Force  bool // remove even with unmerged commits or uncommitted changes
	DryRun bool
}

// Remove deletes a loop: sandbox, worktree, branch and record together. It
// refuses (WorkAtRiskError) when that would lose work, unless forced.
func (s *Service) Remove(ctx context.Context, opts RemoveOptions) error {
	l, err := s.lock(ctx)
	if err != nil {
		return fmt.Errorf("rm %s: %w", opts.Name, err)
	}
	defer s.unlock(l)
	m, err := s.Get(opts.Name)
	if err != nil {
		return err
	}
	if !opts.Force {
		if err := s.checkNoWorkAtRisk(ctx, m); err != nil {
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
	if err := s.store().BeginIntent(in); err != nil {
		return fmt.Errorf("rm %s: %w", m.Name, err)
	}
	s.progress().Step(fmt.Sprintf("removing loop %s", m.Name))
	if err := s.finishRemove(ctx, in); err != nil {
		return fmt.Errorf("rm %s: %w (re-run to finish)", m.Name, err)
	}
	return nil
}

// checkNoWorkAtRisk refuses when the loop has commits reachable neither
// from its base nor from any remote, or uncommitted changes.
func (s *Service) checkNoWorkAtRisk(ctx context.Context, m *state.Meta) error {
	hint := fmt.Sprintf("land it first (merge %s) or use --force", m.ShortBranch())
	if _, exists, err := s.refSHA(ctx, m.Branch); err != nil {
		return err
	} else if exists {
		args := []string{"rev-list", "--count", m.Branch, "--not", m.BaseSHA, "--remotes"}
		if m.BaseRef != "" {
			if _, ok, _ := s.refSHA(ctx, m.BaseRef); ok {
				args = append(args, m.BaseRef)
			}
		}
		out, err := s.Query.Line(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: args})
		if err != nil {
			return fmt.Errorf("rm %s: %w", m.Name, err)
		}
		if n, _ := strconv.Atoi(out); n > 0 {
			return &WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has %d %s not on %s or any remote", n, plural(n, "commit", "commits"), m.Base), Hint: hint}
		}
	}
	dirty, err := s.dirtyFiles(ctx, m.Worktree)
	if err != nil {
		return err
	}
	if len(dirty) > 0 {
		return &WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has uncommitted changes (%s)", summarize(dirty, 3)), Hint: "commit or stash them, or use --force"}
	}
	return s.contextWorkAtRisk(ctx, m)
}

// dirtyFiles lists changed and untracked paths of a worktree (nothing when
// it does not exist).
func (s *Service) dirtyFiles(ctx context.Context, wt string) ([]string, error) {
	if !exists(wt) {
		return nil, nil
	}
	out, err := s.Query.Output(ctx, git.Cmd{Dir: wt, Args: []string{"status", "--porcelain=v1", "-z"}})
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", wt, err)
	}
	var files []string
	for _, rec := range splitZ(out) {
		if len(rec) > 3 && rec[2] == ' ' {
			files = append(files, rec[3:])
		}
	}
	return files, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func summarize(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}
