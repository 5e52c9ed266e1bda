package prune_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestPrune(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	wt := strings.TrimSpace(cmdtest.MustRun(t, repo, "new", "gone", "--driver", "none", "-d").Stdout)
	cmdtest.MustRun(t, repo, "new", "fine", "--driver", "none", "-d")
	cmdtest.MustRun(t, repo, "exec", "gone", "--", "sh", "-c", "echo 1 > w && git add w && git commit -qm w")
	if err := os.RemoveAll(wt); err != nil {
		t.Fatal(err)
	}
	loops := cmdtest.LsJSON(t, repo)
	if loops[1].Name != "gone" || loops[1].State != "broken" {
		t.Fatalf("ls after worktree deleted: %+v", loops)
	}
	r := cmdtest.MustRun(t, repo, "prune", "--dry-run")
	if !strings.Contains(r.Stdout, "Would prune gone: worktree is gone; kept branch loop/gone") {
		t.Errorf("prune --dry-run:\n%s", r.Stdout)
	}
	cmdtest.MustRun(t, repo, "prune")
	loops = cmdtest.LsJSON(t, repo)
	if len(loops) != 1 || loops[0].Name != "fine" {
		t.Fatalf("after prune: %+v", loops)
	}
	if got := cmdtest.LoopBranches(t, repo); len(got) != 2 {
		t.Fatalf("prune must keep the branch with work: %v", got)
	}
	if wts := cmdtest.WorktreePaths(t, repo); len(wts) != 2 {
		t.Fatalf("git still lists the deleted worktree: %v", wts)
	}
}
