package vaulte2e_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/bwrap"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

const installBwrap = `install bubblewrap ("sudo apt-get install bubblewrap") on a kernel that allows user namespaces`

type driver struct {
	name    string
	prepare func(t *testing.T, repo string)
}

var (
	dockerDriver = driver{name: "docker", prepare: func(t *testing.T, repo string) {
		e := dockertest.Engine(t)
		gittest.Git(t, repo, "config", "loop.sandbox.image", dockertest.DebianImage(t, e))
	}}
	bwrapDriver = driver{name: "bwrap", prepare: func(t *testing.T, repo string) {
		e, err := bwrap.New()
		sandboxtest.Require(t, err, "bwrap", installBwrap)
		sandboxtest.Require(t, e.Probe(context.Background()), "bwrap", installBwrap)
	}}
	drivers = []driver{dockerDriver, bwrapDriver}
)

func requireGitCrypt(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("git-crypt")
	sandboxtest.Require(t, err, "git-crypt", `install git-crypt ("sudo apt-get install git-crypt")`)
}

// env is one test's git loop environment: its own GIT_LOOP_HOME.
type env struct {
	o    cmdtest.Options
	home string
}

func (e env) personal() string { return filepath.Join(e.home, "data", "personal") }
func (e env) origin() string   { return filepath.Join(e.home, "data", "origins", "personal.git") }

func (e env) with(stdin string) cmdtest.Options {
	o := e.o
	o.Stdin = stdin
	return o
}

