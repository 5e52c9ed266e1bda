package sandboxe2e_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// TestHostSecretsInEtc: a loop's sandbox, with git loop running as root
// (as in CI), reads none of the host's root-only files in /etc (shadow,
// ssh host keys, the Docker daemon's key, a secret planted for the
// test), while git, sh, user lookups and the resolver's config work. On
// docker /etc is the image's own; on bwrap it is an allow-list of the
// host's.
func TestHostSecretsInEtc(t *testing.T) {
	t.Parallel()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	marker := "gitloop-secret-" + hex.EncodeToString(b)
	planted := filepath.Join("/etc", "gitloop-test-secret-"+hex.EncodeToString(b))
	// Root, as in CI: the case where the sandbox is uid 0 too.
	err := os.WriteFile(planted, []byte(marker+"\n"), 0o600)
	sandboxtest.Require(t, err, "root", "run the tests as root (as CI does), to plant a root-only file in /etc")
	t.Cleanup(func() { _ = os.Remove(planted) })
	// The host's own shadow lines: a docker image has a shadow of its own,
	// which its root may read.
	secrets := []string{marker, "PRIVATE KEY", `"kid"`}
	if b, err := os.ReadFile("/etc/shadow"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if _, hash, ok := strings.Cut(l, ":"); ok && len(hash) > 20 {
				secrets = append(secrets, l)
			}
		}
	}
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			newLoop(t, repo, d, "a")
			got := sh(t, repo, "a", "cat /etc/shadow /etc/gshadow /etc/ssh/ssh_host_*key /etc/docker/key.json "+quote(planted)+" /etc/ssl/private/* 2>/dev/null; true")
			for i, s := range secrets {
				if strings.Contains(got, s) {
					// Not the content: the test log must not carry it.
					t.Errorf("the sandbox read a root-only host file: its output holds secret %d", i)
				}
			}
			works := sh(t, repo, "a", `git --version && getent passwd "$(id -u)" >/dev/null && echo passwd-ok && test -r /etc/resolv.conf && echo resolv-ok && getent hosts localhost >/dev/null && echo hosts-ok`)
			for _, want := range []string{"git version", "passwd-ok", "resolv-ok", "hosts-ok"} {
				if !strings.Contains(works, want) {
					t.Errorf("inside the sandbox: want %q in:\n%s", want, works)
				}
			}
		})
	}
}

// TestNewRefusesPlantedBranch: an agent creates loop/future in the shared
// ref store, on a commit of its own; a later "git loop new future" on the
// host refuses, naming the branch and its tip, makes nothing, and leaves
// the branch where the agent put it. The loop is unsealed, made so
// explicitly: a sealed sandbox cannot plant it (TestSealedCannotPlantBranch).
func TestNewRefusesPlantedBranch(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			newUnsealedLoop(t, repo, d, "a")
			evil := strings.TrimSpace(sh(t, repo, "a", `echo evil > planted && git add planted && git commit -qm planted-by-agent && sha=$(git rev-parse HEAD) && git update-ref refs/heads/loop/future "$sha" && echo "$sha"`))
			if len(evil) != 40 {
				t.Fatalf("the agent could not plant the branch: %q", evil)
			}
			r := cmdtest.Run(t, repo, "new", "future", "--driver", d.Name, "--detach")
			if r.Code != 2 {
				t.Errorf("new future over a planted branch: exit %d, want 2\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			for _, want := range []string{"loop/future", evil[:12], "git branch -D loop/future"} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("the refusal does not say %q:\n%s", want, r.Stderr)
				}
			}
			if got := strings.TrimSpace(gittest.Git(t, repo, "rev-parse", "refs/heads/loop/future")); got != evil {
				t.Errorf("loop/future moved: %s, the agent left %s", got, evil)
			}
			if r := cmdtest.Run(t, repo, "status", "future"); r.Code == 0 {
				t.Errorf("a loop future exists after the refusal:\n%s", r.Stdout)
			}
			if _, err := os.Stat(filepath.Join(repo, ".git", "worktrees", "future")); err == nil {
				t.Error("a worktree for future was made")
			}
		})
	}
}

// TestSealedCannotPlantBranch: from a sealed loop the planting attack
// reaches no host ref. The agent makes loop/future in its own clone and
// writes it at the host's ref paths (loose ref, packed-refs), at the
// host's git dir's path as it sees it, then exec, ls, status and diff
// fetch from it. No host ref but its own loop/a moves, loop/future does
// not exist on the host, and "git loop new future" makes a loop on the
// base, nowhere near the agent's commit.
func TestSealedCannotPlantBranch(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newSealedRepo(t, d)
			newLoop(t, repo, d, "a")
			common := filepath.Join(repo, ".git")
			before := gittest.Git(t, repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/", "refs/tags/", "refs/remotes/")
			evil := strings.TrimSpace(sh(t, repo, "a", "set -- "+quote(common)+"\n"+`echo evil > planted && git add planted && git commit -qm planted-by-agent && sha=$(git rev-parse HEAD) &&
git update-ref refs/heads/loop/future "$sha" && git update-ref refs/gitloop/../heads/loop/future "$sha" 2>/dev/null;
git update-ref refs/gitloop/future "$sha"; git tag v-evil "$sha";
git reset -q --hard HEAD~1;
for d in "$1/refs/heads/loop" "$1/refs/heads"; do mkdir -p "$d" 2>/dev/null; echo "$sha" > "$d/future" 2>/dev/null; done
echo "$sha refs/heads/loop/future" >> "$1/packed-refs" 2>/dev/null
git --git-dir="$1" update-ref refs/heads/loop/future "$sha" 2>/dev/null
echo "$sha"`))
			if len(evil) != 40 {
				t.Fatalf("the agent could not make its commit: %q", evil)
			}
			for _, args := range [][]string{{"ls"}, {"status", "a"}, {"diff", "a"}} {
				cmdtest.Run(t, repo, args...)
			}
			if out, err := exec.Command("git", "-C", repo, "rev-parse", "--verify", "-q", "refs/heads/loop/future").Output(); err == nil {
				t.Fatalf("the sandbox planted loop/future on the host at %s", out)
			}
			after := gittest.Git(t, repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/", "refs/tags/", "refs/remotes/")
			if after != before {
				t.Errorf("host refs moved from inside a sealed loop:\n%s\nwas\n%s", after, before)
			}
			r := cmdtest.MustRun(t, repo, "new", "future", "--driver", d.Name, "--detach")
			if got, want := gittest.Git(t, repo, "rev-parse", "loop/future"), gittest.Git(t, repo, "rev-parse", "main"); got != want {
				t.Errorf("the new loop future is at %s, want main's %s\n%s", got, want, r.Stderr)
			}
			if err := exec.Command("git", "-C", repo, "merge-base", "--is-ancestor", evil, "loop/future").Run(); err == nil {
				t.Error("the agent's commit is in the new loop's history")
			}
		})
	}
}

