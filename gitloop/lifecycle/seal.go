package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// Sealing converts a loop made unsealed (a host worktree its sandbox
// shares with the host's git) into a sealed one: a clone of its own, seeded
// at the branch's tip, holding the worktree's files as they are. Its
// committed work is the branch, which stays; its uncommitted work is the
// worktree's files, carried into the clone as files (no git ever runs in
// the old worktree: its .git is the sandbox's to write), so it comes back
// as the snapshot at the next fetch. What was staged stays staged: the
// old index is carried over as data (keepIndex).
//
// The record is the commit point: until it says sealed, the old worktree
// is untouched and an interruption is undone (the half clone dropped);
// once it does, an interruption is finished (the old worktree removed).

// Unsealed lists the loops whose sandbox could own a clone (docker,
// bwrap) but shares a worktree with the host: "git loop doctor --fix"
// seals them.
func Unsealed(s *workspace.Workspace) []string {
	metas, _ := s.Store().List()
	var names []string
	for _, m := range metas {
		if sealable(m) {
			names = append(names, m.Name)
		}
	}
	return names
}

func sealable(m *state.Meta) bool {
	return !m.Sandbox.Sealed && (m.Sandbox.Driver == "docker" || m.Sandbox.Driver == "bwrap")
}

// SealError says why a loop cannot be sealed now, and what to do.
type SealError struct {
	Loop, Reason, Hint string
}

func (e *SealError) Error() string {
	return fmt.Sprintf("cannot seal loop %s: %s; %s", e.Loop, e.Reason, e.Hint)
}

// Seal converts the unsealed loop name into a sealed one (see above). It
// refuses, changing nothing, while the loop's sandbox runs or its
// worktree is not on its branch or is mid-merge. Sealing a sealed loop
// does nothing.
func Seal(ctx context.Context, s *workspace.Workspace, name string) error {
	l, err := Lock(ctx, s)
	if err != nil {
		return fmt.Errorf("seal %s: %w", name, err)
	}
	defer s.Unlock(l)
	m, err := s.Get(name)
	if err != nil {
		return err
	}
	if m.Sandbox.Sealed {
		return nil
	}
	if !sealable(m) {
		return &SealError{Loop: name, Reason: "its driver is " + m.Sandbox.Driver + ", which runs on the host", Hint: "only docker and bwrap loops are sealed"}
	}
	if err := checkSealable(ctx, s, m); err != nil {
		return err
	}
	sha, ok, err := s.RefSHA(ctx, m.Branch)
	if err != nil {
		return fmt.Errorf("seal %s: %w", name, err)
	}
	if !ok {
		return &SealError{Loop: name, Reason: "its branch " + m.ShortBranch() + " is gone", Hint: "run \"git loop prune\""}
	}
	in := state.Intent{Op: "seal", Loop: m.Name, Branch: m.Branch, Worktree: m.Worktree, Driver: m.Sandbox.Driver}
	if err := s.Store().BeginIntent(in); err != nil {
		return fmt.Errorf("seal %s: %w", name, err)
	}
	s.Reporter().Step(fmt.Sprintf("sealing loop %s: its sandbox gets a clone of its own", name))
	undo := func(err error) error {
		if uerr := finishSeal(context.WithoutCancel(ctx), s, in); uerr != nil {
			s.Reporter().Warn(fmt.Sprintf("could not undo sealing loop %s: %v (run \"git loop doctor --fix\")", name, uerr))
		}
		return fmt.Errorf("seal %s: %w", name, err)
	}
	if err := transport.Seed(ctx, s, m, sha); err != nil {
		return undo(err)
	}
	if err := mirrorFiles(m.Worktree, transport.ClonePath(s, m.Name)); err != nil {
		return undo(err)
	}
	keepIndex(ctx, s, m)
	sealed := *m
	sealed.Sandbox.Sealed = true
	sealed.Sandbox.ID, sealed.Sandbox.ConfigHash = "", ""
	if err := sandboxspec.GiveToSandbox(s, &sealed, true); err != nil {
		return undo(err)
	}
	if err := s.Store().WriteMeta(&sealed); err != nil {
		return undo(err)
	}
	if err := finishSeal(ctx, s, in); err != nil {
		return fmt.Errorf("seal %s: %w (re-run \"git loop doctor --fix\" to finish)", name, err)
	}
	return nil
}