// newRepo returns a repo set up for d, with "git loop init" run in its own
// GIT_LOOP_HOME, uninstalled when the test ends.
func newRepo(t *testing.T, d driver) (string, env) {
	t.Helper()
	requireGitCrypt(t)
	repo := gittest.Repo(t)
	d.prepare(t, repo)
	home := t.TempDir()
	e := env{o: cmdtest.Options{Env: map[string]string{"GIT_LOOP_HOME": home}}, home: home}
	t.Cleanup(func() {
		ws, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
		if r := cmdtest.RunWith(t, repo, e.o, "uninstall", "--yes", "--force"); r.Code != 0 {
			t.Errorf("cleanup: git loop uninstall: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		if id := strings.TrimSpace(string(ws)); id != "" {
			if api, err := dockertest.DialAPI(); err == nil {
				api.RemoveLabelled(sandbox.LabelWorkspace, id)
				_ = api.Close()
			}
		}
	})
	run(t, repo, e.o, "init")
	return repo, e
}

func run(t *testing.T, dir string, o cmdtest.Options, args ...string) cmdtest.Result {
	t.Helper()
	r := cmdtest.RunWith(t, dir, o, args...)
	if r.Code != 0 {
		t.Fatalf("git loop %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

const (
	token      = "tok-A1b2C3-only-in-the-work-vault"
	otherToken = "tok-Z9y8X7-only-in-the-other-vault"
	keyBody    = "-----PRIVATE-KEY-body-Q5w6E7-----"
)

// fillVaults sets up two vaults: work (a token, an ssh dir, a .netrc) and
// other (another token and file).
func fillVaults(t *testing.T, repo string, e env) {
	t.Helper()
	run(t, repo, e.o, "vault", "init", "--export-key", filepath.Join(t.TempDir(), "key"))
	run(t, repo, e.with(token+"\n"), "vault", "set", "API_TOKEN", "--vault", "work")
	run(t, repo, e.with(otherToken), "vault", "set", "OTHER_TOKEN", "--vault", "other")
	src := t.TempDir()
	gittest.WriteFile(t, src, ".ssh/id_ed25519", keyBody+"\n") // 0644 on purpose
	gittest.WriteFile(t, src, ".netrc", "machine example.com password "+token+"\n")
	gittest.WriteFile(t, src, ".othercfg", otherToken+"\n")
	run(t, repo, e.o, "vault", "mount", "add", filepath.Join(src, ".ssh"), "--vault", "work")
	run(t, repo, e.o, "vault", "mount", "add", filepath.Join(src, ".netrc"), "--vault", "work")
	run(t, repo, e.o, "vault", "mount", "add", filepath.Join(src, ".othercfg"), "--vault", "other")
}

// TestVaultInSandbox: a loop made with --vault work sees work's env vars and
// files (read-only, ssh modes right) and nothing of the other vault; the
// values never reach git, the loop's state dir or the container's stored
// config; a locked vault stops exec and new with how to unlock; an escape
// planted in the vault is refused.
func TestVaultInSandbox(t *testing.T) {
	t.Parallel()
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			repo, e := newRepo(t, d)
			fillVaults(t, repo, e)
			// A personal MCP server whose header names a vault variable:
			// composed as the reference, resolved by the agent from its
			// per-exec env.
			gittest.WriteFile(t, e.personal(), ".claude/settings.json",
				`{"mcpServers": {"api": {"type": "http", "url": "https://mcp.example.com", "headers": {"Authorization": "Bearer ${API_TOKEN}"}}}}`+"\n")
			gittest.Git(t, e.personal(), "add", ".claude/settings.json")
			gittest.Git(t, e.personal(), "commit", "-q", "-m", "mcp")
			run(t, repo, e.o, "new", "x", "--vault", "work", "--driver", d.name, "--detach")
			// git-crypt and linked worktrees do not mix (git-crypt #105):
			// the personal repo stays a single main clone.
			if wts := gittest.Git(t, e.personal(), "worktree", "list", "--porcelain"); strings.Count(wts, "worktree ") != 1 {
				t.Errorf("the personal repo has linked worktrees:\n%s", wts)
			}
			agentDir := filepath.Join(repo, ".git", "loop", "loops", "x", "agent")
			if out, _ := exec.Command("grep", "-rl", "Bearer ${API_TOKEN}", agentDir).Output(); len(out) == 0 {
				t.Errorf("the composed agent config lacks the ${API_TOKEN} reference")
			}

			script := `
echo "token=$API_TOKEN"
echo "other=${OTHER_TOKEN:-absent}"
cat "$HOME/.ssh/id_ed25519"
stat -c 'modes=%a' "$HOME/.ssh" "$HOME/.ssh/id_ed25519"
cat "$HOME/.netrc"
if [ -e "$HOME/.othercfg" ]; then echo othercfg=visible; else echo othercfg=absent; fi
if touch "$HOME/.ssh/planted" 2>/dev/null; then echo ssh=writable; else echo ssh=readonly; fi
if [ -e ` + quote(filepath.Join(e.personal(), "vaults")) + ` ]; then echo vaults=visible; else echo vaults=hidden; fi
if [ -e ` + quote(filepath.Join(e.personal(), ".git")) + ` ]; then echo personalgit=visible; else echo personalgit=hidden; fi
case "$GIT_SSH_COMMAND" in *"$HOME/.ssh/id_ed25519"*IdentitiesOnly=yes*) echo sshcmd=ok;; *) echo "sshcmd=$GIT_SSH_COMMAND";; esac
`
			r := run(t, repo, e.o, "exec", "x", "--", "sh", "-c", script)
			for _, want := range []string{
				"token=" + token, "other=absent", keyBody, "modes=700", "modes=600",
				"password " + token, "othercfg=absent", "ssh=readonly", "vaults=hidden", "personalgit=hidden", "sshcmd=ok",
			} {
				if !strings.Contains(r.Stdout, want+"\n") {
					t.Errorf("sandbox output lacks %q:\n%s\nstderr:\n%s", want, r.Stdout, r.Stderr)
				}
			}
			if strings.Contains(r.Stdout, otherToken) {
				t.Errorf("the other vault leaked into the sandbox")
			}

			// No value in any object of the personal remote, nor in the
			// loop's state dir (agent config, home, meta).
			out, err := exec.Command("git", "--git-dir", e.origin(), "cat-file", "--batch-all-objects", "--batch").Output()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{token, otherToken, keyBody} {
				if strings.Contains(string(out), s) {
					t.Fatalf("the personal remote holds %q in plaintext", s)
				}
			}
			noSecretUnder(t, filepath.Join(repo, ".git", "loop"))

			if d.name == "docker" {
				ws := strings.TrimSpace(readFile(t, filepath.Join(repo, ".git", "loop", "id")))
				c, ok := dockertest.NewAPI(t).Inspect(t, "gitloop-"+ws+"-x")
				if !ok {
					t.Fatalf("no container for loop x")
				}
				for _, s := range []string{token, otherToken, keyBody} {
					if strings.Contains(c.Raw, s) {
						t.Errorf("docker inspect shows a vault value %q", s)
					}
				}
			}

			// While an exec runs, no host process carries a value in its
			// argv (what ps shows).
			done := make(chan cmdtest.Result, 1)
			go func() { done <- cmdtest.RunWith(t, repo, e.o, "exec", "x", "--", "sleep", "2") }()
			deadline := time.Now().Add(1500 * time.Millisecond)
			for time.Now().Before(deadline) {
				if p := argvWith(token); p != "" {
					t.Errorf("host process %s has a vault value in its argv", p)
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if r := <-done; r.Code != 0 {
				t.Errorf("exec sleep: exit %d\n%s", r.Code, r.Stderr)
			}

			// A locked vault: exec and new stop and say how to unlock.
			run(t, repo, e.o, "vault", "lock")
			rx := cmdtest.RunWith(t, repo, e.o, "exec", "x", "--", "true")
			if rx.Code == 0 || !strings.Contains(rx.Stderr, "git loop vault unlock") {
				t.Errorf("exec with a locked vault: exit %d\n%s", rx.Code, rx.Stderr)
			}
			rn := cmdtest.RunWith(t, repo, e.o, "new", "y", "--vault", "work", "--driver", d.name, "--detach")
			if rn.Code == 0 || !strings.Contains(rn.Stderr, "git loop vault unlock") {
				t.Errorf("new with a locked vault: exit %d\n%s", rn.Code, rn.Stderr)
			}
			if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "loops", "y")); err == nil {
				t.Errorf("new with a locked vault left a loop behind")
			}
			if refs := gittest.Git(t, repo, "for-each-ref", "refs/heads/loop/y"); refs != "" {
				t.Errorf("new with a locked vault left a branch: %s", refs)
			}
			if rm := cmdtest.RunWith(t, repo, e.o, "new", "z", "--vault", "../x", "--driver", d.name, "--detach"); rm.Code == 0 {
				t.Errorf("new --vault ../x succeeded")
			}
		})
	}
}

// TestVaultEscapesRefused: a symlink committed into a vault's mounts/home
// (by hand or a hostile merge) stops the exec instead of binding the
// host's files.
func TestVaultEscapesRefused(t *testing.T) {
	t.Parallel()
	d := bwrapDriver
	repo, e := newRepo(t, d)
	fillVaults(t, repo, e)
	run(t, repo, e.o, "new", "x", "--vault", "work", "--driver", d.name, "--detach")
	home := filepath.Join(e.personal(), "vaults", "work", "mounts", "home")
	if err := os.Symlink("/etc", filepath.Join(home, ".config")); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, e.personal(), "add", "vaults")
	gittest.Git(t, e.personal(), "commit", "-q", "-m", "planted")
	r := cmdtest.RunWith(t, repo, e.o, "exec", "x", "--", "true")
	if r.Code == 0 || !strings.Contains(r.Stderr, "leaves the vault") && !strings.Contains(r.Stderr, "symlink") {
		t.Errorf("exec with a symlink in the vault: exit %d\n%s", r.Code, r.Stderr)
	}
}

