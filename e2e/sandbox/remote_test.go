package sandboxe2e_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

// TestRemoteEngineRefusesBinds: on a second, real Docker engine that does
// not see this host's files (dockerd in a container, reached over tcp),
// new refuses before it changes anything, naming the engine and the fix,
// where it used to start a sandbox whose worktree was an empty directory;
// a loop made on the local engine is refused there too. Sealed or not:
// remote placement is not built yet.
func TestRemoteEngineRefusesBinds(t *testing.T) {
	e := dockertest.Engine(t)
	img := dockertest.DebianImage(t, e)
	e2 := dockertest.Engine2(t, e, img)
	for _, d := range []cmdtest.Driver{cmdtest.DockerDriver, cmdtest.DockerDriver.Sealed()} {
		t.Run(d.Name, func(t *testing.T) {
			repo := newRepo(t, d)
			cmdtest.MustRun(t, repo, "new", "local", "--driver", "docker", "--detach")
			t.Setenv("DOCKER_HOST", e2.Host)
			r := cmdtest.Run(t, repo, "new", "x", "--driver", "docker", "--detach")
			if r.Code == 0 {
				t.Fatalf("new on the second engine succeeded:\n%s%s", r.Stdout, r.Stderr)
			}
			t.Logf("new on the second engine: %s", r.Stderr)
			for _, want := range []string{e2.Host, "cannot see this host's files", "sandbox.placement"} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("new's error does not say %q:\n%s", want, r.Stderr)
				}
			}
			if got := cmdtest.LoopBranches(t, repo); len(got) != 1 {
				t.Errorf("loop branches after the refused new: %v", got)
			}
			r = cmdtest.Run(t, repo, "exec", "local", "--", "true")
			if r.Code == 0 || !strings.Contains(r.Stderr, e2.Host) {
				t.Errorf("exec of a local loop on the second engine: exit %d\n%s", r.Code, r.Stderr)
			}
			out, err := exec.Command("docker", "-H", e2.Host, "ps", "-aq", "--filter", "label=dev.gitloop.loop").Output()
			if err != nil || strings.TrimSpace(string(out)) != "" {
				t.Errorf("containers left on the second engine: %q %v", out, err)
			}
		})
	}
}
