package doctor_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestMain(m *testing.M) { cmdtest.Main(m, nil) }

// TestGoldenDoctor pins the human output of "git loop doctor" in a
// repository with a healthy loop and one whose worktree vanished.
func TestGoldenDoctor(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, home := cmdtest.WithHome(t)
	// The sandbox and agent checks depend on the machine: no engine, and
	// an agent that is nowhere.
	gittest.Git(t, repo, "config", "loop.sandbox.driver", "none")
	gittest.Git(t, repo, "config", "loop.agent", "gitloop-test-no-such-agent")
	cmdtest.MustRunWith(t, repo, o, "init", "-q")
	cmdtest.MustRunWith(t, repo, o, "new", "fine", "--driver", "none", "-d")
	wt := cmdtest.MustRunWith(t, repo, o, "new", "gone", "--driver", "none", "-d").Stdout
	if err := os.RemoveAll(wt[:len(wt)-1]); err != nil {
		t.Fatal(err)
	}
	r := cmdtest.RunWith(t, repo, o, "doctor")
	if r.Code != 0 {
		t.Errorf("doctor: exit %d\n%s", r.Code, r.Stderr)
	}
	out := regexp.MustCompile(`(?m)^ok   git      git \d+\.\d+\.\d+$`).ReplaceAllString(r.Stdout, "ok   git      git <version>")
	cmdtest.Golden(t, "doctor", out, map[string]string{repo: "<repo>", home: "<home>"})
}