// TestRepoRecreatedAtSamePath: a repository deleted behind git loop's back
// (not through it) and made again at the same path is another workspace.
// Its loop of the same name gets a sandbox of its own: exec works, and a
// process the old loop's agent left running is not in it. (The old
// container is left untouched and unused: git loop cannot tell an
// orphan from a repository it cannot see.)
func TestRepoRecreatedAtSamePath(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			newLoop(t, repo, d, "a")
			const lingering = "sleep 1337"
			sh(t, repo, "a", "nohup "+lingering+" >/dev/null 2>&1 </dev/null &")
			seen := `for p in /proc/[0-9]*/cmdline; do tr '\0' ' ' <"$p"; echo; done 2>/dev/null | grep -c "^` + lingering + ` *$" || true`
			if d.Name == "docker" && strings.TrimSpace(sh(t, repo, "a", seen)) == "0" {
				t.Fatal("the lingering process did not start in the docker loop")
			}
			oldID := workspaceID(t, repo)
			t.Cleanup(func() { cmdtest.RemoveWorkspace(oldID) })
			if err := os.RemoveAll(repo); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(repo, 0o755); err != nil {
				t.Fatal(err)
			}
			gittest.Git(t, repo, "init", "-q", "-b", "main")
			gittest.WriteFile(t, repo, "README", "again\n")
			gittest.Commit(t, repo, "again")
			d.Prepare(t, repo)
			newLoop(t, repo, d, "a")
			if got := sh(t, repo, "a", "cat README"); got != "again\n" {
				t.Errorf("exec in the recreated repository's loop: README %q", got)
			}
			if n := strings.TrimSpace(sh(t, repo, "a", seen)); n != "0" {
				t.Errorf("the old loop's process (%s) runs in the new repository's sandbox (%s found)", lingering, n)
			}
			if newID := workspaceID(t, repo); newID == oldID {
				t.Errorf("the recreated repository has the deleted one's workspace id %s", oldID)
			}
		})
	}
}

// TestNoSetIDFilesLeft: with git loop running as root (as in CI), a loop's
// sandbox, unsealed and sealed, tries to leave a file that runs with its
// privileges (setuid or setgid root), a device node or a file capability
// in every writable mount it has (the worktree or its clone, $HOME, the
// agent and context dirs, whatever else is bound); afterwards the host
// finds none anywhere in the repository or the worktree, and a setuid
// file, were there one, would not run as root for another user.
func TestNoSetIDFilesLeft(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		sandboxtest.Require(t, errors.New("not root"), "root", "run the tests as root (as CI does): the attack matters when the sandbox would be uid 0")
	}
	// Every writable mount inside but the kernel's own filesystems and
	// the private /tmp and /dev, listed from mountinfo.
	const attack = `dirs=$(awk '$6 ~ /^rw/ { print $5 }' /proc/self/mountinfo | grep -Ev '^/(proc|sys|dev)(/|$)|^/(tmp)?$' | sort -u)
for d in $dirs; do [ -d "$d" ] && [ -w "$d" ] && echo "writable $d" >&2; done
sh -c "$1" sh $(for d in $dirs; do [ -d "$d" ] && [ -w "$d" ] && printf '%s ' "$d"; done)`
	for _, d := range cmdtest.Drivers {
		for _, sealed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sealed=%t", d.Name, sealed), func(t *testing.T) {
				t.Parallel()
				repo := newRepo(t, d)
				gittest.Git(t, repo, "config", "loop.sandbox.sealed", fmt.Sprint(sealed))
				wt := newLoop(t, repo, d, "a")
				r := cmdtest.Run(t, repo, "exec", "a", "--", "sh", "-c", attack, "attack", sandboxtest.SetIDAttack)
				t.Logf("the attack's mounts:\n%s", r.Stderr)
				if r.Code != 0 || !strings.HasSuffix(r.Stdout, "done\n") {
					t.Fatalf("attack: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
				}
				if !strings.Contains(r.Stderr, "writable "+wt) {
					t.Errorf("the attack did not reach the worktree %s", wt)
				}
				if got := strings.TrimSpace(r.Stdout); got != "done" {
					t.Errorf("the attack succeeded:\n%s", got)
				}
				sandboxtest.AssertNoSetIDFiles(t, repo, wt)
			})
		}
	}
}
