package transport

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestExecWrapSnapshot runs a sealed exec's wrapper as the sandbox does
// (sh and git, here on a local clone): whatever the command leaves
// uncommitted is on the snapshot ref when the wrapper exits, through each
// path of its snapshot (a clean tree, new work, work that did not change,
// work changed in a file already modified, a new untracked file, a commit
// under unchanged work, back to clean), and the command's exit code is
// the wrapper's. An exec that changes nothing leaves the ref as it was,
// not rewritten.
func TestExecWrapSnapshot(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	ref := filepath.Join(repo, ".git", filepath.FromSlash(SnapshotRef))
	run := func(script string, wantCode int) {
		t.Helper()
		argv := WrapExec(repo, MissingQuiet, []string{"sh", "-c", script})
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("wrapper: %v", err)
		}
		if code != wantCode {
			t.Fatalf("wrapper of %q exited %d, want %d (%s)", script, code, wantCode, out)
		}
	}
	snapshot := func() string {
		t.Helper()
		return gittest.Git(t, repo, "for-each-ref", "--format=%(objectname)", SnapshotRef)
	}
	// holds says the snapshot is a commit on HEAD with exactly the
	// working tree's files (tracked and untracked, as "git add -A" sees
	// them).
	holds := func(why string) string {
		t.Helper()
		snap := snapshot()
		if snap == "" {
			t.Fatalf("%s: no snapshot", why)
		}
		if got, want := gittest.Git(t, repo, "rev-parse", snap+"^"), gittest.Git(t, repo, "rev-parse", "HEAD"); got != want {
			t.Errorf("%s: the snapshot's parent is %s, want HEAD %s", why, got, want)
		}
		idx := filepath.Join(t.TempDir(), "index")
		add := exec.Command("sh", "-c", `cp .git/index "$1" && GIT_INDEX_FILE="$1" git add -A && GIT_INDEX_FILE="$1" git write-tree`, "sh", idx)
		add.Dir = repo
		want, err := add.Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := gittest.Git(t, repo, "rev-parse", snap+"^{tree}"); got != strings.TrimSpace(string(want)) {
			t.Errorf("%s: the snapshot's tree is %s, want the working tree's %s", why, got, want)
		}
		return snap
	}

	run("exit 0", 0)
	if snap := snapshot(); snap != "" {
		t.Fatalf("a clean tree has a snapshot: %s", snap)
	}
	run("echo wip >> README.md; exit 3", 3)
	first := holds("new work")
	before, err := os.Lstat(ref)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	run("true", 0)
	if after, err := os.Lstat(ref); err != nil || !after.ModTime().Equal(before.ModTime()) || snapshot() != first {
		t.Errorf("an exec that changed nothing rewrote the snapshot ref (%v)", err)
	}
	// The same file, modified again: status reads as before, the
	// snapshot must not.
	run("echo more >> README.md", 0)
	second := holds("a modified file changed again")
	if second == first {
		t.Error("the snapshot did not move when a modified file changed again")
	}
	run("echo new > untracked.txt", 0)
	third := holds("a new untracked file")
	if third == second {
		t.Error("the snapshot did not move for a new untracked file")
	}
	// A commit of something else under the same work: a new parent.
	run("echo c > committed.txt && git add committed.txt && git commit -qm c", 0)
	holds("a commit under unchanged work")
	run("git add -A && git commit -qm all", 0)
	if snap := snapshot(); snap != "" {
		t.Errorf("the snapshot is still there once everything is committed: %s", snap)
	}
	// Uncommitted work that only stages what HEAD has: no snapshot.
	run("echo x > x.txt; rm x.txt", 0)
	if snap := snapshot(); snap != "" {
		t.Errorf("a tree that matches HEAD has a snapshot: %s", snap)
	}
	// A snapshot planted with HEAD's tree while the tree differs: replaced.
	run("echo wip2 >> README.md", 0)
	holds("work again")
	gittest.Git(t, repo, "update-ref", SnapshotRef, "HEAD")
	run("true", 0)
	holds("a planted snapshot")
	// Not clean (README.md out of the index), yet "git add -A" gives
	// HEAD's tree: the snapshot goes.
	run("git checkout -q README.md && git rm -q --cached README.md", 0)
	if snap := snapshot(); snap != "" {
		t.Errorf("a tree that adds up to HEAD's has a snapshot: %s", snap)
	}
}
