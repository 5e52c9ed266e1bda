package sandboxe2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestSealedExecAsUnsealed: a sealed loop's exec runs the command through
// a wrapper that records the snapshot in the same session, yet the
// command's exit code, stdin, stdout and stderr, a signal's end and a
// program that is not there come out exactly as in an unsealed loop. A
// commit the command made is on loop/NAME, and its uncommitted work on
// the host's snapshot ref, when exec returns.
func TestSealedExecAsUnsealed(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newSealedRepo(t, d)
			newLoop(t, repo, d, "s")
			newUnsealedLoop(t, repo, d, "u")
			if !isSealed(t, repo, "s") {
				t.Fatal("loop s is not sealed")
			}
			// bwrap reports a missing program in its own words without the
			// isolated network's gate.
			envs := []map[string]string{nil}
			if d.Name == "bwrap" {
				envs = append(envs, map[string]string{"GIT_LOOP_SANDBOX_NETWORK": "none"})
			}
			for _, env := range envs {
				for _, c := range []struct {
					stdin string
					cmd   []string
				}{
					{"", []string{"true"}},
					{"", []string{"false"}},
					{"", []string{"sh", "-c", "echo out; echo err >&2; printf 'no newline'; exit 7"}},
					{"line one\nline two", []string{"sh", "-c", "cat; echo; cat >&2 </dev/null; exit 3"}},
					{"", []string{"sh", "-c", "kill -TERM $$"}},
					{"", []string{"sh", "-c", "kill -KILL $$"}},
					{"", []string{"sh", "-c", "trap 'exit 9' INT; kill -INT $$; sleep 5"}},
					{"", []string{"no-such-program-here"}},
					{"", []string{"/no/such/program"}},
					{"", []string{"/etc/hostname"}},
					{"", []string{"env", "-u", "HOSTNAME", "sh", "-c", `printf '%s|' "$0" "$@"`, "zero", "a b", "", "*"}},
				} {
					o := cmdtest.Options{Stdin: c.stdin, Env: env}
					sealed := cmdtest.RunWith(t, repo, o, append([]string{"exec", "s", "--"}, c.cmd...)...)
					plain := cmdtest.RunWith(t, repo, o, append([]string{"exec", "u", "--"}, c.cmd...)...)
					plain.Stderr = strings.ReplaceAll(plain.Stderr, "exec in u:", "exec in s:")
					if sealed != plain {
						t.Errorf("exec -- %q (env %v): sealed and unsealed differ\nsealed:   exit %d, stdout %q, stderr %q\nunsealed: exit %d, stdout %q, stderr %q",
							c.cmd, env, sealed.Code, sealed.Stdout, sealed.Stderr, plain.Code, plain.Stdout, plain.Stderr)
					}
				}
			}
			// On a terminal too (the engine's, for docker).
			// (Nothing typed: when the terminal echoes it, against the
			// output, is a race of the test's own.)
			tty := cmdtest.Options{TTY: true}
			cmd := []string{"sh", "-c", "test -t 0 && test -t 1 && echo on a terminal; exit 5"}
			sealed := cmdtest.RunWith(t, repo, tty, append([]string{"exec", "s", "--"}, cmd...)...)
			plain := cmdtest.RunWith(t, repo, tty, append([]string{"exec", "u", "--"}, cmd...)...)
			if sealed != plain {
				t.Errorf("exec on a terminal: sealed and unsealed differ\nsealed:   %+v\nunsealed: %+v", sealed, plain)
			}
			inside := strings.TrimSpace(sh(t, repo, "s", "echo a > a.txt && git add a.txt && git commit -qm inside && git rev-parse HEAD && echo wip > wip.txt"))
			if got := gittest.Git(t, repo, "rev-parse", "loop/s"); got != inside {
				t.Errorf("loop/s is %s when exec returns, want the commit made inside, %s", got, inside)
			}
			snap := gittest.Git(t, repo, "rev-parse", "-q", "--verify", "refs/gitloop/s/side/snapshot")
			if files := gittest.Git(t, repo, "diff", "--name-only", "loop/s", snap); files != "wip.txt" {
				t.Errorf("the snapshot when exec returns holds %q, want wip.txt", files)
			}
			// Nothing moved: no fetch (each one rewrites the host-only
			// record of what it saw), the host's refs stay; a change moves
			// them.
			seen := filepath.Join(repo, ".git", "loop", "sandbox", "s", "fetched")
			before, err := os.Stat(seen)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			cmdtest.MustRun(t, repo, "exec", "s", "--", "true")
			if after, err := os.Stat(seen); err != nil || !after.ModTime().Equal(before.ModTime()) {
				t.Errorf("exec -- true fetched though nothing moved (%v)", err)
			}
			if got := gittest.Git(t, repo, "rev-parse", "refs/gitloop/s/side/snapshot"); got != snap {
				t.Errorf("the snapshot moved to %s on an exec that changed nothing", got)
			}
			sh(t, repo, "s", "rm wip.txt")
			if got := gittest.Git(t, repo, "for-each-ref", "refs/gitloop/s/side/snapshot"); got != "" {
				t.Errorf("the snapshot is still there once the tree is clean: %s", got)
			}
		})
	}
}
