package review_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

func TestMain(m *testing.M) { cmdtest.Main(m, nil) }

// TestGoldenReviewLs pins the human output of "git loop review ls": the
// proposals of two loops, in code and knowledge.
func TestGoldenReviewLs(t *testing.T) {
	t.Parallel()
	repo, o, home := cmdtest.InitRepo(t)
	if r := cmdtest.MustRunWith(t, repo, o, "review", "ls"); r.Stdout != "" {
		t.Errorf("review ls without proposals printed %q", r.Stdout)
	}
	cmdtest.MustRunWith(t, repo, o, "new", "fix", "--driver", "none", "-d")
	cmdtest.MustRunWith(t, repo, o, "new", "docs", "--driver", "none", "-d")
	cmdtest.MustRunWith(t, repo, o, "exec", "fix", "--", "sh", "-c", "echo 1 > f && git add f && git commit -qm 'fix f' && echo 2 > g && git add g && git commit -qm 'add g'")
	cmdtest.MustRunWith(t, repo, o, "exec", "docs", "--", "sh", "-c", `cd "$GIT_LOOP_KNOWLEDGE" && echo "# Deploy" > deploy.md && git add deploy.md && git commit -qm "deploy page"`)
	cmdtest.MustRunWith(t, repo, o, "promote", "fix")
	cmdtest.MustRunWith(t, repo, o, "promote", "docs")
	r := cmdtest.MustRunWith(t, repo, o, "review", "ls")
	cmdtest.Golden(t, "review-ls", cmdtest.Abbrev(r.Stdout), map[string]string{repo: "<repo>", home: "<home>"})
}