// checkSealable refuses what sealing now could lose: a sandbox that runs
// (it would go on writing the old worktree), an agent at work, a worktree
// on another branch or mid-merge.
func checkSealable(ctx context.Context, s *workspace.Workspace, m *state.Meta) error {
	stop := fmt.Sprintf("stop it first (\"git loop stop %s\"), then run \"git loop doctor --fix\" again", m.Name)
	if m.Sandbox.Driver == "docker" {
		eng, err := s.OpenEngine(ctx, m.Sandbox.Driver)
		if err != nil {
			return &SealError{Loop: m.Name, Reason: err.Error(), Hint: "start the sandbox engine, then run \"git loop doctor --fix\" again"}
		}
		spec, err := sandboxspec.Spec(s, m)
		if err != nil {
			return err
		}
		if st, err := eng.Status(ctx, spec); err == nil && st.State == sandbox.StateRunning {
			return &SealError{Loop: m.Name, Reason: "its sandbox is running", Hint: stop}
		}
	}
	if busy, holder := agentBusy(s, m.Name); busy {
		return &SealError{Loop: m.Name, Reason: "an agent is at work in it (" + holder + ")", Hint: "let it finish or " + stop}
	}
	wts, err := worktrees(ctx, s)
	if err != nil {
		return err
	}
	head, registered := wts[filepath.Clean(m.Worktree)]
	if !registered || !workspace.Exists(m.Worktree) {
		return &SealError{Loop: m.Name, Reason: "its worktree " + m.Worktree + " is gone", Hint: "run \"git loop prune\""}
	}
	if head != m.Branch {
		on := "a detached HEAD"
		if head != "" {
			on = workspace.ShortRef(head)
		}
		return &SealError{Loop: m.Name, Reason: fmt.Sprintf("its worktree is on %s, not %s (sealing keeps the branch's commits only)", on, m.ShortBranch()), Hint: fmt.Sprintf("check out %s in it (\"git loop exec %s -- git switch %s\"), then run \"git loop doctor --fix\" again", m.ShortBranch(), m.Name, m.ShortBranch())}
	}
	if admin := adminDir(s, m.Worktree); admin != "" {
		for _, f := range []string{"MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply"} {
			if _, err := os.Lstat(filepath.Join(admin, f)); err == nil {
				return &SealError{Loop: m.Name, Reason: "its worktree is in the middle of a merge, rebase or cherry-pick", Hint: fmt.Sprintf("finish or abort it in the loop (\"git loop shell %s\"), then run \"git loop doctor --fix\" again", m.Name)}
			}
		}
	}
	return nil
}

// agentBusy reports whether a run or shell holds the loop's agent lock
// (host-only: its log dir), without waiting and without creating it.
func agentBusy(s *workspace.Workspace, name string) (bool, string) {
	path := filepath.Join(s.LogDir(name), "agent.lock")
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false, ""
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := io.ReadAll(io.LimitReader(f, 256))
		return true, strings.TrimSpace(string(b))
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, ""
}

// adminDir finds the host admin dir of the worktree at path by the gitdir
// files git keeps for each (read-only inside the sandbox), never through
// the worktree's own .git file, which the sandbox can rewrite.
func adminDir(s *workspace.Workspace, path string) string {
	dir := filepath.Join(s.Repo.CommonDir, "worktrees")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	want := filepath.Join(path, ".git")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "gitdir"))
		if err == nil && filepath.Clean(strings.TrimSpace(string(b))) == want {
			return filepath.Join(dir, e.Name())
		}
	}
	return ""
}

// finishSeal completes or undoes an interrupted Seal, by the record: a
// sealed record is finished (the old sandbox and worktree go, the mount
// point stays); an unsealed one is undone (the half clone goes, the
// worktree was never touched). Every step may run again.
func finishSeal(ctx context.Context, s *workspace.Workspace, in state.Intent) error {
	m, err := s.Store().ReadMeta(in.Loop)
	if err != nil || !m.Sandbox.Sealed {
		if err := transport.RemoveClone(s, in.Loop); err != nil {
			return err
		}
		return s.Store().EndIntent(in.Loop)
	}
	// The old sandbox mounts the old worktree: it goes, and the next exec
	// makes one on the clone (its spec's hash differs anyway).
	if err := removeSandbox(ctx, s, in.Driver, in.Loop, in.Worktree); err != nil {
		return err
	}
	if err := dropOldWorktree(ctx, s, in.Worktree, in.Branch); err != nil {
		return err
	}
	return s.Store().EndIntent(in.Loop)
}

