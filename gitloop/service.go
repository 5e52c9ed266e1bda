// Package gitloop is the domain of git loop: loops as branches, worktrees,
// state and sandboxes, and the operations on them. It never touches the
// terminal: progress goes through the Progress interface and mutating git
// commands through a git.Runner whose log the caller chooses.
package gitloop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// Progress receives what a long operation is doing. Implementations render
// it (the command line: on stderr, on a TTY); the zero Service uses
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

// Service runs loop operations on one repository.
type Service struct {
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

	excludesOnce     sync.Once
	excludes         string
	statusRacyWindow time.Duration // tests shorten it
}

func (s *Service) progress() Progress {
	if s.Progress == nil {
		return NoProgress{}
	}
	return s.Progress
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) store() state.Store { return s.Repo.Store() }

// lock takes the state lock and finishes or undoes whatever an earlier,
// interrupted command left behind.
func (s *Service) lock(ctx context.Context) (*state.Lock, error) {
	wait := s.LockWait
	if wait == 0 {
		wait = 2 * time.Minute
	}
	l, err := s.store().Lock(ctx, wait)
	if err != nil {
		return nil, err
	}
	s.Git.Inherit = []*os.File{l.File()}
	if err := s.recoverLocked(ctx); err != nil {
		s.unlock(l)
		return nil, err
	}
	return l, nil
}

func (s *Service) unlock(l *state.Lock) {
	s.Git.Inherit = nil
	l.Unlock()
}

// BranchRef is the full ref of a loop's branch.
func (s *Service) BranchRef(name string) string {
	return "refs/heads/" + s.Config.BranchPrefix() + name
}

// WorktreePath is where a new loop's worktree goes: loop.worktreeDir/NAME
// (relative to the main worktree) or the loop's state dir.
func (s *Service) WorktreePath(name string) string {
	dir := s.Config.WorktreeDir()
	if dir == "" {
		return filepath.Join(s.store().LoopDir(name), "workdir")
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
func (s *Service) Get(name string) (*state.Meta, error) {
	m, err := s.store().ReadMeta(name)
	if err != nil {
		if isNoLoop(err) {
			return nil, &NotFoundError{Loop: name}
		}
		return nil, err
	}
	return m, nil
}

// Names lists the loops' names (for completion).
func (s *Service) Names() []string {
	metas, _ := s.store().List()
	names := make([]string, len(metas))
	for i, m := range metas {
		names[i] = m.Name
	}
	return names
}

// Spec is the sandbox spec of a loop, with the mount table of DESIGN.md §5.
func (s *Service) Spec(m *state.Meta) (sandbox.Spec, error) {
	id, err := s.Repo.WorkspaceID()
	if err != nil {
		return sandbox.Spec{}, err
	}
	loopDir := s.store().LoopDir(m.Name)
	home := s.HomeDir(m.Name)
	spec := sandbox.Spec{
		Workspace: id,
		Loop:      m.Name,
		Image:     m.Sandbox.Image,
		Workdir:   m.Worktree,
		Home:      home,
		Vault:     m.Vault,
		Mounts: append([]sandbox.Mount{
			{Source: m.Worktree, Target: m.Worktree},
			// Every other loop's state is hidden under a tmpfs, and this
			// loop's own entries are bound back on top of it.
			{Target: s.Repo.StateDir(), Tmpfs: true},
			{Source: loopDir, Target: loopDir},
		}, gitDirMounts(s.Repo.CommonDir, m.Worktree)...),
		User: fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
		Env: map[string]string{
			"GIT_LOOP_NAME":    m.Name,
			"GIT_LOOP_WORKDIR": m.Worktree,
			"GIT_LOOP_BRANCH":  m.ShortBranch(),
		},
	}
	spec.Env["GIT_LOOP_AGENT_DIR"] = s.AgentDir(m.Name)
	for _, c := range m.Contexts {
		// The context worktree lives in the loop dir; git inside it needs
		// its clone's git dir.
		spec.Mounts = append(spec.Mounts, gitDirMounts(c.Clone+"/.git", c.Dir)...)
		spec.Env["GIT_LOOP_"+strings.ToUpper(c.Layer)] = c.Dir
	}
	if clone, err := s.LayerClone(Personal); err == nil && len(m.Contexts) > 0 {
		spec.Env["GIT_LOOP_PERSONAL"] = clone
		if mem := clone + "/memory"; exists(mem) {
			// Only memory/: never the personal repo's .git, git-crypt key
			// or vaults.
			spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: mem, Target: mem})
		}
	}
	for _, clone := range m.Repos {
		spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: clone, Target: clone, ReadOnly: true})
	}
	// The agent program, read-only at its host path (see agentMounts).
	spec.Mounts = append(spec.Mounts, s.agentMounts(m)...)
	s.hookSandbox(m, &spec)
	for _, p := range m.Sandbox.Ports {
		spec.Ports = append(spec.Ports, sandbox.Port{Host: p[0], Container: p[1]})
	}
	// The selected vault's mounts/home entries, read-only at $HOME (see
	// vaultloop.go; values and env come per exec from deliverVault).
	s.vaultMounts(m, &spec)
	return spec, nil
}

// gitDirMounts exposes a repository's git dir to the sandbox so git works
// in the given worktree, without handing the sandbox a way to run commands
// on the host: git on the host reads the repository's config (fsmonitor,
// hooksPath, aliases…) and runs its hooks, so both are read-only inside,
// and the other worktrees' admin dirs (their HEAD and index) are hidden.
func gitDirMounts(gitDir, worktree string) []sandbox.Mount {
	hooks := filepath.Join(gitDir, "hooks")
	// A missing hooks dir could be created inside, and git would run what
	// it holds: make it exist so it can be bound read-only.
	_ = os.MkdirAll(hooks, 0o755)
	mounts := []sandbox.Mount{
		{Source: gitDir, Target: gitDir},
		{Source: filepath.Join(gitDir, "config"), Target: filepath.Join(gitDir, "config"), ReadOnly: true},
		{Source: hooks, Target: hooks, ReadOnly: true},
	}
	if admin := worktreeAdminDir(worktree); admin != "" && filepath.Dir(admin) == filepath.Join(gitDir, "worktrees") {
		mounts = append(mounts,
			sandbox.Mount{Target: filepath.Join(gitDir, "worktrees"), Tmpfs: true},
			sandbox.Mount{Source: admin, Target: admin})
	}
	return mounts
}

// worktreeAdminDir is the git dir of a linked worktree ("" when unknown).
func worktreeAdminDir(worktree string) string {
	data, err := os.ReadFile(filepath.Join(worktree, ".git"))
	if err != nil {
		return ""
	}
	dir, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "gitdir: ")
	if !ok {
		return ""
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(worktree, dir)
	}
	return filepath.Clean(dir)
}

func (s *Service) engine(ctx context.Context, driver string) (sandbox.Engine, error) {
	if s.Engine == nil {
		return nil, fmt.Errorf("no sandbox drivers configured")
	}
	return s.Engine(ctx, driver)
}
