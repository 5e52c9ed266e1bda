package diff_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestDiffShowsUntrackedFiles: a file the agent created and never added
// is part of its work: ls and status count it, so diff shows it, without
// touching the worktree's own index.
func TestDiffShowsUntrackedFiles(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, _ := cmdtest.WithHome(t)
	run := func(args ...string) cmdtest.Result { return cmdtest.MustRunWith(t, repo, o, args...) }
	run("new", "u", "--driver", "none", "-d")
	wt := strings.TrimSpace(run("path", "u").Stdout)
	run("exec", "u", "--", "sh", "-c", "echo committed > c && git add c && git commit -qm c && echo staged > s && git add s && echo fresh > new.txt")
	out := run("diff", "u").Stdout
	for _, want := range []string{"+++ b/c", "+++ b/s", "+++ b/new.txt", "+fresh"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	if st := gittest.Git(t, wt, "status", "--porcelain"); !strings.Contains(st, "?? new.txt") || !strings.Contains(st, "A  s") {
		t.Errorf("diff changed the worktree's index:\n%s", st)
	}
	if names := run("diff", "u", "--", "--name-only").Stdout; strings.TrimSpace(names) != "c\nnew.txt\ns" {
		t.Errorf("diff --name-only = %q", names)
	}
	if _, err := os.Stat(filepath.Join(repo, ".git", "loop")); err != nil {
		t.Fatal(err)
	}
}