func noSecretUnder(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, s := range []string{token, otherToken, keyBody} {
			if strings.Contains(string(data), s) {
				t.Errorf("%s holds a vault value", p)
			}
		}
		return nil
	})
}

// argvWith returns the pid of a host process whose command line holds s.
func argvWith(s string) string {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), s) {
			return filepath.Base(filepath.Dir(p))
		}
	}
	return ""
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func quote(s string) string { return sandbox.ShellQuote([]string{s}) }

// TestAgentRunGetsVault: a headless agent run gets the vault's env like an
// exec, and the run's log and record hold no value.
func TestAgentRunGetsVault(t *testing.T) {
	t.Parallel()
	d := bwrapDriver
	repo, e := newRepo(t, d)
	fillVaults(t, repo, e)
	agent := filepath.Join(t.TempDir(), "fake-agent")
	script := "#!/bin/sh\n" +
		`if [ "$API_TOKEN" = "` + token + `" ]; then echo agent-token-ok; else echo agent-token-missing; fi` + "\n" +
		`echo "other=${OTHER_TOKEN:-absent}"` + "\n" +
		`[ -r "$HOME/.ssh/id_ed25519" ] && echo agent-key-ok` + "\n"
	if err := os.WriteFile(agent, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, repo, "config", "loop.agent", agent)
	run(t, repo, e.o, "new", "x", "--vault", "work", "--driver", d.name, "--detach")
	r := run(t, repo, e.o, "run", "x", "do it")
	for _, want := range []string{"agent-token-ok", "other=absent", "agent-key-ok"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("agent output lacks %q:\n%s\n%s", want, r.Stdout, r.Stderr)
		}
	}
	noSecretUnder(t, filepath.Join(repo, ".git", "loop"))

	// Locked: the run stops before the agent starts, and leaves no log.
	logs, _ := filepath.Glob(filepath.Join(repo, ".git", "loop", "loops", "x", "log", "*"))
	run(t, repo, e.o, "vault", "lock")
	rl := cmdtest.RunWith(t, repo, e.o, "run", "x", "again")
	if rl.Code == 0 || !strings.Contains(rl.Stderr, "git loop vault unlock") || strings.Contains(rl.Stdout, "agent-token") {
		t.Errorf("run with a locked vault: exit %d\n%s%s", rl.Code, rl.Stdout, rl.Stderr)
	}
	if after, _ := filepath.Glob(filepath.Join(repo, ".git", "loop", "loops", "x", "log", "*")); len(after) != len(logs) {
		t.Errorf("run with a locked vault left a log: %v", after)
	}
}

