package login_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/internal/testagents"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
	"github.com/gitloop-dev/git-loop/sandbox/kube/kubetest"
)

// TestHostLoginRemoteLoops: a remote loop (its files on an engine that
// cannot see this host: the second, real engine over tcp, and the local
// engine told sandbox.placement = remote) runs the real clients logged in
// with the host's login, which never leaves this host: the relay,
// git-loop copied into the loop's home, carries the requests over an
// exec's streams to the proxy here, which requires the session's token.
func TestHostLoginRemoteLoops(t *testing.T) {
	claude := testagents.Claude(t)
	codex := codexNative(t, testagents.Codex(t))
	e := dockertest.Engine(t)
	img := dockertest.DebianImage(t, e)
	cases := []struct {
		name, agent, bin, loop string
		second                 bool
	}{
		{"engine2-claude", "claude", claude, "rc", true},
		{"local-engine-remote-codex", "codex", codex, "rx", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host := os.Getenv("DOCKER_HOST")
			if c.second {
				host = dockertest.Engine2(t, e, img).Host
				t.Setenv("DOCKER_HOST", host)
			}
			repo := gittest.Repo(t)
			cmdtest.DockerDriver.Prepare(t, repo)
			t.Cleanup(func() { cmdtest.Run(t, repo, "uninstall", "--yes", "--force") })
			gittest.Git(t, repo, "config", "loop.sandbox.placement", "remote")
			gittest.Git(t, repo, "config", "loop.agent", c.agent)
			t.Setenv("HOME", fakeHome(t))
			up := newStandIn(t, c.loop)
			if c.agent == "claude" {
				t.Setenv("ANTHROPIC_BASE_URL", up.URL)
			} else {
				t.Setenv("OPENAI_BASE_URL", up.URL+"/v1")
			}
			cmdtest.MustRun(t, repo, "new", c.loop, "--driver", "docker", "--detach")
			// The image has no agent: put the client into the loop's
			// container, as an image built with it would have it.
			ws, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
			ctr := "gitloop-" + strings.TrimSpace(string(ws)) + "-" + c.loop
			args := []string{}
			if host != "" {
				args = append(args, "-H", host)
			}
			bin, err := filepath.EvalSymlinks(c.bin)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("docker", append(args, "cp", bin, ctr+":/usr/local/bin/"+c.agent)...).CombinedOutput(); err != nil {
				t.Fatalf("docker cp %s: %v\n%s", c.agent, err, out)
			}
			for round := range 2 {
				_, before, _ := up.seen()
				n := len(before)
				start := time.Now()
				r := cmdtest.Run(t, repo, "run", c.loop, "say hello")
				auth, paths, envs := up.seen()
				t.Logf("%s in a remote loop, run %d: exit %d in %s, requests %v\n%s", c.agent, round+1, r.Code, time.Since(start).Round(time.Millisecond), paths[n:], r.Stderr)
				auth = auth[n:]
				if len(auth) == 0 {
					t.Fatalf("no request reached the stand-in: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
				}
				want := "Bearer " + claudeAccess + "|"
				if c.agent == "codex" {
					want = "Bearer " + codexKey + "|"
				}
				for _, a := range auth {
					if a != want {
						t.Errorf("the stand-in got credentials %q, want the host's", a)
					}
				}
				if c.agent == "claude" && !strings.Contains(r.Stdout, standInReply) {
					t.Errorf("claude did not get the stand-in's answer: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
				}
				checkRemote(t, repo, c.loop, r.Stdout+r.Stderr, envs, true)
			}
			// A client run by hand in "git loop exec" is logged in too.
			_, before, _ := up.seen()
			hand := []string{"exec", c.loop, "--", "claude", "-p", "say hello"}
			if c.agent == "codex" {
				hand = []string{"exec", c.loop, "--", "codex", "exec", "--skip-git-repo-check", "say hello"}
			}
			r := cmdtest.Run(t, repo, hand...)
			auth, paths, envs := up.seen()
			t.Logf("%s by hand: exit %d, requests %v", c.agent, r.Code, paths[len(before):])
			if len(auth) == len(before) {
				t.Errorf("%s by hand: no request reached the stand-in: exit %d\n%s\n%s", c.agent, r.Code, r.Stdout, r.Stderr)
			}
			for _, a := range auth[len(before):] {
				if !strings.Contains(a, claudeAccess) && !strings.Contains(a, codexKey) {
					t.Errorf("%s by hand: the stand-in got credentials %q, want the host's", c.agent, a)
				}
			}
			if c.agent == "claude" && !strings.Contains(r.Stdout, standInReply) {
				t.Errorf("claude by hand did not get the stand-in's answer: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
			}
			checkRemote(t, repo, c.loop, r.Stdout+r.Stderr, envs, true)
			// One copy of the relay in the loop's home, made by the first
			// run; none left running after the runs.
			r = cmdtest.Run(t, repo, "exec", c.loop, "--", "sh", "-c", `ls "$HOME/.cache/git-loop/relay"; ps -eo args 2>/dev/null | grep -c "[r]elay --stdio" || true`)
			if f := strings.Fields(r.Stdout); len(f) != 2 || !strings.HasPrefix(f[0], "git-loop-") || f[1] != "0" {
				t.Errorf("the relay in the loop's home and its processes after the runs: %q (exit %d, %s)", r.Stdout, r.Code, r.Stderr)
			}
		})
	}
}

// checkRemote: the agent ran with the session's token (never the
// credential) in its environment; nothing in the loop's files here, the
// container's stored configuration or a command in the sandbox holds
// the host's login.
func checkRemote(t *testing.T, repo, loop, output string, envs []string, docker bool) {
	t.Helper()
	noSecret(t, "the run's output", output)
	if len(envs) == 0 {
		t.Error("no process of the loop was seen during a request")
	}
	sawToken := false
	for _, e := range envs {
		noSecret(t, "an agent process's environment", e)
		sawToken = sawToken || strings.Contains(e, "=git-loop-session-")
	}
	if !sawToken {
		t.Errorf("no agent process held the session's token:\n%s", strings.Join(envs, "\n---\n"))
	}
	noSecretUnder(t, filepath.Join(repo, ".git", "loop", "loops", loop))
	noSecretUnder(t, filepath.Join(repo, ".git", "loop", "host", loop))
	r := cmdtest.Run(t, repo, "exec", loop, "--", "sh", "-c", `env; cat ~/.claude/.credentials.json ~/.codex/auth.json 2>&1`)
	noSecret(t, "git loop exec", r.Stdout+r.Stderr)
	r = cmdtest.Run(t, repo, "exec", loop, "--", "sh", "-c", `grep -rlF -e "$1" -e "$2" -e "$3" ~ "$GIT_LOOP_AGENT_DIR" 2>/dev/null; true`, "sh", claudeAccess, claudeRefresh, codexKey)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("files in the loop's home or agent dir hold the host's credential (exit %d):\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if !docker {
		return
	}
	ws, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
	api := dockertest.NewAPI(t)
	defer api.Close()
	c, ok := api.Inspect(t, "gitloop-"+strings.TrimSpace(string(ws))+"-"+loop)
	if !ok {
		t.Fatal("no container")
	}
	noSecret(t, "docker inspect", c.Raw)
}

// TestHostLoginKubernetes: the same on the Kubernetes driver (the test
// API server, whose execs run here over the real WebSocket exec
// protocol): Claude Code in a session and by hand reaches the stand-in
// with the host's login through the relay over the pod's exec.
func TestHostLoginKubernetes(t *testing.T) {
	claude := testagents.Claude(t)
	srv := kubetest.New(t)
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "loops"))
	repo := gittest.Repo(t)
	t.Cleanup(func() { cmdtest.Run(t, repo, "uninstall", "--yes", "--force") })
	t.Setenv("HOME", fakeHome(t))
	up := newStandIn(t, "kc")
	t.Setenv("ANTHROPIC_BASE_URL", up.URL)
	// The fake's pods run this host's programs, on this PATH: the
	// client is found there by name, as in an image that has it.
	t.Setenv("PATH", filepath.Dir(claude)+string(os.PathListSeparator)+os.Getenv("PATH"))
	gittest.Git(t, repo, "config", "loop.agent", "claude")
	cmdtest.MustRun(t, repo, "new", "kc", "--driver", "kubernetes", "--detach")
	for _, args := range [][]string{{"run", "kc", "say hello"}, {"exec", "kc", "--", "claude", "-p", "say hello"}} {
		execs := srv.ExecCount("websocket") + srv.ExecCount("spdy")
		_, before, _ := up.seen()
		r := cmdtest.Run(t, repo, args...)
		auth, paths, envs := up.seen()
		t.Logf("%s: exit %d, requests %v, %d execs", args[0], r.Code, paths[len(before):], srv.ExecCount("websocket")+srv.ExecCount("spdy")-execs)
		if !strings.Contains(r.Stdout, standInReply) {
			t.Errorf("%s: claude did not get the stand-in's answer: exit %d\n%s\n%s", args[0], r.Code, r.Stdout, r.Stderr)
		}
		if len(auth) == len(before) {
			t.Fatalf("%s: no request reached the stand-in", args[0])
		}
		for _, a := range auth[len(before):] {
			if a != "Bearer "+claudeAccess+"|" {
				t.Errorf("%s: the stand-in got credentials %q, want the host's", args[0], a)
			}
		}
		checkRemote(t, repo, "kc", r.Stdout+r.Stderr, envs, false)
	}
}
