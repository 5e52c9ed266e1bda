// Package workspace is the core of git loop's domain: the Workspace, a bag
// of what every operation needs (the repository, the user's dirs, the
// settings, git, the sandbox engines, progress, the clock), with loop
// paths, names, typed errors and the state lock. The operations live in
// one package per concern beside it (lifecycle, session, land, …) and take
// a *Workspace. It never touches the terminal: progress goes through the
// Progress interface and mutating git commands through a git.Runner whose
// log the caller chooses.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// Progress receives what a long operation is doing. Implementations render
// it (the command line: on stderr, on a TTY); the zero Workspace uses
// NoProgress.
type Progress interface {
	Step(msg string)
	Warn(msg string)
}

// NoProgress discards progress.
type NoProgress struct{}

func (NoProgress) Step(string) {}
func (NoProgress) Warn(string) {}

// EngineFor returns the sandbox driver named driver ("auto" resolves to
// the best available one; the returned name is the resolved driver).
type EngineFor func(ctx context.Context, driver string) (sandbox.Engine, error)

// Workspace is what the operations on one repository's loops need.
type Workspace struct {
	Repo     *Repo
	Dirs     UserDirs // the user's config and data dirs
	Config   *config.Config
	Git      *git.Runner // mutating git, logged
	Query    git.Querier // read-only git
	Engine   EngineFor
	Progress Progress
	// HookBin is the git-loop the hook shims call (empty: found by
	// HookBinary).
	HookBin string
	// LockWait bounds how long a command waits for another to finish.
	LockWait time.Duration
	// Now is the clock (tests pin it).
	Now func() time.Time

	// StatusRacyWindow is how recent a timestamp may be before the
	// status cache does not trust it (zero: a second; tests shorten it).
	StatusRacyWindow time.Duration

	excludesOnce sync.Once
	excludes     string
}

// Reporter is Progress, or NoProgress when none is set.
func (s *Workspace) Reporter() Progress {
	if s.Progress == nil {
		return NoProgress{}
	}
	return s.Progress
}

// Clock is the time now, by Now when set.
func (s *Workspace) Clock() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Store is the repository's loop state.
func (s *Workspace) Store() state.Store { return s.Repo.Store() }

// LockState takes the state lock, and hands it to the git commands run
// while it is held. It does not recover what an interrupted command left
// behind: lifecycle.Lock does.
func (s *Workspace) LockState(ctx context.Context) (*state.Lock, error) {
	l, err := s.Store().Lock(ctx, s.LockTimeout())
	if err != nil {
		return nil, err
	}
	s.Git.Inherit = []*os.File{l.File()}
	return l, nil
}

// Unlock releases the state lock taken by LockState.
func (s *Workspace) Unlock(l *state.Lock) {
	s.Git.Inherit = nil
	l.Unlock()
}

// BranchRef is the full ref of a loop's branch.
func (s *Workspace) BranchRef(name string) string {
	return "refs/heads/" + s.Config.BranchPrefix() + name
}

// WorktreePath is where a new loop's worktree goes: loop.worktreeDir/NAME
// (relative to the main worktree) or the loop's state dir.
func (s *Workspace) WorktreePath(name string) string {
	dir := s.Config.WorktreeDir()
	if dir == "" {
		return filepath.Join(s.Store().LoopDir(name), "workdir")
	}
	if !filepath.IsAbs(dir) {
		root := s.Repo.MainWorktree
		if root == "" {
			root = s.Repo.CommonDir
		}
		dir = filepath.Join(root, dir)
	}
	return filepath.Join(dir, name)
}

// Get returns a loop's record.
func (s *Workspace) Get(name string) (*state.Meta, error) {
	m, err := s.Store().ReadMeta(name)
	if err != nil {
		if IsNoLoop(err) {
			return nil, &NotFoundError{Loop: name}
		}
		return nil, err
	}
	return m, nil
}

// Names lists the loops' names (for completion).
func (s *Workspace) Names() []string {
	metas, _ := s.Store().List()
	names := make([]string, len(metas))
	for i, m := range metas {
		names[i] = m.Name
	}
	return names
}

// OpenEngine is the sandbox driver named driver (see EngineFor).
func (s *Workspace) OpenEngine(ctx context.Context, driver string) (sandbox.Engine, error) {
	if s.Engine == nil {
		return nil, fmt.Errorf("no sandbox drivers configured")
	}
	return s.Engine(ctx, driver)
}

// LoopLock is a loop's own lock, held by the operations that stop on a
// conflict and resume (promote, sync).
func (s *Workspace) LoopLock(ctx context.Context, name string) (*state.Lock, error) {
	return state.Store{Root: filepath.Join(s.Store().HostDir(name), "run")}.Lock(ctx, s.LockTimeout())
}

// LockTimeout bounds how long a command waits for another to finish.
func (s *Workspace) LockTimeout() time.Duration {
	if s.LockWait == 0 {
		return 2 * time.Minute
	}
	return s.LockWait
}

// IsNoLoop reports whether err says a loop does not exist.
func IsNoLoop(err error) bool { return errors.Is(err, state.ErrNoLoop) }
