package review_test

import (
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

func TestMain(m *testing.M) { cmdtest.Main(m, nil) }

// TestGoldenReviewLs pins the human output of "git loop review ls": the
// proposals of two loops, in code and knowledge. Sealed loops list the
// same.
func TestGoldenReviewLs(t *testing.T) {
	t.Parallel()
	drivers := append([]cmdtest.Driver{{Name: "none", Prepare: func(*testing.T, string) {}}}, cmdtest.SealedDrivers...)
	for _, d := range drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo, o, home := cmdtest.InitRepo(t)
			d.Prepare(t, repo)
			t.Cleanup(func() { cmdtest.RunWith(t, repo, o, "uninstall", "--yes", "--force") })
			driver := strings.TrimSuffix(d.Name, "-sealed")
			if r := cmdtest.MustRunWith(t, repo, o, "review", "ls"); r.Stdout != "" {
				t.Errorf("review ls without proposals printed %q", r.Stdout)
			}
			cmdtest.MustRunWith(t, repo, o, "new", "fix", "--driver", driver, "-d")
			cmdtest.MustRunWith(t, repo, o, "new", "docs", "--driver", driver, "-d")
			cmdtest.MustRunWith(t, repo, o, "exec", "fix", "--", "sh", "-c", "echo 1 > f && git add f && git commit -qm 'fix f' && echo 2 > g && git add g && git commit -qm 'add g'")
			cmdtest.MustRunWith(t, repo, o, "exec", "docs", "--", "sh", "-c", `cd "$GIT_LOOP_KNOWLEDGE" && echo "# Deploy" > deploy.md && git add deploy.md && git commit -qm "deploy page"`)
			cmdtest.MustRunWith(t, repo, o, "promote", "fix")
			cmdtest.MustRunWith(t, repo, o, "promote", "docs")
			r := cmdtest.MustRunWith(t, repo, o, "review", "ls")
			cmdtest.Golden(t, "review-ls", cmdtest.Abbrev(r.Stdout), map[string]string{repo: "<repo>", home: "<home>"})
		})
	}
}
