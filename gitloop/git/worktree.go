package git

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// NewWorktree is "git worktree add --no-track -b Branch Path Start".
type NewWorktree struct {
	CommonDir string // the repository's common git dir
	Path      string // the new worktree: absent or an empty directory
	Branch    string // short name of the branch to create
	Start     string // the commit it starts from, as a sha: a name would be resolved in the new worktree
	Label     string // prefixes the logged line
	// ID names the worktree's admin dir ($GIT_COMMON_DIR/worktrees/ID;
	// git takes Path's base name), with a number added when taken.
	ID string
	// Direct allows writing the admin files here, which the caller has
	// found safe for this repository (see AddWorktree). False runs git's
	// own "worktree add".
	Direct bool
}

// Cmd is the "git worktree add" this worktree is: what the log and
// --dry-run show, and what runs when it cannot be made directly.
func (w NewWorktree) Cmd() Cmd {
	return Cmd{Dir: w.CommonDir, Label: w.Label, Args: []string{"worktree", "add", "--no-track", "-b", w.Branch, w.Path, w.Start}}
}

// StartWorktree starts creating the worktree w and returns the wait for
// it; the caller may do other work meanwhile.
//
// git's "worktree add -b" runs three more gits ("branch", "symbolic-ref",
// "reset --hard"): over half its time is starting processes. With Direct,
// the admin dir is written here exactly as git writes it (the layout git
// has read since 2.5: HEAD, commondir, gitdir, locked while it is made,
// an empty refs/, and the worktree's .git file), and one "git checkout -b" in the new
// worktree creates the branch, populates the worktree and the index, and
// runs the post-checkout hook with the arguments worktree add gives it
// (null sha, commit, 1): a checkout from an unborn branch. The log and
// --dry-run show the equivalent "git worktree add". Direct is the
// WorktreeAdd shortcut (shortcuts.go).
func (r *Runner) StartWorktree(ctx context.Context, w NewWorktree) (wait func() error) {
	if !w.Direct || r.DryRun {
		return r.Start(ctx, w.Cmd())
	}
	if registered, err := worktreeRegistered(w.CommonDir, w.Path); err != nil || registered {
		// git's own add says what to do about a stale registration.
		return r.Start(ctx, w.Cmd())
	}
	if r.Log != nil {
		fmt.Fprintln(r.Log, w.Cmd().String())
	}
	admin, err := w.register()
	if err != nil {
		if admin != "" {
			_ = os.RemoveAll(admin)
		}
		_ = os.Remove(filepath.Join(w.Path, ".git"))
		_ = os.Remove(w.Path) // only if empty: it was, or was not there
		return func() error { return fmt.Errorf("worktree add %s: %w", w.Path, err) }
	}
	checkout := Cmd{Dir: w.Path, Label: w.Label, Args: []string{"checkout", "-q", "--no-track", "--no-recurse-submodules", "-b", w.Branch, w.Start}}
	done := start(ctx, checkout, nil, r.Inherit)
	return func() error {
		if err := done(); err != nil {
			// As git's add does with a failed checkout, nothing of the
			// worktree is left. (checkout makes the branch after the
			// files; if only the post-checkout hook failed, the branch is
			// there, and the caller's undo deletes it.)
			_ = os.RemoveAll(w.Path)
			_ = os.RemoveAll(admin)
			return err
		}
		if err := os.Remove(filepath.Join(admin, "locked")); err != nil {
			return fmt.Errorf("worktree add %s: %w", w.Path, err)
		}
		return nil
	}
}

