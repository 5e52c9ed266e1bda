package agente2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/status"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// TestSealedFetchPoints: in a sealed loop, a commit made inside reaches
// loop/NAME at every fetch point: at the end of run, attach, shell and
// exec, and before status, diff, ls and rm for a commit the sandbox made
// with nothing of git loop's running (the test commits in the clone, as a
// process the sandbox left behind would). Uncommitted work shows in diff
// and ls through the snapshot.
func TestSealedFetchPoints(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := gittest.Repo(t)
			d.Prepare(t, repo)
			gittest.Git(t, repo, "config", "loop.agent", "claude")
			gittest.Git(t, repo, "config", "loop.sandbox.sealed", "true")
			cmdtest.CleanUp(t, repo, nil)
			cmdtest.MustRun(t, repo, "new", "x", "--driver", d.Name, "--detach")
			if !cmdtest.ReadMeta(t, repo, "x").Sandbox.Sealed {
				t.Fatal("loop x is not sealed")
			}
			clone := filepath.Join(repo, ".git", "loop", "sandbox", "x", "clone")
			subject := func() string { return gittest.Git(t, repo, "log", "-1", "--format=%s", "loop/x") }

			cmdtest.MustRun(t, repo, "run", "x", "by run")
			if got := subject(); got != "fake-claude: by run" {
				t.Errorf("after run, loop/x is at %q", got)
			}
			if r := cmdtest.RunWith(t, repo, cmdtest.Options{TTY: true}, "attach", "x"); r.Code != 0 {
				t.Fatalf("attach: exit %d\n%s", r.Code, r.Stderr)
			}
			if got := subject(); got != "fake-claude: (interactive session)" {
				t.Errorf("after attach, loop/x is at %q", got)
			}
			sh := "echo s > s.txt && git add s.txt && git -c user.name=a -c user.email=a@b commit -qm 'by shell'\n"
			if r := cmdtest.RunWith(t, repo, cmdtest.Options{Stdin: sh}, "shell", "x"); r.Code != 0 {
				t.Fatalf("shell: exit %d\n%s", r.Code, r.Stderr)
			}
			if got := subject(); got != "by shell" {
				t.Errorf("after shell, loop/x is at %q", got)
			}
			cmdtest.MustRun(t, repo, "exec", "x", "--", "sh", "-c", "echo e > e.txt && git add e.txt && git -c user.name=a -c user.email=a@b commit -qm 'by exec'")
			if got := subject(); got != "by exec" {
				t.Errorf("after exec, loop/x is at %q", got)
			}

			// What the sandbox does while git loop is not running.
			inside := func(msg string) {
				t.Helper()
				gittest.WriteFile(t, clone, msg+".txt", msg+"\n")
				// As root the clone is the sandbox user's, which git
				// refuses as dubious: the test stands in for that user.
				gittest.Git(t, clone, "-c", "safe.directory=*", "add", msg+".txt")
				gittest.Git(t, clone, "-c", "safe.directory=*", "commit", "-qm", msg)
				if os.Getuid() == 0 {
					if err := workspace.OwnAll(clone, workspace.SandboxFallbackUID, workspace.SandboxFallbackUID); err != nil {
						t.Fatal(err)
					}
				}
			}
			inside("before-status")
			cmdtest.MustRun(t, repo, "status", "x")
			if got := subject(); got != "before-status" {
				t.Errorf("status did not fetch: loop/x is at %q", got)
			}
			inside("before-diff")
			if diff := cmdtest.MustRun(t, repo, "diff", "x").Stdout; !strings.Contains(diff, "before-diff.txt") {
				t.Errorf("diff does not show the commit made since the last fetch:\n%s", diff)
			}
			if got := subject(); got != "before-diff" {
				t.Errorf("diff did not fetch: loop/x is at %q", got)
			}
			inside("before-ls")
			cmdtest.MustRun(t, repo, "ls")
			if got := subject(); got != "before-ls" {
				t.Errorf("ls did not fetch a moved branch: loop/x is at %q", got)
			}

			// Uncommitted work, through the snapshot.
			cmdtest.MustRun(t, repo, "exec", "x", "--", "sh", "-c", "echo wip > wip.txt")
			if diff := cmdtest.MustRun(t, repo, "diff", "x").Stdout; !strings.Contains(diff, "wip.txt") {
				t.Errorf("diff does not show the uncommitted file:\n%s", diff)
			}
			var loops []status.LoopStatus
			if err := json.Unmarshal([]byte(cmdtest.MustRun(t, repo, "ls", "--json").Stdout), &loops); err != nil {
				t.Fatal(err)
			}
			if len(loops) != 1 || !loops[0].Dirty {
				t.Errorf("ls does not show the uncommitted work: %+v", loops)
			}

			// rm fetches before it judges: the commit made since is work.
			gittest.Git(t, clone, "-c", "safe.directory=*", "stash", "-q", "-u")
			inside("before-rm")
			if r := cmdtest.Run(t, repo, "rm", "x"); r.Code != 5 {
				t.Errorf("rm with an unfetched commit: exit %d, want 5\n%s", r.Code, r.Stderr)
			}
			if got := subject(); got != "before-rm" {
				t.Errorf("rm did not fetch: loop/x is at %q", got)
			}
		})
	}
}
