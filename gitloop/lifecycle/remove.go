package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
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
	if m.Sandbox.Sealed && !opts.DryRun {
		// What the sandbox did since the last fetch is work too: bring it
		// to the host before judging.
		if _, err := transport.Refresh(ctx, s, m); err != nil && !opts.Force {
			return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("may have work its sandbox holds that could not be fetched (%v)", err), Hint: "start its sandbox engine, or use --force"}
		}
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
	var dirty []string
	var err error
	if m.Sandbox.Sealed {
		// Never git in the sandbox's clone: its uncommitted work is the
		// snapshot the last fetch brought.
		if _, ok, err := s.RefSHA(ctx, transport.SnapshotQuarantine(m.Name)); err != nil {
			return err
		} else if ok {
			dirty = []string{"in its sandbox; see \"git loop diff " + m.Name + "\""}
		}
		if co := transport.CheckoutPath(s, m.Name); len(dirty) == 0 && co != "" {
			if dirty, err = s.DirtyFiles(ctx, co); err != nil {
				return err
			}
		}
	} else if dirty, err = s.DirtyFiles(ctx, m.Worktree); err != nil {
		return err
	}
	if len(dirty) > 0 {
		return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has uncommitted changes (%s)", workspace.Summarize(dirty, 3)), Hint: "commit or stash them, or use --force"}
	}
	return contexts.WorkAtRisk(ctx, s, m)
}

// finishRemove completes an interrupted Remove: every step is idempotent.
func finishRemove(ctx context.Context, s *workspace.Workspace, in state.Intent) error {
	if err := removeSandbox(ctx, s, in.Driver, in.Loop, in.Worktree); err != nil {
		return err
	}
	if err := contexts.Remove(ctx, s, in.Contexts, false); err != nil {
		return err
	}
	if err := removeWorktree(ctx, s, in.Worktree, in.Branch); err != nil {
		return err
	}
	if err := transport.RemoveCheckout(ctx, s, in.Loop); err != nil {
		return err
	}
	if err := transport.RemoveClone(s, in.Loop); err != nil {
		return err
	}
	if err := transport.DropQuarantine(ctx, s, in.Loop); err != nil {
		return err
	}
	if in.Branch != "" {
		clearStaleRefLock(s, in.Branch)
		if _, exists, err := s.RefSHA(ctx, in.Branch); err != nil {
			return err
		} else if exists {
			if err := s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: workspace.ShortRef(in.Branch), Args: []string{"branch", "-D", workspace.ShortRef(in.Branch)}}); err != nil {
				return err
			}
		}
	}
	sandboxspec.RemoveVaultCopy(s, in.Loop)
	if err := s.Store().RemoveLoopDir(in.Loop); err != nil {
		return err
	}
	return s.Store().EndIntent(in.Loop)
}

// removeSandbox removes a loop's sandbox, if the driver is known.
func removeSandbox(ctx context.Context, s *workspace.Workspace, driver, loop, worktree string) error {
	if driver == "" || driver == "none" {
		return nil
	}
	eng, err := s.OpenEngine(ctx, driver)
	if err != nil {
		return err
	}
	spec, err := sandboxspec.Spec(s, &state.Meta{Name: loop, Worktree: worktree})
	if err != nil {
		return err
	}
	if err := eng.Remove(ctx, spec); err != nil && !errors.Is(err, sandbox.ErrNotFound) {
		return fmt.Errorf("remove sandbox: %w", err)
	}
	return nil
}

// removeWorktree unregisters and deletes a loop worktree, whatever state an
// interruption left it in (registered or not, locked while initialising,
// directory present or not).
func removeWorktree(ctx context.Context, s *workspace.Workspace, path, branch string) error {
	registered, err := worktreeRegistered(ctx, s, path)
	if err != nil {
		return err
	}
	if registered {
		if _, err := os.Stat(path); err == nil {
			// --force twice: also when git left it locked mid-"add".
			if err := s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: workspace.ShortRef(branch), Args: []string{"worktree", "remove", "--force", "--force", path}}); err != nil {
				return err
			}
		}
	}
	if _, err := os.Lstat(path); err == nil {
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("remove worktree %s: %w", path, err)
		}
	}
	if err := git.UnlockAbandonedWorktrees(s.Repo.CommonDir, path); err != nil {
		return err
	}
	return s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: workspace.ShortRef(branch), Args: []string{"worktree", "prune"}})
}

// worktreeRegistered reports whether git lists path as a worktree.
func worktreeRegistered(ctx context.Context, s *workspace.Workspace, path string) (bool, error) {
	wts, err := worktrees(ctx, s)
	if err != nil {
		return false, err
	}
	_, ok := wts[filepath.Clean(path)]
	return ok, nil
}

// worktrees maps each worktree path git knows to its branch ref (empty
// when detached).
func worktrees(ctx context.Context, s *workspace.Workspace) (map[string]string, error) {
	out, err := s.Query.Output(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"worktree", "list", "--porcelain", "-z"}})
	if err != nil {
		return nil, fmt.Errorf("list worktrees: %w", err)
	}
	wts := map[string]string{}
	var cur string
	for _, f := range strings.Split(string(out), "\x00") {
		switch {
		case strings.HasPrefix(f, "worktree "):
			cur = filepath.Clean(strings.TrimPrefix(f, "worktree "))
			wts[cur] = ""
		case strings.HasPrefix(f, "branch "):
			wts[cur] = strings.TrimPrefix(f, "branch ")
		}
	}
	return wts, nil
}

// clearStaleRefLock removes the lock file of a loop's branch that a git
// killed mid-update left (git cannot clean up after SIGKILL), which would
// refuse every later update of the branch. Only recovery calls it, holding
// the state lock, which every git that git loop starts inherits: no git of
// git loop's that could hold this lock is alive, and no other program
// writes a loop branch that is being made or removed.
func clearStaleRefLock(s *workspace.Workspace, ref string) {
	if !strings.HasPrefix(ref, "refs/heads/") || strings.Contains(ref, "..") {
		return
	}
	_ = os.Remove(filepath.Join(s.Repo.CommonDir, filepath.FromSlash(ref)+".lock"))
}
