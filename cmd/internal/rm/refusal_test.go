package rm_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// The two reasons rm refuses are tested one at a time: a loop with only
// uncommitted changes, and a loop with only unmerged commits. Each must
// refuse on its own (exit 5, its own message) and leave every piece of the
// loop where it was.

func TestRmRefusesUncommittedChangesAlone(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	wt := strings.TrimSpace(cmdtest.MustRun(t, repo, "new", "dirty", "--driver", "none", "-d").Stdout)
	// No commit on the loop's branch: only a changed tracked file and an
	// untracked one.
	gittest.WriteFile(t, wt, "README.md", "# edited in the loop\n")
	gittest.WriteFile(t, wt, "wip.txt", "work in progress\n")
	head := gittest.Git(t, repo, "rev-parse", "refs/heads/loop/dirty")

	rm := cmdtest.Run(t, repo, "rm", "dirty")
	const want = `loop "dirty" has uncommitted changes (README.md, wip.txt); commit or stash them, or use --force`
	if rm.Code != 5 || !strings.Contains(rm.Stderr, want) {
		t.Fatalf("rm with only uncommitted changes: exit %d, want 5 and %q\n%s", rm.Code, want, rm.Stderr)
	}
	if strings.Contains(rm.Stderr, "not on main") {
		t.Errorf("rm blames commits the loop does not have:\n%s", rm.Stderr)
	}
	assertLoopIntact(t, repo, "dirty", wt, head)
	for rel, content := range map[string]string{"README.md": "# edited in the loop\n", "wip.txt": "work in progress\n"} {
		if b, err := os.ReadFile(filepath.Join(wt, rel)); err != nil || string(b) != content {
			t.Errorf("%s after the refused rm: %q, %v", rel, b, err)
		}
	}

	// The refusal is the only thing in the way: without the changes rm
	// goes through.
	gittest.Git(t, wt, "checkout", "--", "README.md")
	if err := os.Remove(filepath.Join(wt, "wip.txt")); err != nil {
		t.Fatal(err)
	}
	cmdtest.MustRun(t, repo, "rm", "dirty")
	if got := cmdtest.LoopBranches(t, repo); len(got) != 0 {
		t.Fatalf("branches after rm: %v", got)
	}
}

func TestRmRefusesUnmergedCommitsAlone(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	wt := strings.TrimSpace(cmdtest.MustRun(t, repo, "new", "ahead", "--driver", "none", "-d").Stdout)
	// Two commits on the loop's branch and a clean worktree.
	for _, f := range []string{"one.txt", "two.txt"} {
		gittest.WriteFile(t, wt, f, f+"\n")
		gittest.Git(t, wt, "add", f)
		gittest.Git(t, wt, "commit", "-qm", f)
	}
	if st := gittest.Git(t, wt, "status", "--porcelain"); st != "" {
		t.Fatalf("worktree not clean: %q", st)
	}
	head := gittest.Git(t, repo, "rev-parse", "refs/heads/loop/ahead")

	rm := cmdtest.Run(t, repo, "rm", "ahead")
	const want = `loop "ahead" has 2 commits not on main or any remote; land it first (merge loop/ahead) or use --force`
	if rm.Code != 5 || !strings.Contains(rm.Stderr, want) {
		t.Fatalf("rm with only unmerged commits: exit %d, want 5 and %q\n%s", rm.Code, want, rm.Stderr)
	}
	if strings.Contains(rm.Stderr, "uncommitted") {
		t.Errorf("rm blames changes the loop does not have:\n%s", rm.Stderr)
	}
	assertLoopIntact(t, repo, "ahead", wt, head)
	for _, f := range []string{"one.txt", "two.txt"} {
		if got := gittest.Git(t, repo, "show", "refs/heads/loop/ahead:"+f); got != f {
			t.Errorf("%s on the branch after the refused rm: %q", f, got)
		}
	}
}

// assertLoopIntact checks that a refused rm left the loop whole: its
// branch at head, its worktree registered, its record readable.
func assertLoopIntact(t *testing.T, repo, name, wt, head string) {
	t.Helper()
	if got := gittest.Git(t, repo, "rev-parse", "refs/heads/loop/"+name); got != head {
		t.Errorf("loop/%s moved from %s to %s", name, head, got)
	}
	found := false
	for _, p := range cmdtest.WorktreePaths(t, repo) {
		found = found || p == wt
	}
	if !found {
		t.Errorf("worktree %s is no longer registered: %v", wt, cmdtest.WorktreePaths(t, repo))
	}
	if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "host", name, "meta.json")); err != nil {
		t.Errorf("loop record after the refused rm: %v", err)
	}
	if loops := cmdtest.LsJSON(t, repo); len(loops) != 1 || loops[0].Name != name {
		t.Errorf("ls after the refused rm: %+v", loops)
	}
}
