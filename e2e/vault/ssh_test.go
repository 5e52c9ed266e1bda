package vaulte2e_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

const installSSHD = `install Debian's openssh-server ("sudo apt-get install openssh-server")`

// sshdPath finds sshd; when it is missing and the tests are required to
// run (GIT_LOOP_TEST_REQUIRE) as root with apt-get, it installs
// openssh-server first, as scripts/test.sh does.
func sshdPath(t *testing.T) string {
	t.Helper()
	find := func() (string, error) {
		if p, err := exec.LookPath("sshd"); err == nil {
			return p, nil
		}
		if _, err := os.Stat("/usr/sbin/sshd"); err == nil {
			return "/usr/sbin/sshd", nil
		}
		return "", fmt.Errorf("sshd not found")
	}
	p, err := find()
	if err != nil && os.Getenv(sandboxtest.RequireEnv) != "" && os.Getuid() == 0 {
		if _, aerr := exec.LookPath("apt-get"); aerr == nil {
			cmd := exec.Command("apt-get", "install", "-y", "-qq", "--no-install-recommends", "openssh-server")
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, ierr := cmd.CombinedOutput(); ierr != nil {
				t.Logf("apt-get install openssh-server: %v\n%s", ierr, out)
			}
			p, err = find()
		}
	}
	sandboxtest.Require(t, err, "sshd", installSSHD)
	return p
}

func sshKeygen(t *testing.T, path string) string {
	t.Helper()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", filepath.Base(path), "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(pub))
}

