package sandboxe2e_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// TestSealedSandboxNotRoot: with git loop run as root on a repository
// root owns, a sealed loop's sandbox runs as an unprivileged user, not
// uid 0. As an attacker inside, it cannot write the host's mounted
// object store or a file the host made in its loop dir after the fact,
// cannot chown a file to root or take another's, and cannot become root
// again; and the loop's whole life (commit inside, diff, sync, promote,
// rm) works as before, while the host's own state stays root's.
func TestSealedSandboxNotRoot(t *testing.T) {
	t.Parallel()
	sandboxtest.Require(t, rootErr(), "root", "run the tests as root (as CI does): the case where the sandbox would be uid 0")
	want := strconv.Itoa(workspace.SandboxFallbackUID)
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newSealedRepo(t, d)
			newLoop(t, repo, d, "u")
			objects := filepath.Join(repo, ".git", "objects")
			got := sh(t, repo, "u", `id -u; id -g; id -G
touch `+quote(filepath.Join(objects, "planted"))+` 2>/dev/null && echo wrote-objects
echo x > mine && chown 0:0 mine 2>/dev/null && echo chowned-to-root; rm -f mine
chown `+want+` /etc/hostname 2>/dev/null && echo chowned-etc
git config user.name 2>/dev/null; echo a > a.txt && git add a.txt && git commit -qm inside && echo committed
stat -c %u "$HOME" .git/HEAD "$GIT_LOOP_AGENT_DIR"
setpriv --reuid 0 true 2>/dev/null && echo became-root; true`)
			lines := strings.Split(strings.TrimSpace(got), "\n")
			if len(lines) < 3 || lines[0] != want || lines[1] != want || lines[2] != want {
				t.Errorf("id -u, -g, -G inside: %q, want %s each (no root group either)", lines, want)
			}
			for _, bad := range []string{"wrote-objects", "chowned-to-root", "chowned-etc", "became-root"} {
				if strings.Contains(got, bad) {
					t.Errorf("the sandbox's user could: %s\n%s", bad, got)
				}
			}
			if !strings.Contains(got, "committed") {
				t.Fatalf("git commit inside failed:\n%s", got)
			}
			if !strings.Contains(got, want+"\n"+want+"\n"+want) {
				t.Errorf("$HOME, the clone and the agent dir are not the sandbox user's:\n%s", got)
			}
			if _, err := os.Stat(filepath.Join(objects, "planted")); err == nil {
				t.Error("a file was planted in the host's object store")
			}
			// The host's own state stays root's: the records, the lock
			// dir and its object store.
			for _, p := range []string{filepath.Join(repo, ".git", "loop"), filepath.Join(repo, ".git", "loop", "host", "u"), objects, filepath.Join(repo, ".git", "refs", "heads", "loop")} {
				if uid := ownerOf(t, p); uid != 0 {
					t.Errorf("%s is uid %d's, want root's", p, uid)
				}
			}
			// The life: diff, sync, promote and rm, from the host.
			if diff := cmdtest.MustRun(t, repo, "diff", "u").Stdout; !strings.Contains(diff, "a.txt") {
				t.Errorf("diff u: %q", diff)
			}
			gittest.Git(t, repo, "commit", "-q", "--allow-empty", "-m", "on main")
			cmdtest.MustRun(t, repo, "sync", "u")
			if got := sh(t, repo, "u", "git log --format=%s -3"); !strings.Contains(got, "on main") {
				t.Errorf("sync did not bring main in: %q", got)
			}
			cmdtest.MustRun(t, repo, "promote", "u", "--layer", "code")
			cmdtest.MustRun(t, repo, "review", "merge", "code/u")
			if got := gittest.Git(t, repo, "log", "--format=%s", "--all"); !strings.Contains(got, "Merge loop/u") {
				t.Errorf("promote and review merge did not land loop/u:\n%s", got)
			}
			cmdtest.MustRun(t, repo, "rm", "u")
			if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "sandbox", "u")); err == nil {
				t.Error("rm left the sandbox's clone")
			}
		})
	}
}

func rootErr() error {
	if os.Getuid() != 0 {
		return syscall.EPERM
	}
	return nil
}

func ownerOf(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// sandboxUID is the uid a loop's sandbox runs as: yours, or as root the
// fallback user for a sealed loop of a repository root owns.
func sandboxUID(t *testing.T, repo, name string) int {
	t.Helper()
	if os.Getuid() == 0 && isSealed(t, repo, name) {
		return workspace.SandboxFallbackUID
	}
	return os.Getuid()
}

// sandboxUser is sandboxUID and the name the sandbox knows it by (me for
// yourself).
func sandboxUser(t *testing.T, repo, name, me string) (int, string) {
	t.Helper()
	uid := sandboxUID(t, repo, name)
	if uid != os.Getuid() {
		return uid, "loop"
	}
	return uid, me
}

// giveToSandbox gives what the test wrote in a loop's clone, standing in
// for its sandbox, to the sandbox's user.
func giveToSandbox(t *testing.T, repo, name, dir string) {
	t.Helper()
	uid := sandboxUID(t, repo, name)
	if err := workspace.OwnAll(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
}
