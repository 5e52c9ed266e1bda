package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// adoptLockWait bounds how long the post-checkout hook waits for another
// git loop command: a checkout must not hang on it (doctor --fix adopts
// later).
const adoptLockWait = 10 * time.Second

// Adopt makes the worktree at dir, created by plain git on a loop branch
// ("git worktree add -b loop/x PATH"), a loop: the record, the context
// (from the cached clones: no network in a checkout), the agent dir, the
// sandbox home and the toolchain (which mise may download); and, when
// loop.autostart is true, its sandbox. A
// worktree that is not on a loop branch, or already a loop, is left alone
// (nil, nil). The worktree and branch are the user's: an interrupted or
// failed adoption undoes only what it added.
func Adopt(ctx context.Context, s *workspace.Workspace, dir string) (*state.Meta, error) {
	top, err := s.Query.Line(ctx, git.Cmd{Dir: dir, Args: []string{"rev-parse", "--show-toplevel", "--symbolic-full-name", "HEAD"}})
	if err != nil {
		return nil, fmt.Errorf("adopt %s: %w", dir, err)
	}
	wt, ref, _ := strings.Cut(top, "\n")
	prefix := "refs/heads/" + s.Config.BranchPrefix()
	name, ok := strings.CutPrefix(ref, prefix)
	if !ok {
		return nil, nil
	}
	if err := workspace.ValidateName(name, s.Config.BranchPrefix()); err != nil {
		return nil, fmt.Errorf("adopt %s: %w", ref, err)
	}
	if s.LockWait == 0 {
		s.LockWait = adoptLockWait
	}
	l, err := Lock(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("adopt %s: %w", name, err)
	}
	defer s.Unlock(l)
	if m, err := s.Store().ReadMeta(name); err == nil {
		if workspace.Canonical(m.Worktree) == workspace.Canonical(wt) {
			return nil, nil // git loop's own, or adopted before
		}
		return nil, fmt.Errorf("adopt %s: loop %q already exists with its worktree at %s", wt, name, m.Worktree)
	} else if !workspace.IsNoLoop(err) {
		return nil, err
	}

	baseName, baseRef, baseSHA := adoptBase(ctx, s, ref)
	m := &state.Meta{
		Name: name, Branch: ref, Base: baseName, BaseRef: baseRef, BaseSHA: baseSHA,
		Created: s.Clock().UTC().Truncate(time.Second), Worktree: filepath.Clean(wt),
		Vault:    s.Config.VaultDefault(),
		Profiles: dedup(s.Config.GetList("default_profiles")),
	}
	eng, err := s.OpenEngine(ctx, s.Config.SandboxDriver())
	if err != nil {
		return nil, fmt.Errorf("adopt %s: %w", name, err)
	}
	m.Sandbox.Driver = eng.Name()
	if m.Sandbox.Driver == "docker" {
		m.Sandbox.Image = s.Config.SandboxImage()
		m.Sandbox.Ports = s.Config.Ports()
	}
	cws, err := contexts.Plan(ctx, s, name, contexts.ContextCached)
	if err != nil {
		return nil, fmt.Errorf("adopt %s: %w", name, err)
	}
	contexts.Own(cws, m.Sandbox.Driver)
	m.Contexts, m.Versions = cws, contexts.Versions(s, cws)
	intent := state.Intent{Op: "adopt", Loop: name, Branch: ref, Worktree: m.Worktree, Driver: m.Sandbox.Driver, Contexts: cws}
	if err := s.Store().BeginIntent(intent); err != nil {
		return nil, fmt.Errorf("adopt %s: %w", name, err)
	}
	err = furnish(ctx, s, m, "")
	if err == nil {
		// The toolchain the tiers declare, built or reused as new does; a
		// tool that cannot be installed undoes the adoption, naming it,
		// and "git loop doctor --fix" adopts the worktree again once the
		// tier is fixed.
		err = sandboxspec.EnsureToolchain(ctx, s, eng, m)
	}
	if err == nil {
		err = s.Store().WriteMeta(m)
	}
	if err != nil {
		if uerr := undoAdopt(context.WithoutCancel(ctx), s, intent); uerr != nil {
			s.Reporter().Warn(fmt.Sprintf("could not undo the adoption of %q: %v (run \"git loop doctor --fix\")", name, uerr))
		}
		return nil, fmt.Errorf("adopt %s: %w", name, err)
	}
	if err := s.Store().EndIntent(name); err != nil {
		return nil, fmt.Errorf("adopt %s: %w", name, err)
	}
	if s.Config.Bool("autostart") {
		if _, err := Start(ctx, s, name); err != nil {
			return m, fmt.Errorf("loop %s was adopted, but its sandbox did not start: %w (run \"git loop start %s\")", name, err, name)
		}
	}
	return m, nil
}

