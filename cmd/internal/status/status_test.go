package status_test

import (
	"regexp"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

func TestMain(m *testing.M) { cmdtest.Main(m, nil) }

// TestGoldenStatus pins the human output of "git loop status NAME": a
// loop with a commit, an uncommitted change and context layers.
func TestGoldenStatus(t *testing.T) {
	t.Parallel()
	repo, o, home := cmdtest.InitRepo(t)
	cmdtest.MustRunWith(t, repo, o, "new", "alpha", "--driver", "none", "-d")
	cmdtest.MustRunWith(t, repo, o, "exec", "alpha", "--", "sh", "-c", "echo 1 > f && git add f && git commit -qm f && echo 2 > g")
	r := cmdtest.MustRunWith(t, repo, o, "status", "alpha")
	out := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d \(\d+[smhd] ago\)`).ReplaceAllString(r.Stdout, "<time> (<age> ago)")
	cmdtest.Golden(t, "status", cmdtest.Abbrev(out), map[string]string{repo: "<repo>", home: "<home>"})
}
