package ls_test

import (
	"regexp"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// binDir holds a git-loop binary built once, for the tests that run it as
// a process of its own.
var binDir string

func TestMain(m *testing.M) { cmdtest.Main(m, func(dir string) { binDir = dir }) }

func TestGoldenLs(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	cmdtest.MustRun(t, repo, "new", "alpha", "--driver", "none", "-d")
	cmdtest.MustRun(t, repo, "new", "beta", "--driver", "none", "-d")
	cmdtest.MustRun(t, repo, "exec", "beta", "--", "sh", "-c", "echo 1 > f && git add f && git commit -qm f && echo 2 > g")
	r := cmdtest.MustRun(t, repo, "ls")
	human := regexp.MustCompile(`(?m)\d+[smhd]$`).ReplaceAllString(r.Stdout, "<age>")
	cmdtest.Golden(t, "ls", human, nil)
	r = cmdtest.MustRun(t, repo, "ls", "--json")
	js := regexp.MustCompile(`"created": "[^"]+"`).ReplaceAllString(r.Stdout, `"created": "<time>"`)
	cmdtest.Golden(t, "ls-json", js, map[string]string{repo: "<repo>"})
}
