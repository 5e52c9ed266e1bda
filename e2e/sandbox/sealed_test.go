package sandboxe2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// newSealedRepo is newRepo with sandbox.sealed on.
func newSealedRepo(t *testing.T, d cmdtest.Driver) string {
	t.Helper()
	repo := newRepo(t, d)
	gittest.Git(t, repo, "config", "loop.sandbox.sealed", "true")
	return repo
}

// isSealed reports whether loop name of repo is sealed (the default;
// GIT_LOOP_SANDBOX_SEALED=false forces unsealed ones).
func isSealed(t *testing.T, repo, name string) bool {
	return cmdtest.ReadMeta(t, repo, name).Sandbox.Sealed
}

// hostTree is where the host finds the files a loop's sandbox wrote: its
// worktree, or a sealed loop's clone (read as plain files by tests only:
// git loop never runs git there).
func hostTree(t *testing.T, repo, name, wt string) string {
	if isSealed(t, repo, name) {
		return filepath.Join(repo, ".git", "loop", "sandbox", name, "clone")
	}
	return wt
}

// TestSealedRoundTrip: a sealed loop's sandbox works in a clone of its
// own; commits made inside reach loop/NAME at the exec's end, uncommitted
// work shows in diff and status, and rm refuses to lose either.
func TestSealedRoundTrip(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newSealedRepo(t, d)
			wt := newLoop(t, repo, d, "x")
			if m := cmdtest.ReadMeta(t, repo, "x"); !m.Sandbox.Sealed {
				t.Fatalf("loop x is not sealed: %+v", m.Sandbox)
			}
			for _, p := range cmdtest.WorktreePaths(t, repo) {
				if p == wt {
					t.Errorf("a sealed loop has a host worktree at %s", p)
				}
			}
			if got := sh(t, repo, "x", "git status --porcelain --branch && pwd"); got != "## loop/x\n"+wt+"\n" {
				t.Errorf("git status and pwd inside: %q", got)
			}
			inside := strings.TrimSpace(sh(t, repo, "x", "echo a > a.txt && git add a.txt && git commit -qm inside && git rev-parse HEAD"))
			if got := gittest.Git(t, repo, "rev-parse", "loop/x"); got != inside {
				t.Errorf("loop/x is %s after the exec, want the commit made inside, %s", got, inside)
			}
			// A host checkout for editors, fast-forwarded by later fetches.
			co := strings.TrimSpace(cmdtest.MustRun(t, repo, "checkout", "x").Stdout)
			if want := filepath.Join(filepath.Dir(repo), filepath.Base(repo)+"-x"); co != want {
				t.Errorf("checkout at %s, want %s", co, want)
			}
			if got, err := os.ReadFile(filepath.Join(co, "a.txt")); err != nil || string(got) != "a\n" {
				t.Errorf("a.txt in the checkout: %q, %v", got, err)
			}
			second := strings.TrimSpace(sh(t, repo, "x", "echo b > b.txt && git add b.txt && git commit -qm second && git rev-parse HEAD"))
			if got := gittest.Git(t, co, "rev-parse", "HEAD"); got != second {
				t.Errorf("the checkout is at %s after a fetch, want %s", got, second)
			}
			sh(t, repo, "x", "echo wip > wip.txt")
			diff := cmdtest.MustRun(t, repo, "diff", "x").Stdout
			if !strings.Contains(diff, "a.txt") || !strings.Contains(diff, "wip.txt") {
				t.Errorf("git loop diff x: %q, want the commit and the uncommitted file", diff)
			}
			if st := status(t, repo, "x"); !st.Dirty || st.Ahead != 2 {
				t.Errorf("status: dirty %v, ahead %d; want dirty, 2 ahead", st.Dirty, st.Ahead)
			} else if st.LastFetch.IsZero() || time.Since(st.LastFetch) > time.Minute {
				t.Errorf("status: last fetch %v, want just now", st.LastFetch)
			}
			ls := strings.Split(cmdtest.MustRun(t, repo, "ls").Stdout, "\n")
			if col := strings.Index(ls[0], "FETCHED"); col < 0 || len(ls) < 2 || len(ls[1]) <= col || !strings.HasSuffix(strings.Fields(ls[1][col:])[0], "s") {
				t.Errorf("ls shows no age of the last fetch (seconds):\n%s", strings.Join(ls, "\n"))
			}
			if r := cmdtest.Run(t, repo, "rm", "x"); r.Code != 5 {
				t.Errorf("rm of a loop with work: exit %d, want 5\n%s", r.Code, r.Stderr)
			}
			cmdtest.MustRun(t, repo, "rm", "x", "--force")
			if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "sandbox", "x")); !os.IsNotExist(err) {
				t.Errorf("the sandbox clone outlived rm: %v", err)
			}
			if got := gittest.Git(t, repo, "for-each-ref", "refs/gitloop/"); got != "" {
				t.Errorf("quarantine refs outlived rm:\n%s", got)
			}
			if _, err := os.Stat(co); !os.IsNotExist(err) {
				t.Errorf("the checkout outlived rm: %v", err)
			}
		})
	}
}

