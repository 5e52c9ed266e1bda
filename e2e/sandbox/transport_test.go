package sandboxe2e_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestTransport: the installed git-remote-gitloop (the git-loop binary by
// another name) serves gitloop::NAME from the loop's sandbox, the sandbox's
// own git upload-pack answering; and a URL for a loop that does not exist,
// or a name that is not one, is refused.
func TestTransport(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			newLoop(t, repo, d, "x")
			sh(t, repo, "x", "git commit -q --allow-empty -m inside")
			fetch := func(url string) (string, error) {
				cmd := exec.Command("git", "-c", "protocol.gitloop.allow=always", "-c", "transfer.fsckObjects=true",
					"fetch", "--no-tags", url, "+refs/heads/loop/x:refs/gitloop/x/head")
				cmd.Dir = repo
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			if out, err := fetch("gitloop::x"); err != nil {
				t.Fatalf("git fetch gitloop::x: %v\n%s", err, out)
			}
			if got, want := gittest.Git(t, repo, "rev-parse", "refs/gitloop/x/head"), gittest.Git(t, repo, "rev-parse", "loop/x"); got != want {
				t.Errorf("fetched %s, loop/x is %s", got, want)
			}
			for _, url := range []string{"gitloop::nosuch", "gitloop::../x", "gitloop::-x"} {
				if out, err := fetch(url); err == nil || !strings.Contains(out, "fatal") {
					t.Errorf("git fetch %s: %v, %s; want it refused", url, err, out)
				}
			}
		})
	}
}
