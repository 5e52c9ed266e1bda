package vaulte2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

func requireGitCrypt(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("git-crypt")
	sandboxtest.Require(t, err, "git-crypt", `install git-crypt ("sudo apt-get install git-crypt")`)
}

// newRepo returns a repo set up for d, with "git loop init" run in its own
// GIT_LOOP_HOME, uninstalled when the test ends.
func newRepo(t *testing.T, d cmdtest.Driver) (string, *cmdtest.User) {
	t.Helper()
	requireGitCrypt(t)
	repo := gittest.Repo(t)
	d.Prepare(t, repo)
	e := cmdtest.NewUser(t, repo)
	cmdtest.CleanUp(t, repo, e.Run)
	e.OK("init")
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
func fillVaults(t *testing.T, repo string, e *cmdtest.User) {
	t.Helper()
	e.OK("vault", "init", "--export-key", filepath.Join(t.TempDir(), "key"))
	run(t, repo, e.WithStdin(token+"\n"), "vault", "set", "API_TOKEN", "--vault", "work")
	run(t, repo, e.WithStdin(otherToken), "vault", "set", "OTHER_TOKEN", "--vault", "other")
	src := t.TempDir()
	gittest.WriteFile(t, src, ".ssh/id_ed25519", keyBody+"\n") // 0644 on purpose
	gittest.WriteFile(t, src, ".netrc", "machine example.com password "+token+"\n")
	gittest.WriteFile(t, src, ".othercfg", otherToken+"\n")
	e.OK("vault", "mount", "add", filepath.Join(src, ".ssh"), "--vault", "work")
	e.OK("vault", "mount", "add", filepath.Join(src, ".netrc"), "--vault", "work")
	e.OK("vault", "mount", "add", filepath.Join(src, ".othercfg"), "--vault", "other")
}

// TestVaultInSandbox: a loop made with --vault work sees work's env vars and
// files (read-only, ssh modes right) and nothing of the other vault; the
// values never reach git, the loop's state dir or the container's stored
// config; a locked vault stops exec and new with how to unlock; an escape
// planted in the vault is refused.
func TestVaultInSandbox(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo, e := newRepo(t, d)
			fillVaults(t, repo, e)
			// A personal MCP server whose header names a vault variable:
			// composed as the reference, resolved by the agent from its
			// per-exec env.
			gittest.WriteFile(t, e.Clone("personal"), ".claude/settings.json",
				`{"mcpServers": {"api": {"type": "http", "url": "https://mcp.example.com", "headers": {"Authorization": "Bearer ${API_TOKEN}"}}}}`+"\n")
			gittest.Git(t, e.Clone("personal"), "add", ".claude/settings.json")
			gittest.Git(t, e.Clone("personal"), "commit", "-q", "-m", "mcp")
			e.OK("new", "x", "--vault", "work", "--driver", d.Name, "--detach")
			// git-crypt and linked worktrees do not mix (git-crypt #105):
			// the personal repo stays a single main clone.
			if wts := gittest.Git(t, e.Clone("personal"), "worktree", "list", "--porcelain"); strings.Count(wts, "worktree ") != 1 {
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
if [ -e ` + quote(filepath.Join(e.Clone("personal"), "vaults")) + ` ]; then echo vaults=visible; else echo vaults=hidden; fi
if [ -e ` + quote(filepath.Join(e.Clone("personal"), ".git")) + ` ]; then echo personalgit=visible; else echo personalgit=hidden; fi
case "$GIT_SSH_COMMAND" in *"$HOME/.ssh/id_ed25519"*IdentitiesOnly=yes*) echo sshcmd=ok;; *) echo "sshcmd=$GIT_SSH_COMMAND";; esac
`
			r := e.OK("exec", "x", "--", "sh", "-c", script)
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
			out, err := exec.Command("git", "--git-dir", e.Origin("personal"), "cat-file", "--batch-all-objects", "--batch").Output()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{token, otherToken, keyBody} {
				if strings.Contains(string(out), s) {
					t.Fatalf("the personal remote holds %q in plaintext", s)
				}
			}
			noSecretUnder(t, filepath.Join(repo, ".git", "loop"))

			if d.Name == "docker" {
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
			go func() { done <- e.Run("exec", "x", "--", "sleep", "2") }()
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
			e.OK("vault", "lock")
			rx := e.Run("exec", "x", "--", "true")
			if rx.Code == 0 || !strings.Contains(rx.Stderr, "git loop vault unlock") {
				t.Errorf("exec with a locked vault: exit %d\n%s", rx.Code, rx.Stderr)
			}
			rn := e.Run("new", "y", "--vault", "work", "--driver", d.Name, "--detach")
			if rn.Code == 0 || !strings.Contains(rn.Stderr, "git loop vault unlock") {
				t.Errorf("new with a locked vault: exit %d\n%s", rn.Code, rn.Stderr)
			}
			if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "loops", "y")); err == nil {
				t.Errorf("new with a locked vault left a loop behind")
			}
			if refs := gittest.Git(t, repo, "for-each-ref", "refs/heads/loop/y"); refs != "" {
				t.Errorf("new with a locked vault left a branch: %s", refs)
			}
			if rm := e.Run("new", "z", "--vault", "../x", "--driver", d.Name, "--detach"); rm.Code == 0 {
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
	d := cmdtest.BwrapDriver
	repo, e := newRepo(t, d)
	fillVaults(t, repo, e)
	e.OK("new", "x", "--vault", "work", "--driver", d.Name, "--detach")
	home := filepath.Join(e.Clone("personal"), "vaults", "work", "mounts", "home")
	if err := os.Symlink("/etc", filepath.Join(home, ".config")); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, e.Clone("personal"), "add", "vaults")
	gittest.Git(t, e.Clone("personal"), "commit", "-q", "-m", "planted")
	r := e.Run("exec", "x", "--", "true")
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
	d := cmdtest.BwrapDriver
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
	e.OK("new", "x", "--vault", "work", "--driver", d.Name, "--detach")
	r := e.OK("run", "x", "do it")
	for _, want := range []string{"agent-token-ok", "other=absent", "agent-key-ok"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("agent output lacks %q:\n%s\n%s", want, r.Stdout, r.Stderr)
		}
	}
	noSecretUnder(t, filepath.Join(repo, ".git", "loop"))

	// Locked: the run stops before the agent starts, and leaves no log.
	logs, _ := filepath.Glob(filepath.Join(repo, ".git", "loop", "host", "x", "log", "*"))
	e.OK("vault", "lock")
	rl := e.Run("run", "x", "again")
	if rl.Code == 0 || !strings.Contains(rl.Stderr, "git loop vault unlock") || strings.Contains(rl.Stdout, "agent-token") {
		t.Errorf("run with a locked vault: exit %d\n%s%s", rl.Code, rl.Stdout, rl.Stderr)
	}
	if after, _ := filepath.Glob(filepath.Join(repo, ".git", "loop", "host", "x", "log", "*")); len(after) != len(logs) {
		t.Errorf("run with a locked vault left a log: %v", after)
	}
}

// TestVaultOnHost: with the none driver there is no sandbox to mount home
// files in: the env arrives, git's ssh uses the vault key's private copy
// (which exists on the host), and a warning names the files not mounted.
func TestVaultOnHost(t *testing.T) {
	t.Parallel()
	repo, e := newRepo(t, cmdtest.Driver{Name: "none", Prepare: func(*testing.T, string) {}})
	fillVaults(t, repo, e)
	e.OK("new", "h", "--vault", "work", "--driver", "none", "--detach", "-q")
	script := `echo "token=$API_TOKEN"
key=$(printf '%s\n' "$GIT_SSH_COMMAND" | sed -n 's/.* -i \([^ ]*\) .*/\1/p' | tr -d "'")
if [ -f "$key" ] && grep -q -- ` + quote(keyBody) + ` "$key"; then echo key=present; else echo "key=missing ($GIT_SSH_COMMAND)"; fi`
	r := e.OK("exec", "h", "--", "sh", "-c", script)
	for _, want := range []string{"token=" + token, "key=present"} {
		if !strings.Contains(r.Stdout, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, r.Stdout)
		}
	}
	if !strings.Contains(r.Stderr, "~/.netrc") || strings.Contains(r.Stderr, "~/.ssh") {
		t.Errorf("warning about home files:\n%s", r.Stderr)
	}
}
