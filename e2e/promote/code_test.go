package promotee2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestSyncCodeConflict: the base and the loop change the same line. Sync
// stops with the merge in progress where the loop works (inside a sealed
// loop's sandbox), says what to do, and loses nothing: --abort restores
// the loop, a second sync stops again, and --continue after the files are
// resolved lands both sides on loop/NAME.
func TestSyncCodeConflict(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, e *env, k kind) {
		gittest.WriteFile(t, e.Repo, "shared.go", "one\n")
		gittest.Commit(t, e.Repo, "shared")
		e.newLoopKind("x")
		mine := e.commitIn("x", "shared.go", "one by the loop\n", "loop edits")
		gittest.WriteFile(t, e.Repo, "shared.go", "one by main\n")
		base := gittest.Commit(t, e.Repo, "main edits")

		r := e.Run("sync", "x")
		if r.Code != 4 || !strings.Contains(r.Stderr, "shared.go") || !strings.Contains(r.Stderr, "git loop sync --continue x") {
			t.Fatalf("sync conflict: exit %d\n%s", r.Code, r.Stderr)
		}
		if k.driver != nil && !strings.Contains(r.Stderr, "inside its sandbox") {
			t.Errorf("the conflict does not say it is inside the sandbox:\n%s", r.Stderr)
		}
		if got := e.head("x"); got != mine {
			t.Errorf("loop/x moved to %s on a stopped sync, want %s", got, mine)
		}
		// Safe to re-run: refused while stopped, nothing changed.
		if r := e.Run("sync", "x"); r.Code != 2 || !strings.Contains(r.Stderr, "--continue") {
			t.Errorf("sync over a stopped one: exit %d %s", r.Code, r.Stderr)
		}
		e.OK("sync", "x", "--abort")
		if got := e.head("x"); got != mine {
			t.Errorf("loop/x after abort %s, want %s", got, mine)
		}
		if st := strings.TrimSpace(e.shIn("x", "git status --porcelain")); st != "" {
			t.Errorf("abort left changes: %q", st)
		}
		if r := e.Run("sync", "x"); r.Code != 4 {
			t.Fatalf("second sync: exit %d %s", r.Code, r.Stderr)
		}
		if r := e.Run("sync", "x", "--continue"); r.Code != 4 || !strings.Contains(r.Stderr, "shared.go") {
			t.Errorf("continue with markers left: exit %d %s", r.Code, r.Stderr)
		}
		e.writeIn("x", "shared.go", "one by both\n")
		e.OK("sync", "x", "--continue")
		if !isAncestor(t, e.Repo, base, "loop/x") || !isAncestor(t, e.Repo, mine, "loop/x") {
			t.Errorf("a side is missing from loop/x after continue")
		}
		if got := gittest.Git(t, e.Repo, "show", "loop/x:shared.go"); got != "one by both" {
			t.Errorf("shared.go on loop/x: %q", got)
		}
		if _, err := os.Stat(filepath.Join(e.Repo, ".git", "loop", "host", "x", "run.json")); !os.IsNotExist(err) {
			t.Errorf("run state left behind: %v", err)
		}
	})
}

// TestCodeDiscard: a code proposal discarded is kept under
// refs/loop-discarded/, and the loop's branch goes back to main (inside a
// sealed loop's sandbox first, then on the host), the loop living on.
func TestCodeDiscard(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, e *env, _ kind) {
		gittest.Git(t, e.Repo, "remote", "remove", "origin")
		e.newLoopKind("d")
		c := e.commitIn("d", "d.go", "package main\n", "d")
		e.OK("promote", "d", "--layer", "code")
		r := e.OK("review", "discard", "code/d")
		if !strings.Contains(r.Stdout, "refs/loop-discarded/code/d-") {
			t.Errorf("discard output:\n%s", r.Stdout)
		}
		main := gittest.Git(t, e.Repo, "rev-parse", "main")
		if got := e.head("d"); got != main {
			t.Errorf("loop/d at %s after discard, want main %s", got, main)
		}
		if got := gittest.Git(t, e.Repo, "for-each-ref", "--format=%(objectname)", "refs/loop-discarded/code/"); got != c {
			t.Errorf("backup ref at %q, want %s", got, c)
		}
		if got := strings.TrimSpace(e.shIn("d", "git rev-parse HEAD; test -e d.go && echo still there; true")); got != main {
			t.Errorf("the loop's tree after discard: %q", got)
		}
		// The loop goes on: new work after the discard reaches loop/d.
		next := e.commitIn("d", "e.go", "package main\n", "e")
		if got := e.head("d"); got != next {
			t.Errorf("loop/d at %s after new work, want %s", got, next)
		}
	})
}

