package rm_test

import (
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestRmForce(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	cmdtest.MustRun(t, repo, "new", "spike", "--driver", "none", "-d")
	cmdtest.MustRun(t, repo, "exec", "spike", "--", "sh", "-c", "echo x > f && git add f && git commit -qm f && echo y > g")
	cmdtest.MustRun(t, repo, "rm", "--force", "spike")
	if got := cmdtest.LoopBranches(t, repo); len(got) != 0 {
		t.Fatalf("branches after rm --force: %v", got)
	}
}

func TestContextWorkIsNotLost(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, _ := cmdtest.WithHome(t)
	cmdtest.MustRunWith(t, repo, o, "init", "-q")
	cmdtest.MustRunWith(t, repo, o, "new", "n1", "--driver", "none", "-d")
	cmdtest.MustRunWith(t, repo, o, "exec", "n1", "--", "sh", "-c", `cd "$GIT_LOOP_NOTES" && echo "- idea" >> inbox.md && git commit -qam idea`)
	r := cmdtest.RunWith(t, repo, o, "rm", "n1")
	if r.Code != 5 || !strings.Contains(r.Stderr, "notes commit") {
		t.Fatalf("rm with a notes commit: %d %s", r.Code, r.Stderr)
	}
	cmdtest.MustRunWith(t, repo, o, "exec", "n1", "--", "sh", "-c", `cd "$GIT_LOOP_NOTES" && git push -q origin HEAD:main`)
	cmdtest.MustRunWith(t, repo, o, "rm", "n1")
}
