package newcmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestWorktreeIncludeDestinationSymlinks: the new worktree is checked out
// from another commit than the one the files are copied from, and there
// a directory and a file that .worktreeinclude names are tracked symlinks
// pointing outside the worktree. The copy must not write through them.
func TestWorktreeIncludeDestinationSymlinks(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	outside := t.TempDir()
	gittest.WriteFile(t, repo, ".worktreeinclude", ".env\nconfig/*.local\n")
	gittest.WriteFile(t, repo, "config/.gitignore", "*.local\n")
	gittest.Commit(t, repo, "include list")

	// Branch "linked": config is a symlink to a directory outside, and .env
	// a symlink to a file outside.
	gittest.Git(t, repo, "checkout", "-q", "-b", "linked")
	gittest.Git(t, repo, "rm", "-q", "-r", "config")
	if err := os.Symlink(outside, filepath.Join(repo, "config")); err != nil {
		t.Fatal(err)
	}
	outsideEnv := filepath.Join(outside, "env")
	if err := os.Symlink(outsideEnv, filepath.Join(repo, ".env")); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, repo, "add", "-f", "config", ".env")
	gittest.Git(t, repo, "commit", "-qm", "config and .env live elsewhere")
	gittest.Git(t, repo, "checkout", "-q", "main")

	// In the worktree the loop is made from, both are plain ignored files.
	gittest.WriteFile(t, repo, "config/db.local", "secret db\n")
	gittest.WriteFile(t, repo, ".env", "TOKEN=abc\n")

	r := cmdtest.MustRun(t, repo, "new", "dest", "--base", "linked", "--driver", "none", "-d")
	wt := strings.TrimSpace(r.Stdout)

	if ents, err := os.ReadDir(outside); err != nil || len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the copy wrote outside the worktree, into %s: %v %v", outside, names, err)
	}
	for _, rel := range []string{"config", ".env"} {
		if fi, err := os.Lstat(filepath.Join(wt, rel)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s in the new worktree is no longer the tracked symlink: %v %v", rel, fi, err)
		}
	}
	for _, rel := range []string{"config/db.local", ".env"} {
		if !strings.Contains(r.Stderr, rel+": not copied") {
			t.Errorf("no warning that %s was not copied:\n%s", rel, r.Stderr)
		}
	}
	// What the copy left alone in the source is intact.
	if b, err := os.ReadFile(filepath.Join(repo, "config", "db.local")); err != nil || string(b) != "secret db\n" {
		t.Errorf("source config/db.local: %q %v", b, err)
	}
}
