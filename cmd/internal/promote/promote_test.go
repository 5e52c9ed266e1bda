package promote_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

func TestMain(m *testing.M) { cmdtest.Main(m, nil) }

// TestGoldenPromote pins the human output of "git loop promote": in solo
// mode code becomes a proposal and notes land on main.
func TestGoldenPromote(t *testing.T) {
	t.Parallel()
	repo, o, home := cmdtest.InitRepo(t)
	cmdtest.MustRunWith(t, repo, o, "new", "fix", "--driver", "none", "-d")
	cmdtest.MustRunWith(t, repo, o, "exec", "fix", "--", "sh", "-c", `echo 1 > f && git add f && git commit -qm f && echo "- idea" >> "$GIT_LOOP_NOTES/inbox.md"`)
	r := cmdtest.MustRunWith(t, repo, o, "promote", "fix", "-a", "-m", "work of fix")
	cmdtest.Golden(t, "promote", cmdtest.Abbrev(r.Stdout), map[string]string{repo: "<repo>", home: "<home>"})
	r = cmdtest.MustRunWith(t, repo, o, "promote", "fix")
	cmdtest.Golden(t, "promote-again", cmdtest.Abbrev(r.Stdout), map[string]string{repo: "<repo>", home: "<home>"})
}
