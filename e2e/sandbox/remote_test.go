package sandboxe2e_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

// TestRemoteEngineRefusesBinds: a loop made with host paths (on the
// local engine, sealed or not) is refused on a second, real Docker engine
// that does not see this host's files (dockerd in a container, reached
// over tcp), naming the engine and the fix, where it used to start a
// sandbox whose worktree was an empty directory. (A loop made on that
// engine keeps its files there: TestRemoteEngineLoopLife.)
func TestRemoteEngineRefusesBinds(t *testing.T) {
	e := dockertest.Engine(t)
	img := dockertest.DebianImage(t, e)
	e2 := dockertest.Engine2(t, e, img)
	for _, d := range []cmdtest.Driver{cmdtest.DockerDriver, cmdtest.DockerDriver.Sealed()} {
		t.Run(d.Name, func(t *testing.T) {
			repo := newRepo(t, d)
			cmdtest.MustRun(t, repo, "new", "local", "--driver", "docker", "--detach")
			t.Setenv("DOCKER_HOST", e2.Host)
			r := cmdtest.Run(t, repo, "exec", "local", "--", "true")
			if r.Code == 0 {
				t.Fatalf("exec of a local loop on the second engine succeeded:\n%s%s", r.Stdout, r.Stderr)
			}
			t.Logf("exec on the second engine: %s", r.Stderr)
			for _, want := range []string{e2.Host, "cannot see this host's files", "sandbox.placement"} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("exec's error does not say %q:\n%s", want, r.Stderr)
				}
			}
			out, err := exec.Command("docker", "-H", e2.Host, "ps", "-aq", "--filter", "label=dev.gitloop.loop=local").Output()
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

// TestRemoteEngineLoopLife: a whole loop life on engines that cannot
// see this host's files, every file of the loop on the engine (named
// volumes labelled dev.gitloop.*) and no host path bound: the local
// engine told sandbox.placement = remote, and the second, real engine
// reached over tcp, told so or found so by the probe (auto).
func TestRemoteEngineLoopLife(t *testing.T) {
	e := dockertest.Engine(t)
	img := dockertest.DebianImage(t, e)
	cases := []struct {
		name, placement string
		second, ssh     bool
	}{
		{"local-engine-remote", "remote", false, false},
		{"engine2-remote", "remote", true, false},
		{"engine2-auto", "auto", true, false},
		// Over ssh://, through "docker system dial-stdio" on the engine's
		// machine (its sshd), as the docker CLI reaches it.
		{"engine2-ssh-auto", "auto", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host := os.Getenv("DOCKER_HOST")
			if c.second {
				e2 := dockertest.Engine2(t, e, img)
				// The test counts over tcp; git loop talks over ssh.
				host = e2.Host
				if c.ssh {
					t.Setenv("DOCKER_HOST", dockertest.Engine2SSH(t, e2))
				} else {
					t.Setenv("DOCKER_HOST", host)
				}
			}
			repo := newRepo(t, cmdtest.DockerDriver)
			gittest.Git(t, repo, "config", "loop.sandbox.placement", c.placement)
			count := func(t *testing.T) (int, int) {
				t.Helper()
				ws, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
				label := "label=dev.gitloop.workspace=" + strings.TrimSpace(string(ws))
				args := []string{}
				if host != "" {
					args = append(args, "-H", host)
				}
				cs, err := exec.Command("docker", append(args, "ps", "-q", "--filter", label)...).Output()
				if err != nil {
					t.Fatal(err)
				}
				vs, err := exec.Command("docker", append(args, "volume", "ls", "-q", "--filter", label)...).Output()
				if err != nil {
					t.Fatal(err)
				}
				return len(strings.Fields(string(cs))), len(strings.Fields(string(vs)))
			}
			// Nothing of this host's is bound: the clone, $HOME and agent
			// dir are volumes, the rest tmpfs or nothing.
			noBinds := func(t *testing.T) {
				ws, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
				args := []string{}
				if host != "" {
					args = append(args, "-H", host)
				}
				out, err := exec.Command("docker", append(args, "inspect", "-f", "{{range .Mounts}}{{.Type}} {{end}}", "gitloop-"+strings.TrimSpace(string(ws))+"-kx")...).Output()
				if err != nil || strings.Contains(string(out), "bind") || strings.Count(string(out), "volume") != 3 {
					t.Errorf("the remote loop's mounts: %q, %v; want 3 volumes and no bind", out, err)
				}
			}
			// Execs into the workspace's containers, from the engine's
			// events since the test began.
			since := fmt.Sprintf("%.3f", float64(time.Now().UnixMilli())/1000-1)
			execs := func(t *testing.T) int {
				t.Helper()
				ws, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
				args := []string{}
				if host != "" {
					args = append(args, "-H", host)
				}
				until := fmt.Sprintf("%.3f", float64(time.Now().UnixMilli())/1000)
				out, err := exec.Command("docker", append(args, "events", "--since", since, "--until", until, "--filter", "event=exec_create",
					"--filter", "label=dev.gitloop.workspace="+strings.TrimSpace(string(ws)), "--format", "{{.ID}}")...).Output()
				if err != nil {
					t.Fatal(err)
				}
				return len(strings.Fields(string(out)))
			}
			cmdtest.RemoteLoopLife(t, repo, cmdtest.RemoteLife{Driver: "docker", Count: count, Stores: 3, AfterNew: noBinds, Execs: execs})
		})
	}
}

// TestSilentEngine: an engine address that accepts connections and never
// answers (a hung or blackholed remote host) does not hang ls: its one
// list call gets a few seconds, then the loop reads unreachable, as for
// an engine that refuses.
func TestSilentEngine(t *testing.T) {
	d := cmdtest.DockerDriver.Sealed()
	repo := newRepo(t, d)
	cmdtest.MustRun(t, repo, "new", "x", "--driver", "docker", "--detach")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // held open, never answered
		}
	}()
	t.Setenv("DOCKER_HOST", "tcp://"+ln.Addr().String())
	start := time.Now()
	r := cmdtest.Run(t, repo, "ls")
	took := time.Since(start)
	if r.Code != 0 || took > 20*time.Second {
		t.Fatalf("ls against a silent engine: exit %d after %s\n%s%s", r.Code, took, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "docker unreachable") || strings.Contains(r.Stdout, "clean") {
		t.Errorf("ls with the engine silent (%s):\n%s%s", took, r.Stdout, r.Stderr)
	}
}