// startSSHD runs sshd on a loopback port accepting only the given public
// key (no passwords, no keyboard-interactive) and returns its port and its
// host key line for known_hosts.
func startSSHD(t *testing.T, authorized string) (port int, hostKey string) {
	t.Helper()
	sshd := sshdPath(t)
	dir := t.TempDir()
	hostKey = sshKeygen(t, filepath.Join(dir, "host_ed25519"))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(authorized+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	if os.Getuid() == 0 {
		_ = os.MkdirAll("/run/sshd", 0o755) // privilege separation dir
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
LogLevel VERBOSE
`, port, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"))
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Logf("sshd log:\n%s", b)
		}
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i > 50 {
			b, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Fatalf("sshd did not start: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return port, hostKey
}

// TestLoopGitUsesVaultKey: the knowledge remote is behind an ssh server
// that accepts only the vault's key. A loop with the vault fetches
// knowledge from inside its sandbox; a loop without it, and the host's own
// key, cannot.
func TestLoopGitUsesVaultKey(t *testing.T) {
	t.Parallel()
	d := cmdtest.BwrapDriver // the host's ssh client, as the sandbox sees /usr
	if _, err := exec.LookPath("ssh"); err != nil {
		sandboxtest.Require(t, err, "sshd", `install openssh-client ("sudo apt-get install openssh-client")`)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	repo, e := newRepo(t, d)
	// The ssh server listens on the host's loopback, which loops reach
	// only with the host network (see docs/security.md).
	gittest.Git(t, repo, "config", "loop.sandbox.network", "host")
	keys := t.TempDir()
	vaultPub := sshKeygen(t, filepath.Join(keys, "id_ed25519"))
	hostPriv := filepath.Join(keys, "host_user_key")
	sshKeygen(t, hostPriv)
	port, hostKey := startSSHD(t, vaultPub)

	// The knowledge clone's origin is the same bare repo, over ssh.
	knowledgeOrigin := filepath.Join(e.Home, "data", "origins", "knowledge.git")
	url := fmt.Sprintf("ssh://%s@127.0.0.1:%d%s", me.Username, port, knowledgeOrigin)
	clone := ""
	matches, _ := filepath.Glob(filepath.Join(e.Home, "data", "*", "knowledge*", ".git"))
	matches2, _ := filepath.Glob(filepath.Join(e.Home, "data", "knowledge*", ".git"))
	for _, m := range append(matches, matches2...) {
		clone = filepath.Dir(m)
	}
	if clone == "" {
		t.Fatalf("no knowledge clone under %s", e.Home)
	}
	gittest.Git(t, clone, "remote", "set-url", "origin", url)

	// The vault: the key and the server's host key.
	e.OK("vault", "init", "--export-key", filepath.Join(t.TempDir(), "key"))
	known := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(known, []byte(fmt.Sprintf("[127.0.0.1]:%d %s\n", port, hostKey)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.OK("vault", "mount", "add", filepath.Join(keys, "id_ed25519"), "--as", ".ssh/id_ed25519", "--vault", "work")
	e.OK("vault", "mount", "add", known, "--as", ".ssh/known_hosts", "--vault", "work")
	e.OK("vault", "mount", "add", known, "--as", ".ssh/known_hosts", "--vault", "plain")

	// A new commit on the knowledge remote for the loops to fetch.
	work := filepath.Join(t.TempDir(), "k")
	gittest.Git(t, filepath.Dir(work), "clone", "-q", knowledgeOrigin, work)
	gittest.WriteFile(t, work, "fresh.md", "fresh knowledge\n")
	want := gittest.Commit(t, work, "fresh")
	gittest.Git(t, work, "push", "-q", "origin", "HEAD:main")

	e.OK("new", "withkey", "--vault", "work", "--driver", d.Name, "--detach", "--context", "cached")
	e.OK("new", "nokey", "--vault", "plain", "--driver", d.Name, "--detach", "--context", "cached")

	fetch := `git -C "$GIT_LOOP_KNOWLEDGE" fetch -q origin && git -C "$GIT_LOOP_KNOWLEDGE" rev-parse origin/main`
	r := e.Run("exec", "withkey", "--", "sh", "-c", fetch)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != want {
		t.Errorf("fetch with the vault key: exit %d, %q (want %s)\n%s", r.Code, r.Stdout, want, r.Stderr)
	}
	r = e.Run("exec", "nokey", "--", "sh", "-c", `GIT_SSH_COMMAND="ssh -o BatchMode=yes" `+fetch)
	if r.Code == 0 {
		t.Errorf("a loop without the vault key fetched over ssh:\n%s", r.Stdout)
	}
	// git loop's own context fetch for a new loop (--context latest) goes
	// with the vault's key: the loop starts from the fresh commit. Without
	// the key it falls back to the cached commit, with a warning.
	e.OK("new", "latest", "--vault", "work", "--driver", d.Name, "--detach", "--context", "latest")
	// (safe.directory: as root the loop's own clone is its sandbox user's.)
	if got := gittest.Git(t, filepath.Join(repo, ".git", "loop", "loops", "latest", "context", "knowledge"), "-c", "safe.directory=*", "rev-parse", "HEAD"); got != want {
		t.Errorf("loop made with the vault's key starts knowledge at %s, want %s", got, want)
	}
	gittest.Git(t, clone, "update-ref", "-d", "refs/remotes/origin/main")
	rn := e.OK("new", "stale", "--vault", "plain", "--driver", d.Name, "--detach", "--context", "latest")
	if !strings.Contains(rn.Stderr, "fetch failed") {
		t.Errorf("new without the key: no fetch warning\n%s", rn.Stderr)
	}
	if got := gittest.Git(t, filepath.Join(repo, ".git", "loop", "loops", "stale", "context", "knowledge"), "-c", "safe.directory=*", "rev-parse", "HEAD"); got == want {
		t.Errorf("a loop without the vault's key fetched the fresh commit")
	}

	// The host's own key (not authorized) is refused too: the server is
	// key-only, and only the vault's key is on it.
	host := exec.Command("git", "-C", clone, "fetch", "-q", "origin")
	host.Env = append(os.Environ(), "GIT_SSH_COMMAND=ssh -F /dev/null -i "+hostPriv+" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null")
	if out, err := host.CombinedOutput(); err == nil {
		t.Errorf("the host's key fetched from the key-only server:\n%s", out)
	} else if !strings.Contains(string(out), "Permission denied") {
		t.Errorf("host fetch failed for another reason than auth: %s", out)
	}
}