// adoptBase picks the base of an adopted loop: the base setting, else the
// main worktree's branch (where "git worktree add" was most likely typed),
// else main or master; the loop starts at its merge base with the branch.
func adoptBase(ctx context.Context, s *workspace.Workspace, branch string) (name, ref, sha string) {
	ref = s.Config.Base()
	if ref != "" && !strings.HasPrefix(ref, "refs/") {
		if _, found, _ := workspace.ReadRef(s.Repo.CommonDir, "refs/heads/"+ref); found {
			ref = "refs/heads/" + ref
		}
	}
	if ref == "" {
		if head, _, ok := workspace.ReadHead(s.Repo.CommonDir, s.Repo.CommonDir); ok && head != branch && !strings.HasPrefix(head, "refs/heads/"+s.Config.BranchPrefix()) {
			ref = head
		}
	}
	for _, c := range []string{"refs/heads/main", "refs/heads/master"} {
		if ref != "" {
			break
		}
		if _, found, _ := workspace.ReadRef(s.Repo.CommonDir, c); found {
			ref = c
		}
	}
	if ref == "" {
		sha, _ = s.Query.Line(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"rev-parse", "--verify", "--quiet", branch}})
		return "HEAD", "", sha
	}
	sha, err := s.Query.Line(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"merge-base", branch, ref}})
	if err != nil || sha == "" {
		sha, _ = s.Query.Line(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"rev-parse", "--verify", "--quiet", branch}})
	}
	if !strings.HasPrefix(ref, "refs/") {
		return ref, "", sha // a tag or sha from the base setting, taken as is
	}
	return workspace.ShortRef(ref), ref, sha
}

// undoAdopt removes what an interrupted Adopt added; the worktree and the
// branch were there before it and stay.
func undoAdopt(ctx context.Context, s *workspace.Workspace, in state.Intent) error {
	if _, err := s.Store().ReadMeta(in.Loop); err == nil {
		return s.Store().EndIntent(in.Loop)
	}
	if err := contexts.Remove(ctx, s, in.Contexts, true); err != nil {
		return err
	}
	// Keeping the worktree: at the default place it is inside the loop
	// dir, and it was the user's before the adoption.
	if err := s.Store().RemoveLoopDirKeeping(in.Loop, in.Worktree); err != nil {
		return err
	}
	return s.Store().EndIntent(in.Loop)
}

// Unadopted lists the worktrees on loop branches that are not loops: made
// by plain git while the hooks were off, or whose adoption failed.
func Unadopted(ctx context.Context, s *workspace.Workspace) ([]string, error) {
	out, err := s.Query.Output(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"worktree", "list", "--porcelain", "-z"}})
	if err != nil {
		return nil, err
	}
	prefix := "refs/heads/" + s.Config.BranchPrefix()
	var found []string
	wt := ""
	for _, f := range strings.Split(string(out), "\x00") {
		switch {
		case strings.HasPrefix(f, "worktree "):
			wt = strings.TrimPrefix(f, "worktree ")
		case strings.HasPrefix(f, "branch "+prefix):
			name := strings.TrimPrefix(f, "branch "+prefix)
			if workspace.ValidateName(name, s.Config.BranchPrefix()) != nil {
				continue
			}
			// Anything but a readable record is unfinished (an adoption
			// that failed may have left a broken one).
			if _, err := s.Store().ReadMeta(name); err != nil && workspace.Exists(wt) {
				found = append(found, wt)
			}
		}
	}
	return found, nil
}

// adoptAll is doctor --fix's half of adoption.
func AdoptAll(ctx context.Context, s *workspace.Workspace, dirs []string) (int, error) {
	n := 0
	var errs []error
	for _, d := range dirs {
		m, err := Adopt(ctx, s, d)
		if m != nil {
			n++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}