// dropOldWorktree deletes an unsealed loop's host worktree and its git
// admin dir, leaving the path as the empty dir the sealed clone mounts on.
// No git runs in it: the dir goes first, then git prunes its registration.
func dropOldWorktree(ctx context.Context, s *workspace.Workspace, path, branch string) error {
	if entries, err := os.ReadDir(path); err == nil && len(entries) > 0 {
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("remove the old worktree %s: %w", path, err)
		}
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	if err := git.UnlockAbandonedWorktrees(s.Repo.CommonDir, path); err != nil {
		return err
	}
	return s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: workspace.ShortRef(branch), Args: []string{"worktree", "prune"}})
}

// mirrorFiles makes dst's working tree (everything but its .git) what
// src's is (everything but its .git file): what src lacks is deleted,
// regular files are hard-linked (copied across file systems), links are
// made again as links, never followed; other kinds of file are left out.
func mirrorFiles(src, dst string) error {
	entries, err := os.ReadDir(dst)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == ".git" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if rel == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		to := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			return os.Mkdir(to, fi.Mode().Perm()|0o700)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case fi.Mode().IsRegular():
			if os.Getuid() == 0 {
				// Copied: the clone is given to the sandbox's user, and
				// a link would give the old worktree's inode (perhaps a
				// host file the root sandbox linked there) with it.
				return copyRegular(p, to, fi.Mode().Perm())
			}
			if err := os.Link(p, to); err == nil {
				return nil
			} else if !errors.Is(err, syscall.EXDEV) && !errors.Is(err, syscall.EPERM) {
				return err
			}
			return copyRegular(p, to, fi.Mode().Perm())
		}
		return nil
	})
}

func copyRegular(src, dst string, perm fs.FileMode) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// maxIndex bounds the old index keepIndex carries over.
const maxIndex = 256 << 20

// keepIndex carries an unsealed loop's index (what was staged) into its
// new clone, whose seeded index would show it all unstaged. The index is
// found by the host's own admin dir (the one whose read-only gitdir file
// names the worktree, never the worktree's writable .git file), read
// without following a link, bounded, and taken only when git in the clone
// can write a tree from it (its blobs are in the object store the clone
// borrows); else the seeded index stays, and a warning says so. No git
// runs in the old worktree.
func keepIndex(ctx context.Context, s *workspace.Workspace, m *state.Meta) {
	clone := transport.ClonePath(s, m.Name)
	warn := func(why string) {
		s.Reporter().Warn(fmt.Sprintf("loop %s: its staged changes come back unstaged (%s)", m.Name, why))
	}
	admins, _ := filepath.Glob(filepath.Join(s.Repo.CommonDir, "worktrees", "*", "gitdir"))
	admin := ""
	for _, g := range admins {
		data, err := readBounded(g, 4096)
		if err == nil && filepath.Clean(strings.TrimSpace(string(data))) == filepath.Join(m.Worktree, ".git") {
			admin = filepath.Dir(g)
			break
		}
	}
	if admin == "" {
		return // no admin dir, no index to keep
	}
	data, err := readBounded(filepath.Join(admin, "index"), maxIndex)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		warn(err.Error())
		return
	}
	tmp := filepath.Join(clone, ".git", "index.sealing")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		warn(err.Error())
		return
	}
	defer os.Remove(tmp)
	// The clone is the host's still (the sandbox has not run on it).
	if err := s.Git.Run(ctx, git.Cmd{Dir: clone, Label: m.ShortBranch(), Env: []string{"GIT_INDEX_FILE=" + tmp}, Args: []string{"write-tree"}}); err != nil {
		warn("its index is not one git can use")
		return
	}
	if err := os.Rename(tmp, filepath.Join(clone, ".git", "index")); err != nil {
		warn(err.Error())
	}
}

// readBounded reads a regular file, without following a link, up to max
// bytes (more is an error).
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return data, nil
}