// TestVaultOnHost: with the none driver there is no sandbox to mount home
// files in: the env arrives, git's ssh uses the vault key's private copy
// (which exists on the host), and a warning names the files not mounted.
func TestVaultOnHost(t *testing.T) {
	t.Parallel()
	repo, e := newRepo(t, driver{name: "none", prepare: func(*testing.T, string) {}})
	fillVaults(t, repo, e)
	run(t, repo, e.o, "new", "h", "--vault", "work", "--driver", "none", "--detach", "-q")
	script := `echo "token=$API_TOKEN"
key=$(printf '%s\n' "$GIT_SSH_COMMAND" | sed -n 's/.* -i \([^ ]*\) .*/\1/p' | tr -d "'")
if [ -f "$key" ] && grep -q -- ` + quote(keyBody) + ` "$key"; then echo key=present; else echo "key=missing ($GIT_SSH_COMMAND)"; fi`
	r := run(t, repo, e.o, "exec", "h", "--", "sh", "-c", script)
	for _, want := range []string{"token=" + token, "key=present"} {
		if !strings.Contains(r.Stdout, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, r.Stdout)
		}
	}
	if !strings.Contains(r.Stderr, "~/.netrc") || strings.Contains(r.Stderr, "~/.ssh") {
		t.Errorf("warning about home files:\n%s", r.Stderr)
	}
}
