package promote_test

import (
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

func TestMain(m *testing.M) { cmdtest.Main(m, nil) }

// TestGoldenPromote pins the human output of "git loop promote": in solo
// mode code becomes a proposal and notes land on main. Sealed loops print
// the same.
func TestGoldenPromote(t *testing.T) {
	t.Parallel()
	drivers := append([]cmdtest.Driver{{Name: "none", Prepare: func(*testing.T, string) {}}}, cmdtest.SealedDrivers...)
	for _, d := range drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo, o, home := cmdtest.InitRepo(t)
			d.Prepare(t, repo)
			t.Cleanup(func() { cmdtest.RunWith(t, repo, o, "uninstall", "--yes", "--force") })
			cmdtest.MustRunWith(t, repo, o, "new", "fix", "--driver", strings.TrimSuffix(d.Name, "-sealed"), "-d")
			cmdtest.MustRunWith(t, repo, o, "exec", "fix", "--", "sh", "-c", `echo 1 > f && git add f && git commit -qm f && echo "- idea" >> "$GIT_LOOP_NOTES/inbox.md"`)
			r := cmdtest.MustRunWith(t, repo, o, "promote", "fix", "-a", "-m", "work of fix")
			cmdtest.Golden(t, "promote", cmdtest.Abbrev(r.Stdout), map[string]string{repo: "<repo>", home: "<home>"})
			r = cmdtest.MustRunWith(t, repo, o, "promote", "fix")
			cmdtest.Golden(t, "promote-again", cmdtest.Abbrev(r.Stdout), map[string]string{repo: "<repo>", home: "<home>"})
		})
	}
}
