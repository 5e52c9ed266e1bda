package newcmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/kube/kubetest"
)

// TestKubernetesLoopLife: a whole loop life on a cluster (the fake API
// server, the real client-go executor), where no host path is mounted:
// new seeds the loop's clone on its claim by a push, the .worktreeinclude
// files, $HOME and agent dir go in as tar streams; a commit made inside
// comes back by fetch; diff shows it and uncommitted work; promote lands
// it; sync pushes a new base in and merges it inside; stop and start keep
// the claim; rm refuses unfetched work, then removes pod and claim;
// uninstall removes what is left by label.
func TestKubernetesLoopLife(t *testing.T) {
	srv := kubetest.New(t)
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "loops"))
	repo := gittest.Repo(t)
	gittest.Git(t, repo, "config", "user.name", "User")
	gittest.Git(t, repo, "config", "user.email", "user@example.com")
	gittest.Git(t, repo, "config", "loop.code.gate", "direct")
	if err := os.WriteFile(filepath.Join(repo, ".env"), []byte("SECRET=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".worktreeinclude"), []byte(".env\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, repo, "add", ".worktreeinclude")
	gittest.Git(t, repo, "commit", "-qm", "include")
	run := func(args ...string) string {
		t.Helper()
		r := cmdtest.Run(t, repo, args...)
		if r.Code != 0 {
			t.Fatalf("git loop %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}
	sh := func(script string) string {
		t.Helper()
		return strings.TrimSpace(run("exec", "kx", "--", "sh", "-c", script))
	}
	run("new", "kx", "--driver", "kubernetes", "--detach")
	if pods, claims := srv.Count(); pods != 1 || claims != 1 {
		t.Fatalf("%d pods and %d claims after new, want 1 and 1", pods, claims)
	}
	m := cmdtest.ReadMeta(t, repo, "kx")
	if !m.Sandbox.Sealed || !m.Sandbox.Remote() {
		t.Fatalf("loop kx is not sealed and remote: %+v", m.Sandbox)
	}
	for _, l := range cmdtest.LsJSON(t, repo) {
		if l.Placement != "remote" {
			t.Errorf("ls --json placement of %s: %q, want remote", l.Name, l.Placement)
		}
	}
	base := gittest.Git(t, repo, "rev-parse", "main")
	if got := sh(`git rev-parse HEAD; git symbolic-ref HEAD; cat .env; cat "$HOME/.gitconfig" | grep -c email; test -d "$GIT_LOOP_AGENT_DIR" && echo agentdir; test -e .git/objects/info/alternates || echo own-objects`); got != base+"\nrefs/heads/loop/kx\nSECRET=1\n1\nagentdir\nown-objects" {
		t.Errorf("the seeded clone inside: %q", got)
	}
	inside := sh(`echo a > a.txt && git add a.txt && git commit -qm inside && git rev-parse HEAD`)
	if got := gittest.Git(t, repo, "rev-parse", "loop/kx"); got != inside {
		t.Errorf("loop/kx is %s after the exec, want the commit made inside, %s", got, inside)
	}
	sh(`echo wip > wip.txt`)
	if diff := run("diff", "kx"); !strings.Contains(diff, "a.txt") || !strings.Contains(diff, "wip.txt") {
		t.Errorf("diff kx: %q, want the commit and the uncommitted file", diff)
	}
	if r := cmdtest.Run(t, repo, "rm", "kx"); r.Code != 5 {
		t.Errorf("rm of a loop with work inside: exit %d, want 5\n%s", r.Code, r.Stderr)
	}
	sh(`rm wip.txt`)
	// A new base on the host, synced in: pushed, merged inside.
	if err := os.WriteFile(filepath.Join(repo, "b.txt"), []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, repo, "add", "b.txt")
	gittest.Git(t, repo, "commit", "-qm", "host")
	run("sync", "kx")
	if got := sh(`cat b.txt a.txt`); got != "b\na" {
		t.Errorf("after sync, inside: %q", got)
	}
	if got := gittest.Git(t, repo, "merge-base", "--is-ancestor", "main", "loop/kx"); got != "" {
		t.Errorf("main is not in loop/kx after sync: %s", got)
	}
	run("stop", "kx")
	if pods, claims := srv.Count(); pods != 0 || claims != 1 {
		t.Errorf("%d pods and %d claims after stop, want 0 and 1", pods, claims)
	}
	run("start", "kx")
	if got := sh(`cat a.txt`); got != "a" {
		t.Errorf("after stop and start: %q", got)
	}
	t.Logf("promote: %s", run("promote", "kx", "--layer", "code"))
	if got := gittest.Git(t, repo, "show", "origin/main:a.txt"); got != "a" {
		t.Errorf("a.txt on origin/main after promote: %q", got)
	}
	run("rm", "kx")
	if pods, claims := srv.Count(); pods != 0 || claims != 0 {
		t.Errorf("%d pods and %d claims after rm, want none", pods, claims)
	}
	run("new", "ky", "--driver", "kubernetes", "--detach")
	r := cmdtest.Run(t, repo, "uninstall", "--yes", "--force")
	if r.Code != 0 {
		t.Fatalf("uninstall: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if pods, claims := srv.Count(); pods != 0 || claims != 0 {
		t.Errorf("%d pods and %d claims after uninstall, want none", pods, claims)
	}
}