// register writes the worktree's admin dir and .git file, in an order
// where each point a kill can stop at is one an undo cleans: until the
// gitdir file is written git does not see the worktree, and the admin dir
// is known by its lock reason (UnlockAbandonedWorktrees).
func (w NewWorktree) register() (admin string, err error) {
	common, err := filepath.EvalSymlinks(w.CommonDir)
	if err != nil {
		return "", err
	}
	if admin, err = reserveAdminDir(filepath.Join(common, "worktrees"), w.ID); err != nil {
		return "", err
	}
	files := []struct{ path, data string }{
		{filepath.Join(admin, "locked"), unfinishedReason(w.Path)},
		{filepath.Join(admin, "HEAD"), "ref: refs/heads/" + w.Branch + "\n"},
		{filepath.Join(admin, "commondir"), "../..\n"},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, []byte(f.data), 0o666); err != nil {
			return admin, err
		}
	}
	// The worktree's own refs (refs/bisect, refs/worktree): git 2.47's
	// add makes the directory, empty; 2.39's makes it when first needed.
	if err := os.Mkdir(filepath.Join(admin, "refs"), 0o777); err != nil {
		return admin, err
	}
	if err := os.MkdirAll(w.Path, 0o777); err != nil {
		return admin, err
	}
	real, err := filepath.EvalSymlinks(w.Path)
	if err != nil {
		return admin, err
	}
	if err := os.WriteFile(filepath.Join(w.Path, ".git"), []byte("gitdir: "+admin+"\n"), 0o666); err != nil {
		return admin, err
	}
	return admin, os.WriteFile(filepath.Join(admin, "gitdir"), []byte(filepath.Join(real, ".git")+"\n"), 0o666)
}

// reserveAdminDir creates dir/id, or dir/id1, dir/id2… when taken, as git
// names worktree admin dirs.
func reserveAdminDir(dir, id string) (string, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", err
	}
	for n := 0; ; n++ {
		p := filepath.Join(dir, id)
		if n > 0 {
			p += fmt.Sprint(n)
		}
		err := os.Mkdir(p, 0o777)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) || n > 10000 {
			return "", err
		}
	}
}

// worktreeRegistered reports whether an admin dir of the repository names
// path as its worktree (present or not), as "git worktree add" checks.
func worktreeRegistered(commonDir, path string) (bool, error) {
	entries, err := os.ReadDir(filepath.Join(commonDir, "worktrees"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	want := filepath.Clean(path)
	real := want
	if r, err := filepath.EvalSymlinks(path); err == nil {
		real = r
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(commonDir, "worktrees", e.Name(), "gitdir"))
		if err != nil {
			continue
		}
		wt := filepath.Dir(strings.TrimSpace(string(data)))
		if wt == want || wt == real {
			return true, nil
		}
	}
	return false, nil
}

// unfinishedReason is the lock reason of an admin dir StartWorktree is
// writing: "git worktree list" shows it, and an undo finds it by it.
func unfinishedReason(path string) string { return "initializing " + path }

// UnlockAbandonedWorktrees readies the repository's worktree records for
// "git worktree prune", which keeps every locked one: it unlocks the
// records whose worktree directory is gone (a "git worktree add" killed
// while it held its "initializing" lock leaves one), and removes the admin
// dir a killed StartWorktree left for path before git could see it (locked
// with its reason, no gitdir file).
func UnlockAbandonedWorktrees(commonDir, path string) error {
	dir := filepath.Join(commonDir, "worktrees")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	reason := unfinishedReason(path)
	for _, e := range entries {
		admin := filepath.Join(dir, e.Name())
		gitdir, err := os.ReadFile(filepath.Join(admin, "gitdir"))
		if err == nil {
			wt := filepath.Dir(strings.TrimSpace(string(gitdir)))
			if _, err := os.Stat(wt); errors.Is(err, fs.ErrNotExist) {
				_ = os.Remove(filepath.Join(admin, "locked"))
			}
			continue
		}
		if locked, err := os.ReadFile(filepath.Join(admin, "locked")); err == nil && string(locked) == reason {
			if err := os.RemoveAll(admin); err != nil {
				return fmt.Errorf("remove unfinished worktree %s: %w", admin, err)
			}
		}
	}
	return nil
}
