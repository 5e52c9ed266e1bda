package sandboxe2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// unsealedWork is what an agent leaves in an unsealed loop: a commit,
// then uncommitted work of every kind (a change, a staged new file with a
// further unstaged change, a new file in a new dir, a staged deletion, a
// link, an executable).
const unsealedWork = `set -e
echo one > one.txt && git add one.txt && git commit -qm committed
echo changed >> README.md
echo staged > staged.txt && git add staged.txt && echo more >> staged.txt
mkdir -p new/dir && echo new > new/dir/file.txt
git rm -q one.txt
ln -s README.md link
printf '#!/bin/sh\necho run\n' > tool.sh && chmod +x tool.sh
git rev-parse HEAD`

// checkWorkInside asserts that the loop's sandbox holds unsealedWork,
// what was staged still staged.
func checkWorkInside(t *testing.T, repo, name string) {
	t.Helper()
	got := sh(t, repo, name, "git status --porcelain --untracked-files=all | LC_ALL=C sort; readlink link; ./tool.sh; cat new/dir/file.txt staged.txt; tail -1 README.md")
	want := " M README.md\n?? link\n?? new/dir/file.txt\n?? tool.sh\nAM staged.txt\nD  one.txt\nREADME.md\nrun\nnew\nstaged\nmore\nchanged\n"
	if got != want {
		t.Errorf("inside the sealed loop:\n%s\nwant\n%s", got, want)
	}
}

// TestSealUnsealedLoop: a loop made unsealed keeps working when sealed
// loops are the setting; doctor names it, and doctor --fix seals it
// (refusing, and changing nothing, while its sandbox runs), keeping its
// commits and every kind of uncommitted work, leaving no host worktree.
// A second --fix has nothing to do, and the sealed loop works on.
func TestSealUnsealedLoop(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			wt := newUnsealedLoop(t, repo, d, "a")
			gittest.Git(t, repo, "config", "loop.sandbox.sealed", "true")
			head := strings.TrimSpace(sh(t, repo, "a", unsealedWork))
			if got := gittest.Git(t, repo, "rev-parse", "loop/a"); got != head {
				t.Fatalf("loop/a is %s, the commit made inside %s", got, head)
			}
			r := cmdtest.Run(t, repo, "doctor")
			if !strings.Contains(r.Stdout+r.Stderr, `unsealed loop a: `) || !strings.Contains(r.Stdout+r.Stderr, `run "git loop doctor --fix" to seal it`) {
				t.Errorf("doctor does not report the unsealed loop:\n%s%s", r.Stdout, r.Stderr)
			}
			if d.Name == "docker" {
				// Its container runs since the exec: sealing now could lose
				// what it still writes.
				r := cmdtest.Run(t, repo, "doctor", "--fix")
				if out := r.Stdout + r.Stderr; !strings.Contains(out, "its sandbox is running") || !strings.Contains(out, "git loop stop a") {
					t.Errorf("doctor --fix on a running loop does not say to stop it:\n%s", out)
				}
				if cmdtest.ReadMeta(t, repo, "a").Sandbox.Sealed {
					t.Fatal("sealed while its sandbox ran")
				}
				if _, err := os.Stat(filepath.Join(wt, "new", "dir", "file.txt")); err != nil {
					t.Fatalf("the refused seal touched the worktree: %v", err)
				}
				cmdtest.MustRun(t, repo, "stop", "a")
			}
			r = cmdtest.Run(t, repo, "doctor", "--fix")
			if !strings.Contains(r.Stdout+r.Stderr, "sealed loop a") {
				t.Errorf("doctor --fix:\n%s%s", r.Stdout, r.Stderr)
			}
			if !cmdtest.ReadMeta(t, repo, "a").Sandbox.Sealed {
				t.Fatalf("loop a is not sealed after doctor --fix:\n%s%s", r.Stdout, r.Stderr)
			}
			for _, p := range cmdtest.WorktreePaths(t, repo) {
				if p == wt {
					t.Errorf("the old host worktree %s is still registered", p)
				}
			}
			if entries, err := os.ReadDir(wt); err != nil || len(entries) != 0 {
				t.Errorf("the worktree path on the host is not an empty mount point: %v %v", entries, err)
			}
			if got := gittest.Git(t, repo, "rev-parse", "loop/a"); got != head {
				t.Errorf("loop/a moved to %s in the sealing", got)
			}
			checkWorkInside(t, repo, "a")
			diff := cmdtest.MustRun(t, repo, "diff", "a", "--", "--stat").Stdout
			for _, f := range []string{"README.md", "new/dir/file.txt", "staged.txt", "tool.sh", "link"} {
				if !strings.Contains(diff, f) {
					t.Errorf("diff a does not show %s:\n%s", f, diff)
				}
			}
			r = cmdtest.Run(t, repo, "doctor", "--fix")
			if strings.Contains(r.Stdout+r.Stderr, "seal") {
				t.Errorf("a second doctor --fix still had sealing to do:\n%s%s", r.Stdout, r.Stderr)
			}
			inside := strings.TrimSpace(sh(t, repo, "a", "git add -A && git commit -qm after && git rev-parse HEAD"))
			if got := gittest.Git(t, repo, "rev-parse", "loop/a"); got != inside {
				t.Errorf("after sealing, a commit made inside does not reach loop/a: %s, want %s", got, inside)
			}
		})
	}
}