// TestSealedHostileClone: the agent owns its clone and makes it as
// hostile as it can (fsmonitor, diff and filter drivers, hooks, a .git
// swapped for a git dir of its own), and tries to move the host's
// branches. Then the host runs what a user would: nothing it planted runs,
// and no host ref moves but by fast-forward of its own branch.
func TestSealedHostileClone(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newSealedRepo(t, d)
			newLoop(t, repo, d, "x")
			newLoop(t, repo, d, "y")
			common := filepath.Join(repo, ".git")
			main := gittest.Git(t, repo, "rev-parse", "main")
			other := gittest.Git(t, repo, "rev-parse", "loop/y")
			marker := filepath.Join(t.TempDir(), "pwned")
			// The agent knows the host's git dir (its objects are mounted
			// at their path), so it can name its clone's host path.
			hostClone := filepath.Join(common, "loop", "sandbox", "x", "clone")
			evil := "printf '#!/bin/sh\\ntouch " + marker + "\\ncat\\n' > evil.sh && chmod +x evil.sh && cp evil.sh /tmp/evil.sh; "
			for _, p := range []string{"$PWD/evil.sh", hostClone + "/evil.sh"} {
				evil += "git config --add core.fsmonitor " + quote(p) + "; git config diff.external " + quote(p) +
					"; git config filter.x.clean " + quote(p) + "; git config filter.x.smudge " + quote(p) +
					"; git config core.hooksPath " + quote(filepath.Dir(p)) + "; "
			}
			evil += "echo '* filter=x diff=x' > .gitattributes; git config diff.x.command " + quote(hostClone+"/evil.sh") + "; " +
				"for h in post-checkout post-merge reference-transaction pre-auto-gc post-index-change; do cp evil.sh .git/hooks/$h; done; " +
				"git add -A; git commit -qm planted; echo changed > wip.txt; true"
			sh(t, repo, "x", evil)
			// A .git swapped for a git dir of the agent's making.
			sh(t, repo, "x", "mkdir -p ../evilgit && cp -r .git/. ../evilgit/ && rm -rf .git/config && printf '[core]\\n\\tfsmonitor = "+hostClone+"/evil.sh\\n\\trepositoryformatversion = 0\\n' > .git/config; true")
			// Moves of the host's refs from inside.
			for _, script := range []string{
				"git -C " + quote(common) + " update-ref refs/heads/main HEAD",
				"git --git-dir=" + quote(common) + " update-ref refs/heads/loop/y HEAD",
				"echo 0000000000000000000000000000000000000000 > " + quote(filepath.Join(common, "refs", "heads", "main")),
				"touch " + quote(filepath.Join(common, "objects", "planted")),
			} {
				if r := cmdtest.Run(t, repo, "exec", "x", "--", "sh", "-c", script); r.Code == 0 {
					t.Errorf("the sandbox could run %q", script)
				}
			}
			// The host, as a user would use it.
			cmdtest.Run(t, repo, "ls")
			cmdtest.Run(t, repo, "status", "x")
			cmdtest.Run(t, repo, "diff", "x")
			if r := cmdtest.Run(t, repo, "rm", "x"); r.Code != 5 {
				t.Errorf("rm x with uncommitted work: exit %d, want 5\n%s", r.Code, r.Stderr)
			}
			gittest.Git(t, repo, "status")
			gittest.Git(t, repo, "diff", "loop/x~1", "loop/x")
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("a command planted in the sandbox's clone ran on the host")
			}
			if got := gittest.Git(t, repo, "rev-parse", "main"); got != main {
				t.Errorf("main moved to %s from inside loop x", got)
			}
			if got := gittest.Git(t, repo, "rev-parse", "loop/y"); got != other {
				t.Errorf("loop/y moved to %s from inside loop x", got)
			}
			// The control: git run in the clone, as the host would without
			// the seal, does run what the agent planted.
			// (As root the clone is another user's, which git itself
			// refuses: the control waives that.)
			cmd := exec.Command("git", "-c", "safe.directory=*", "status")
			cmd.Dir = hostClone
			_ = cmd.Run()
			if _, err := os.Stat(marker); err != nil {
				t.Errorf("the planted clone does not fire under a plain git status (%v): the attack above proved nothing", err)
			}
		})
	}
}

