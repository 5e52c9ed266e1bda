package sandboxe2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// hostRefs is every ref of repo but those a land of loop name may move
// (its branch, its quarantine, the remote-tracking copy of its pushed
// proposal), as "sha ref" lines.
func hostRefs(t *testing.T, repo, name string) string {
	t.Helper()
	var keep []string
	for _, l := range strings.Split(gittest.Git(t, repo, "for-each-ref", "--format=%(objectname) %(refname)"), "\n") {
		_, ref, _ := strings.Cut(l, " ")
		if ref == "refs/heads/loop/"+name || ref == "refs/remotes/origin/loop/"+name || strings.HasPrefix(ref, "refs/gitloop/"+name+"/") ||
			(strings.HasPrefix(ref, "refs/loop-proposed/") && strings.HasSuffix(ref, "/"+name)) {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// realGitLoop runs the git-loop binary as a process of its own, with env
// added (the host's environment, which a sandbox cannot set).
func realGitLoop(t *testing.T, repo string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "git-loop"), args...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSealedLandAttacks: the agent answers the host's promote and sync
// with what a hostile sandbox can: a rewritten history, a pack past the
// size cap, a corrupt object, refs outside its namespace, and hooks and
// config in its clone. The test asserts on what the host did: no host ref
// moved but by a fast-forward of the loop's own branch, nothing corrupt
// or oversized entered the host's objects, nothing planted ran on the
// host, and what did land is loop/NAME as the host had it.
func TestSealedLandAttacks(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newSealedRepo(t, d)
			origin := gittest.Git(t, repo, "remote", "get-url", "origin")
			moveMain := func(file string) {
				gittest.WriteFile(t, repo, file, file+"\n")
				gittest.Commit(t, repo, "main: "+file)
				gittest.Git(t, repo, "push", "-q", "origin", "main")
			}

			t.Run("rewrite", func(t *testing.T) {
				newLoop(t, repo, d, "rw")
				good := strings.TrimSpace(sh(t, repo, "rw", "echo good > good && git add good && git commit -qm good && git rev-parse HEAD"))
				evil := strings.TrimSpace(sh(t, repo, "rw", "git reset -q --hard HEAD~1 && echo evil > evil && git add evil && git commit -qm evil && git rev-parse HEAD"))
				before := hostRefs(t, repo, "rw")
				r := cmdtest.Run(t, repo, "promote", "rw", "--layer", "code")
				if r.Code != 0 || !strings.Contains(r.Stderr, "rewrote") {
					t.Errorf("promote over a rewrite: exit %d, want 0 with the rewrite reported\n%s", r.Code, r.Stderr)
				}
				if got := gittest.Git(t, origin, "rev-parse", "refs/heads/loop/rw"); got != good {
					t.Errorf("the proposal pushed is %s, want the host's loop/rw %s (the rewrite is %s)", got, good, evil)
				}
				if after := hostRefs(t, repo, "rw"); after != before {
					t.Errorf("host refs moved:\n%s\nwant\n%s", after, before)
				}
				moveMain("rw-base")
				before = hostRefs(t, repo, "rw")
				r = cmdtest.Run(t, repo, "sync", "rw")
				if r.Code == 0 || !strings.Contains(r.Stderr, "rewrote") || !strings.Contains(r.Stderr, "git reset --hard "+good) {
					t.Errorf("sync over a rewrite: exit %d, want a refusal naming the fix\n%s", r.Code, r.Stderr)
				}
				if got := gittest.Git(t, repo, "rev-parse", "loop/rw"); got != good {
					t.Errorf("loop/rw is %s, want %s", got, good)
				}
				if after := hostRefs(t, repo, "rw"); after != before {
					t.Errorf("host refs moved:\n%s\nwant\n%s", after, before)
				}
			})

			t.Run("huge pack", func(t *testing.T) {
				newLoop(t, repo, d, "big")
				start := gittest.Git(t, repo, "rev-parse", "loop/big")
				cap := []string{"GIT_LOOP_TRANSPORT_MAX_BYTES=1000000"}
				out, err := realGitLoop(t, repo, cap, "exec", "big", "--", "sh", "-c", "head -c 3000000 /dev/urandom > big && git add big && git commit -qm big && git rev-parse HEAD")
				if err != nil {
					t.Fatalf("exec: %v\n%s", err, out)
				}
				if !strings.Contains(out, "size cap") {
					t.Errorf("the exec's fetch did not report the cap:\n%s", out)
				}
				before := hostRefs(t, repo, "big")
				out, err = realGitLoop(t, repo, cap, "promote", "big", "--layer", "code")
				if err == nil || !strings.Contains(out, "size cap") {
					t.Errorf("promote past the size cap: %v\n%s", err, out)
				}
				if got := gittest.Git(t, repo, "rev-parse", "loop/big"); got != start {
					t.Errorf("loop/big moved to %s past the cap", got)
				}
				if exec.Command("git", "-C", origin, "rev-parse", "-q", "--verify", "refs/heads/loop/big").Run() == nil {
					t.Errorf("a proposal was pushed past the cap")
				}
				if after := hostRefs(t, repo, "big"); after != before {
					t.Errorf("host refs moved:\n%s\nwant\n%s", after, before)
				}
			})

			t.Run("corrupt object", func(t *testing.T) {
				newLoop(t, repo, d, "bad")
				start := gittest.Git(t, repo, "rev-parse", "loop/bad")
				bad := strings.TrimSpace(cmdtest.Run(t, repo, "exec", "bad", "--", "sh", "-c",
					`c=$(printf 'tree %s\nparent %s\nauthor Evil <e@x> notadate +0000\ncommitter Evil <e@x> 1700000000 +0000\n\nbad\n' "$(git rev-parse HEAD^{tree})" "$(git rev-parse HEAD)" | git hash-object --literally -t commit -w --stdin) && git update-ref HEAD "$c" && echo "$c"`).Stdout)
				if len(bad) != 40 {
					t.Fatalf("no corrupt commit made inside: %q", bad)
				}
				before := hostRefs(t, repo, "bad")
				for _, args := range [][]string{{"promote", "bad", "--layer", "code"}, {"sync", "bad"}} {
					if r := cmdtest.Run(t, repo, args...); r.Code == 0 || !strings.Contains(r.Stderr, "badDate") {
						t.Errorf("%v with a corrupt object: exit %d, want fsck's refusal\n%s", args, r.Code, r.Stderr)
					}
				}
				if got := gittest.Git(t, repo, "rev-parse", "loop/bad"); got != start {
					t.Errorf("loop/bad moved to %s", got)
				}
				if exec.Command("git", "-C", repo, "cat-file", "-e", bad).Run() == nil {
					t.Errorf("the corrupt commit %s is in the host's objects", bad)
				}
				if after := hostRefs(t, repo, "bad"); after != before {
					t.Errorf("host refs moved:\n%s\nwant\n%s", after, before)
				}
			})

			t.Run("refs outside", func(t *testing.T) {
				newLoop(t, repo, d, "refs")
				newLoop(t, repo, d, "other")
				work := strings.TrimSpace(sh(t, repo, "refs", "echo w > w && git add w && git commit -qm w && git rev-parse HEAD"))
				sh(t, repo, "refs", "c=$(git commit-tree HEAD^{tree} -m planted) && for r in refs/heads/main refs/remotes/origin/main refs/tags/v1 refs/heads/loop/other refs/gitloop/other/head refs/gitloop/incoming/0 refs/loop-discarded/code/x refs/notes/commits; do git update-ref $r $c; done")
				moveMain("refs-base")
				before := hostRefs(t, repo, "refs")
				cmdtest.MustRun(t, repo, "sync", "refs")
				cmdtest.MustRun(t, repo, "promote", "refs", "--layer", "code")
				if after := hostRefs(t, repo, "refs"); after != before {
					t.Errorf("host refs moved:\n%s\nwant\n%s", after, before)
				}
				if exec.Command("git", "-C", repo, "rev-parse", "-q", "--verify", "refs/gitloop/other/head").Run() == nil {
					t.Errorf("a fetch of loop refs wrote loop other's quarantine")
				}
				if !isAncestorIn(t, repo, work, "loop/refs") || !isAncestorIn(t, repo, "main", "loop/refs") {
					t.Errorf("loop/refs lacks the work or main after sync")
				}
			})

			t.Run("hooks and config", func(t *testing.T) {
				newLoop(t, repo, d, "hk")
				marker := filepath.Join(t.TempDir(), "ran-on-host")
				plant := "printf '#!/bin/sh\\ntouch " + marker + " 2>/dev/null; touch \"$GIT_DIR/ran-inside\" 2>/dev/null || touch .git/ran-inside; exit 0\\n' > /tmp/h && chmod +x /tmp/h && " +
					"for h in pre-receive update post-receive post-update reference-transaction push-to-checkout pre-merge-commit prepare-commit-msg commit-msg post-commit post-merge post-checkout; do cp /tmp/h .git/hooks/$h; done && " +
					"git config core.fsmonitor /tmp/h && git config diff.external /tmp/h && git config merge.evil.driver /tmp/h && git config uploadpack.packObjectsHook /tmp/h && " +
					"git config receive.denyCurrentBranch ignore && echo '* merge=evil diff=evil' > .gitattributes && git add .gitattributes && git commit -qm attrs"
				sh(t, repo, "hk", plant)
				moveMain("hk-base")
				before := hostRefs(t, repo, "hk")
				cmdtest.MustRun(t, repo, "sync", "hk")
				cmdtest.MustRun(t, repo, "promote", "hk", "--layer", "code")
				cmdtest.MustRun(t, repo, "review", "merge", "code/hk")
				cmdtest.Run(t, repo, "diff", "hk")
				if !isAncestorIn(t, repo, "refs/remotes/origin/main", "loop/hk") {
					// main moved by the review merge: loop/hk is merged into it.
					if !isAncestorIn(t, repo, "loop/hk", "refs/remotes/origin/main") {
						t.Errorf("loop/hk is neither merged into main nor holding it")
					}
				}
				// The control: the planted hooks did run, inside.
				if _, err := os.Stat(filepath.Join(hostTree(t, repo, "hk", ""), ".git", "ran-inside")); err != nil {
					t.Errorf("the planted hooks never ran inside (%v): the attack proved nothing", err)
				}
				// Every other loop's branch may have been fast-forwarded by
				// review's cheap fetch of the loops whose sandbox ref moved;
				// the rest stands.
				before, after := nonLoopRefs(before), nonLoopRefs(hostRefs(t, repo, "hk"))
				cmdtest.MustRun(t, repo, "rm", "hk")
				if _, err := os.Stat(marker); err == nil {
					t.Fatal("a hook or command planted in the sandbox's clone ran on the host")
				}
				// review merge moved main and origin/main on purpose.
				drop := func(s string) string {
					var keep []string
					for _, l := range strings.Split(s, "\n") {
						if !strings.HasSuffix(l, " refs/remotes/origin/main") && !strings.HasSuffix(l, " refs/heads/main") {
							keep = append(keep, l)
						}
					}
					return strings.Join(keep, "\n")
				}
				if drop(after) != drop(before) {
					t.Errorf("host refs moved:\n%s\nwant\n%s", after, before)
				}
			})
		})
	}
}

func isAncestorIn(t *testing.T, repo, a, b string) bool {
	t.Helper()
	return exec.Command("git", "-C", repo, "merge-base", "--is-ancestor", a, b).Run() == nil
}

// nonLoopRefs drops from refs lines the refs loops own (their branches,
// quarantines and pushed proposals).
func nonLoopRefs(refs string) string {
	var keep []string
	for _, l := range strings.Split(refs, "\n") {
		_, ref, _ := strings.Cut(l, " ")
		if strings.HasPrefix(ref, "refs/heads/loop/") || strings.HasPrefix(ref, "refs/remotes/origin/loop/") || strings.HasPrefix(ref, "refs/gitloop/") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
