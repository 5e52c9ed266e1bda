package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// recoverLocked finishes or undoes operations an earlier command left
// unfinished. The caller holds the lock, so every intent found belongs to
// a command that died: its lock went with it.
func recoverLocked(ctx context.Context, s *workspace.Workspace) error {
	intents, err := s.Store().Intents()
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, in := range intents {
		var err error
		switch in.Op {
		case "new":
			s.Reporter().Warn(fmt.Sprintf("undoing loop %q: its creation was interrupted", in.Loop))
			err = undoNew(ctx, s, in)
		case "adopt":
			s.Reporter().Warn(fmt.Sprintf("undoing the adoption of loop %q: it was interrupted (\"git loop doctor --fix\" adopts it again)", in.Loop))
			err = undoAdopt(ctx, s, in)
		case "rm":
			s.Reporter().Warn(fmt.Sprintf("finishing removal of loop %q, which was interrupted", in.Loop))
			err = finishRemove(ctx, s, in)
		default:
			err = s.Store().EndIntent(in.Loop)
		}
		if err != nil {
			return fmt.Errorf("recover loop %q: %w (run \"git loop doctor\")", in.Loop, err)
		}
	}
	return nil
}

// recoverIfIdle is recovery for read-only commands: when an operation was
// left unfinished and no other command holds the lock, finish or undo it
// first, so listings never show half a loop. It never waits.
func RecoverIfIdle(ctx context.Context, s *workspace.Workspace) error {
	if intents, err := s.Store().Intents(); err != nil || len(intents) == 0 {
		return err
	}
	l, err := s.Store().TryLock()
	if err != nil || l == nil {
		return err // busy: the operation is live, not interrupted
	}
	s.Git.Inherit = []*os.File{l.File()}
	defer s.Unlock(l)
	return recoverLocked(ctx, s)
}

// undoNew removes whatever an interrupted New created: sandbox, worktree,
// branch (only if New created it and nothing was committed on it), state.
func undoNew(ctx context.Context, s *workspace.Workspace, in state.Intent) error {
	if _, err := s.Store().ReadMeta(in.Loop); err == nil {
		// The record is New's last step: the loop was complete when the
		// command died, so only the intent is left to clear.
		return s.Store().EndIntent(in.Loop)
	}
	if err := removeSandbox(ctx, s, in.Driver, in.Loop, in.Worktree); err != nil {
		return err
	}
	if err := contexts.Remove(ctx, s, in.Contexts, true); err != nil {
		return err
	}
	if err := removeWorktree(ctx, s, in.Worktree, in.Branch); err != nil {
		return err
	}
	if in.BranchCreated {
		// Delete only if it still points where New put it: a commit made
		// on it since is work, and work is never deleted by an undo.
		sha, exists, err := s.RefSHA(ctx, in.Branch)
		if err != nil {
			return err
		}
		if exists && sha == in.BaseSHA {
			if err := s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: workspace.ShortRef(in.Branch), Args: []string{"update-ref", "-d", in.Branch, in.BaseSHA}}); err != nil {
				return err
			}
		}
	}
	if err := s.Store().RemoveLoopDir(in.Loop); err != nil {
		return err
	}
	return s.Store().EndIntent(in.Loop)
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
	if in.Branch != "" {
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

// lock takes the state lock and finishes or undoes whatever an earlier,
// interrupted command left behind.
func Lock(ctx context.Context, s *workspace.Workspace) (*state.Lock, error) {
	l, err := s.LockState(ctx)
	if err != nil {
		return nil, err
	}
	if err := recoverLocked(ctx, s); err != nil {
		s.Unlock(l)
		return nil, err
	}
	return l, nil
}