// TestSealedPath: on the host a sealed loop's worktree path is only its
// clone's mount point, empty; "cd $(git loop path x)" would land there.
// path says how to get at the files instead, and prints the host
// checkout once there is one.
func TestSealedPath(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newSealedRepo(t, d)
			newLoop(t, repo, d, "p")
			r := cmdtest.Run(t, repo, "path", "p")
			if r.Code != 1 || !strings.Contains(r.Stderr, `"git loop shell p"`) || !strings.Contains(r.Stderr, `"git loop checkout p"`) || r.Stdout != "" {
				t.Fatalf("path of a sealed loop without a checkout: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			co := strings.TrimSpace(cmdtest.MustRun(t, repo, "checkout", "p").Stdout)
			if got := strings.TrimSpace(cmdtest.MustRun(t, repo, "path", "p").Stdout); got == "" || got != co {
				t.Errorf("path after checkout = %q, checkout printed %q", got, co)
			}
		})
	}
}

// TestSealedUnderDevShm: a sealed bwrap loop of a repository in /dev/shm
// reaches its own workdir (bwrap's --dev replaces the host's /dev, and
// the dirs it made there for the loop's binds were root's 0700, out of
// reach of the sandbox's user when git loop runs as root); an exec works
// in it, and a commit made inside is fetched back to loop/NAME.
func TestSealedUnderDevShm(t *testing.T) {
	t.Parallel()
	d := cmdtest.BwrapDriver
	root, err := os.MkdirTemp("/dev/shm", "gitloop-e2e-")
	sandboxtest.Require(t, err, "/dev/shm", "a writable /dev/shm (the tmpfs every Linux mounts there)")
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	repo := filepath.Join(root, "repo")
	gittest.Git(t, "", "init", "-q", "-b", "main", repo)
	gittest.WriteFile(t, repo, "README", "shm\n")
	gittest.Commit(t, repo, "init")
	d.Prepare(t, repo)
	gittest.Git(t, repo, "config", "loop.sandbox.sealed", "true")
	cmdtest.CleanUp(t, repo, nil)
	wt := newLoop(t, repo, d, "x")
	if !isSealed(t, repo, "x") {
		t.Fatal("loop x is not sealed")
	}
	if got := sh(t, repo, "x", "pwd && cat README"); got != wt+"\nshm\n" {
		t.Errorf("pwd and README inside: %q, want %q", got, wt+"\nshm\n")
	}
	inside := strings.TrimSpace(sh(t, repo, "x", "echo a > a.txt && git add a.txt && git commit -qm inside && git rev-parse HEAD"))
	if got := gittest.Git(t, repo, "rev-parse", "loop/x"); got != inside {
		t.Errorf("loop/x is %s after the exec, want the commit made inside, %s", got, inside)
	}
	if diff := cmdtest.MustRun(t, repo, "diff", "x").Stdout; !strings.Contains(diff, "a.txt") {
		t.Errorf("git loop diff x: %q, want the commit made inside", diff)
	}
}