// TestSealedCheckoutCommitSyncs: a commit the user makes in the host
// checkout of a sealed loop ("git loop checkout") goes into the sandbox by
// sync, is merged there, and comes back on loop/NAME; the checkout follows.
func TestSealedCheckoutCommitSyncs(t *testing.T) {
	t.Parallel()
	forSealed(t, func(t *testing.T, e *env, _ kind) {
		e.newLoopKind("h")
		e.commitIn("h", "inside.go", "package main\n", "inside")
		co := strings.TrimSpace(e.OK("checkout", "h").Stdout)
		gittest.WriteFile(t, co, "host.go", "package main\n")
		mine := gittest.Commit(t, co, "from the host checkout")
		e.OK("sync", "h")
		if !isAncestor(t, e.Repo, mine, "loop/h") {
			t.Fatalf("the host checkout's commit is not on loop/h")
		}
		if got := strings.TrimSpace(e.shIn("h", "cat host.go && git status --porcelain")); got != "package main" {
			t.Errorf("inside after sync: %q", got)
		}
		if got := gittest.Git(t, co, "rev-parse", "HEAD"); got != e.head("h") {
			t.Errorf("the checkout at %s, want loop/h %s", got, e.head("h"))
		}
		// And it lands: promote proposes the branch holding it.
		e.OK("promote", "h", "--layer", "code")
		if got := gittest.Git(t, gittest.Git(t, e.Repo, "remote", "get-url", "origin"), "rev-parse", "refs/heads/loop/h"); got != e.head("h") {
			t.Errorf("proposal pushed at %s, want %s", got, e.head("h"))
		}
	})
}

// TestSealedRmRefuses: rm of a sealed loop refuses work that is not
// promoted, naming how to keep it, and work its sandbox rewrote.
func TestSealedRmRefuses(t *testing.T) {
	t.Parallel()
	forSealed(t, func(t *testing.T, e *env, _ kind) {
		e.newLoopKind("r")
		first := e.commitIn("r", "a.go", "package main\n", "a")
		r := e.Run("rm", "r")
		if r.Code != 5 || !strings.Contains(r.Stderr, `git loop promote r`) || !strings.Contains(r.Stderr, "git branch NAME loop/r") {
			t.Errorf("rm of unpromoted work: exit %d\n%s", r.Code, r.Stderr)
		}
		// Committed inside, never fetched (the exec's own fetch aside):
		// rm fetches first and still refuses.
		e.OK("promote", "r", "--layer", "code")
		e.OK("review", "merge", "code/r")
		e.shIn("r", "git reset -q --hard HEAD~1 && echo b > b && git add b && git commit -qm rewritten")
		if got := e.head("r"); got != first {
			t.Fatalf("loop/r moved to %s on a rewrite", got)
		}
		r = e.Run("rm", "r")
		if r.Code != 5 || !strings.Contains(r.Stderr, "rewrote") || !strings.Contains(r.Stderr, "refs/gitloop/r/head") {
			t.Errorf("rm of a rewrite: exit %d\n%s", r.Code, r.Stderr)
		}
		e.OK("rm", "r", "--force")
	})
}
