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
	// Kept, when set, hears of the backup ref a forced removal keeps of
	// work it would otherwise lose, as "git branch -D" says "(was …)".
	Kept func(Backup)
}

// Backup is a ref a forced rm keeps, so that nothing it removes is lost:
// the branch tip, or a commit of the uncommitted changes on top of it.
type Backup struct {
	Ref    string // refs/loop-removed/NAME/UNIXTIME
	SHA    string
	Reason string // what was at risk, e.g. "has 2 commits not on main or any remote"
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
		res, err := transport.Refresh(ctx, s, m)
		if err != nil && !opts.Force {
			return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("may have work its sandbox holds that could not be fetched (%v)", err), Hint: "start its sandbox engine, or use --force"}
		}
		if err == nil && res.Rewritten && !opts.Force {
			// The rewrite is work too, kept only in quarantine, which rm
			// deletes.
			q := transport.Quarantine(m.Name) + "head"
			return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has a history its sandbox rewrote (at %s, not on %s)", q, m.ShortBranch()),
				Hint: fmt.Sprintf("keep it with \"git branch NAME %s\", or use --force", q)}
		}
	}
	var kept *Backup
	if err := checkNoWorkAtRisk(ctx, s, m); err != nil {
		var risk *workspace.WorkAtRiskError
		switch {
		case !opts.Force:
			return err
		case !errors.As(err, &risk):
			// --force removes what cannot even be checked (a worktree
			// gone wrong); the branch tip is still kept, as a backup.
			risk = &workspace.WorkAtRiskError{Reason: fmt.Sprintf("could not be checked for work at risk (%v)", err)}
		}
		if !opts.DryRun {
			if kept, err = keepBackup(ctx, s, m, risk.Reason); err != nil {
				s.Reporter().Warn(fmt.Sprintf("rm %s: no backup of its work kept: %v", m.Name, err))
			}
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
	switch {
	case kept != nil && opts.Kept != nil:
		opts.Kept(*kept)
	case kept != nil:
		s.Reporter().Warn(kept.Restore(m.Name))
	}
	return nil
}

// Restore says what was kept and how to get it back.
func (b Backup) Restore(loop string) string {
	return fmt.Sprintf("loop %s %s: kept as %s (%s); restore with: git branch %s %s", loop, b.Reason, b.Ref, workspace.ShortSHA(b.SHA), loop, b.Ref)
}

// keepBackup saves what a forced rm would lose under refs/loop-removed/:
// the branch tip, with the uncommitted changes (the sealed sandbox's last
// snapshot, or the worktree's files) as a commit on top when there are
// any. Like review discard's refs/loop-discarded/, it is a plain ref: "git
// branch NAME REF" restores it, and deleting it lets gc reclaim the work.
func keepBackup(ctx context.Context, s *workspace.Workspace, m *state.Meta, reason string) (*Backup, error) {
	tip, exists, err := s.RefSHA(ctx, m.Branch)
	if err != nil || !exists {
		return nil, err
	}
	sha := tip
	if m.Sandbox.Sealed {
		if snap, ok, err := s.RefSHA(ctx, transport.SnapshotQuarantine(m.Name)); err != nil {
			return nil, err
		} else if ok {
			sha = snap
		}
	} else if dirty, err := s.DirtyFiles(ctx, m.Worktree); err == nil && len(dirty) > 0 {
		if c, err := commitWorktree(ctx, s, m, tip); err == nil {
			sha = c
		} else {
			s.Reporter().Warn(fmt.Sprintf("rm %s: its uncommitted changes could not be kept (%v); its commits are", m.Name, err))
		}
	}
	ref := fmt.Sprintf("refs/loop-removed/%s/%d", m.Name, s.Clock().Unix())
	if err := s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: m.ShortBranch(), Args: []string{"update-ref", ref, sha, ""}}); err != nil {
		return nil, err
	}
	return &Backup{Ref: ref, SHA: sha, Reason: reason}, nil
}

// commitWorktree makes a commit of a worktree's files (untracked ones
// too) on top of parent, through a scratch index: the worktree's own
// index and files are left as they are.
func commitWorktree(ctx context.Context, s *workspace.Workspace, m *state.Meta, parent string) (string, error) {
	f, err := os.CreateTemp(s.Repo.StateDir(), "rm-index-")
	if err != nil {
		return "", err
	}
	index := f.Name()
	f.Close()
	defer os.Remove(index)
	env := []string{"GIT_INDEX_FILE=" + index}
	label := m.ShortBranch()
	if err := s.Git.Run(ctx, git.Cmd{Dir: m.Worktree, Label: label, Env: env, Args: []string{"read-tree", parent}}); err != nil {
		return "", err
	}
	if err := s.Git.Run(ctx, git.Cmd{Dir: m.Worktree, Label: label, Env: env, Args: []string{"add", "-A"}}); err != nil {
		return "", err
	}
	tree, err := s.Git.Output(ctx, git.Cmd{Dir: m.Worktree, Label: label, Env: env, Args: []string{"write-tree"}})
	if err != nil {
		return "", err
	}
	out, err := s.Git.Output(ctx, git.Cmd{Dir: m.Worktree, Label: label, Args: []string{"commit-tree", strings.TrimSpace(string(tree)), "-p", parent, "-m", "git loop rm --force: uncommitted changes of " + m.Name}})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// checkNoWorkAtRisk refuses when the loop has commits reachable neither
// from its base nor from any remote, or uncommitted changes.
func checkNoWorkAtRisk(ctx context.Context, s *workspace.Workspace, m *state.Meta) error {
	hint := fmt.Sprintf("land it first (merge %s) or use --force", m.ShortBranch())
	if m.Sandbox.Sealed {
		// Its work is on the host now (fetched just before): promote it,
		// or keep the branch, which rm deletes.
		hint = fmt.Sprintf("run \"git loop promote %s\", or keep it with \"git branch NAME %s\", or use --force", m.Name, m.ShortBranch())
	}
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
	// The record of a code proposal (land.ProposalRef) goes with the loop.
	proposed := "refs/loop-proposed/code/" + in.Loop
	if _, exists, err := s.RefSHA(ctx, proposed); err == nil && exists {
		if err := s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: workspace.ShortRef(in.Branch), Args: []string{"update-ref", "-d", proposed}}); err != nil {
			return err
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
