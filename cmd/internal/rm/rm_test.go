package rm_test

import (
	"regexp"
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
	r := cmdtest.MustRun(t, repo, "rm", "--force", "spike")
	if got := cmdtest.LoopBranches(t, repo); len(got) != 0 {
		t.Fatalf("branches after rm --force: %v", got)
	}
	// Nothing is lost: the commit and the uncommitted file are kept under
	// a ref the message names, with the command that restores them.
	m := regexp.MustCompile(`kept as (refs/loop-removed/spike/\d+) \([0-9a-f]{7}\); restore with: git branch spike (refs/loop-removed/spike/\d+)`).FindStringSubmatch(r.Stderr)
	if m == nil || m[1] != m[2] {
		t.Fatalf("rm --force did not say what it kept:\n%s", r.Stderr)
	}
	for _, f := range []string{"f", "g"} {
		if got := gittest.Git(t, repo, "show", m[1]+":"+f); strings.TrimSpace(got) == "" {
			t.Errorf("%s is not in the backup %s", f, m[1])
		}
	}
	if r := cmdtest.MustRun(t, repo, "new", "clean", "--driver", "none", "-d"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	if r := cmdtest.MustRun(t, repo, "rm", "--force", "clean"); strings.Contains(r.Stderr, "kept as") {
		t.Errorf("rm --force of a loop with nothing at risk kept a backup:\n%s", r.Stderr)
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
