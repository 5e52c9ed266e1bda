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

// TestUnreachableEngine: when a loop's engine does not answer, ls says
// so, for its sandbox and, for a sealed loop (whose work lives in the
// sandbox), for its changes: never "clean", never "not started".
func TestUnreachableEngine(t *testing.T) {
	d := cmdtest.DockerDriver.Sealed()
	repo := newRepo(t, d)
	cmdtest.MustRun(t, repo, "new", "x", "--driver", "docker", "--detach")
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
	r := cmdtest.Run(t, repo, "ls")
	t.Logf("ls with the engine unreachable:\n%s%s", r.Stdout, r.Stderr)
	if r.Code != 0 {
		t.Fatalf("ls: exit %d\n%s", r.Code, r.Stderr)
	}
	row := ""
	for _, l := range strings.Split(r.Stdout, "\n") {
		if strings.HasPrefix(l, "x ") {
			row = l
		}
	}
	if !strings.Contains(row, "docker unreachable") || strings.Contains(row, "clean") || strings.Count(row, "unreachable") != 2 {
		t.Errorf("ls row of x with its engine unreachable: %q\n%s", row, r.Stdout)
	}
	if !strings.Contains(r.Stderr, "tcp://127.0.0.1:1") {
		t.Errorf("ls does not name the engine it could not reach:\n%s", r.Stderr)
	}
	for _, l := range cmdtest.LsJSON(t, repo) {
		if l.Sandbox != "unreachable" || !l.ChangesUnknown || l.Placement != "local" {
			t.Errorf("ls --json: sandbox %q, changesUnknown %v, placement %q", l.Sandbox, l.ChangesUnknown, l.Placement)
		}
	}
}