// TestRemoteEngineContextLife: a loop on the second, real engine gets
// clones of its own of knowledge and notes in volumes of its own, seeded
// by a push (no alternates, the user's clones out of sight); a note made
// there is refused by rm, lands by promote, and main comes in by sync:
// see cmdtest.RemoteContextLife.
func TestRemoteEngineContextLife(t *testing.T) {
	repo, e2 := remoteRepo(t)
	o, home := cmdtest.WithHome(t)
	cmdtest.MustRunWith(t, repo, o, "init", "-q")
	cmdtest.RemoteContextLife(t, repo, home, cmdtest.RemoteLife{Driver: "docker", Options: o, Count: engineCount(repo, e2.Host), Stores: 5})
}

// remoteRepo is a repository whose docker loops are made on the second
// engine (DOCKER_HOST, for t), with placement remote.
func remoteRepo(t *testing.T) (string, dockertest.SecondEngine) {
	t.Helper()
	e := dockertest.Engine(t)
	e2 := dockertest.Engine2(t, e, dockertest.DebianImage(t, e))
	t.Setenv("DOCKER_HOST", e2.Host)
	repo := newRepo(t, cmdtest.DockerDriver)
	gittest.Git(t, repo, "config", "loop.sandbox.placement", "remote")
	return repo, e2
}

// engineCount counts the running containers and the volumes of repo's
// workspace on the engine at host.
func engineCount(repo, host string) func(t *testing.T) (int, int) {
	return func(t *testing.T) (int, int) {
		t.Helper()
		ws, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
		label := "label=dev.gitloop.workspace=" + strings.TrimSpace(string(ws))
		cs, err := exec.Command("docker", "-H", host, "ps", "-q", "--filter", label).Output()
		if err != nil {
			t.Fatal(err)
		}
		vs, err := exec.Command("docker", "-H", host, "volume", "ls", "-q", "--filter", label).Output()
		if err != nil {
			t.Fatal(err)
		}
		return len(strings.Fields(string(cs))), len(strings.Fields(string(vs)))
	}
}

// TestRemoteEngineSeedUndo: on the second, real engine, a new whose
// seeding push fails leaves no container, volume, record or branch, and
// runs again: see cmdtest.RemoteSeedUndo.
func TestRemoteEngineSeedUndo(t *testing.T) {
	repo, e2 := remoteRepo(t)
	cmdtest.RemoteSeedUndo(t, repo, cmdtest.RemoteLife{Driver: "docker", Count: engineCount(repo, e2.Host), Stores: 3})
}
