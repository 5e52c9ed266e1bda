package sandboxe2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// gitDirRedirect is what a hostile agent tries on the git dir it shares
// with the host (an unsealed loop): a repository of its own whose config
// runs a payload for every git that reads it, then (1) the worktree's
// admin dir pointed at it through commondir, (2) config.worktree files
// in the common dir and in the admin dir, which git reads once anyone
// turns on extensions.worktreeConfig (git sparse-checkout does). Each
// write that succeeds prints what it did.
const gitDirRedirect = `
admin=$(sed -n 's/^gitdir: //p' .git)
common=$1; marker=$2
evil=$HOME/evil.git
git init -q --bare "$evil" 2>/dev/null
cp -r "$common/objects/." "$evil/objects/" 2>/dev/null
payload="sh -c 'echo ran >> $marker; cat'"
git config -f "$evil/config" filter.x.clean "$payload"
git config -f "$evil/config" filter.x.smudge "$payload"
git config -f "$evil/config" core.fsmonitor "sh -c 'echo ran >> $marker'"
echo '* filter=x' > .gitattributes
echo "$evil" > "$admin/commondir" 2>/dev/null && echo "rewrote commondir"
echo "$evil" > "$admin/gitdir.new" 2>/dev/null && mv "$admin/gitdir.new" "$admin/gitdir" 2>/dev/null && echo "replaced gitdir"
for f in "$common/config.worktree" "$admin/config.worktree"; do
  git config -f "$f" core.fsmonitor "sh -c 'echo ran >> $marker'" 2>/dev/null &&
  git config -f "$f" filter.x.clean "$payload" &&
  git config -f "$f" loop.sandbox.driver none && echo "wrote $f"
done
echo done`

// TestGitDirRedirects: on every isolating driver the host's git dir is
// read-only where it decides what git runs, so none of the writes above
// lands, and the host's commands (git loop's and the user's own git, with
// worktreeConfig on as after a sparse checkout) run no payload and keep
// their driver. The loop is unsealed, made so explicitly: a sealed loop
// shares no git dir (TestGitDirRedirectsSealed).
func TestGitDirRedirects(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			newUnsealedLoop(t, repo, d, "a")
			gittest.Git(t, repo, "config", "loop.sandbox.driver", d.Name)
			gittest.Git(t, repo, "config", "extensions.worktreeConfig", "true")
			marker := filepath.Join(hostHome, "gitdir-redirect-"+d.Name)
			common := filepath.Join(repo, ".git")
			r := cmdtest.Run(t, repo, "exec", "a", "--", "sh", "-c", gitDirRedirect, "attack", common, marker)
			if r.Code != 0 || !strings.Contains(r.Stdout, "done") {
				t.Fatalf("attack script: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
				if line != "done" {
					t.Errorf("the attack succeeded: %q", line)
				}
			}
			// What a user runs on the host afterwards.
			for _, args := range [][]string{{"ls"}, {"status", "a"}, {"diff", "a"}} {
				cmdtest.Run(t, repo, args...)
			}
			wt := cmdtest.ReadMeta(t, repo, "a").Worktree
			gittest.Git(t, wt, "status", "--porcelain")
			gittest.Git(t, repo, "status", "--porcelain")
			r = cmdtest.MustRun(t, repo, "config", "get", "sandbox.driver")
			if got := strings.TrimSpace(r.Stdout); got != d.Name {
				t.Errorf("sandbox.driver after the attack: %q, want %q", got, d.Name)
			}
			if data, err := os.ReadFile(marker); err == nil {
				t.Errorf("the host ran the agent's payload:\n%s", data)
			}
		})
	}
}

// gitDirRedirectSealed is the same attack from a sealed loop, whose
// sandbox has a clone of its own and sees of the host's git dir only its
// objects, read-only: it writes the payload everywhere the host's git or
// git loop would read config, a hook or a worktree's admin files, at their
// host paths, and says which writes it believed landed.
const gitDirRedirectSealed = `
common=$1; marker=$2
payload="sh -c 'echo ran >> $marker; cat'"
echo '* filter=x' > .gitattributes
for f in "$common/config" "$common/config.worktree" "$common/worktrees/a/config.worktree" "$common/worktrees/a/commondir" \
    "$common/hooks/post-checkout" "$common/hooks/reference-transaction" "$common/info/attributes" "$common/loop/config.toml"; do
  mkdir -p "$(dirname "$f")" 2>/dev/null
  { printf '[core]\n\tfsmonitor = %s\n[filter "x"]\n\tclean = %s\n[loop "sandbox"]\n\tdriver = none\n' "$payload" "$payload" > "$f"; } 2>/dev/null && echo "wrote $f"
done
echo done`

// TestGitDirRedirectsSealed: from a sealed loop, the writes of the
// redirect attack reach nothing the host reads: whatever the sandbox
// believes it wrote, the host's git dir is unchanged, the host's commands
// run no payload and keep their driver.
func TestGitDirRedirectsSealed(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newSealedRepo(t, d)
			newLoop(t, repo, d, "a")
			gittest.Git(t, repo, "config", "loop.sandbox.driver", d.Name)
			gittest.Git(t, repo, "config", "extensions.worktreeConfig", "true")
			marker := filepath.Join(hostHome, "gitdir-redirect-sealed-"+d.Name)
			common := filepath.Join(repo, ".git")
			config := readOrEmpty(filepath.Join(common, "config"))
			r := cmdtest.Run(t, repo, "exec", "a", "--", "sh", "-c", gitDirRedirectSealed, "attack", common, marker)
			if r.Code != 0 || !strings.Contains(r.Stdout, "done") {
				t.Fatalf("attack script: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			t.Logf("inside, the sandbox believed:\n%s", r.Stdout)
			for _, args := range [][]string{{"ls"}, {"status", "a"}, {"diff", "a"}} {
				cmdtest.Run(t, repo, args...)
			}
			gittest.Git(t, repo, "status", "--porcelain")
			if got := readOrEmpty(filepath.Join(common, "config")); got != config {
				t.Errorf("the host's config changed:\n%s", got)
			}
			for _, f := range []string{"config.worktree", "worktrees/a/config.worktree", "worktrees/a/commondir", "hooks/post-checkout", "hooks/reference-transaction", "info/attributes", "loop/config.toml"} {
				if got := readOrEmpty(filepath.Join(common, f)); strings.Contains(got, marker) {
					t.Errorf("the sandbox wrote %s in the host's git dir:\n%s", f, got)
				}
			}
			r = cmdtest.MustRun(t, repo, "config", "get", "sandbox.driver")
			if got := strings.TrimSpace(r.Stdout); got != d.Name {
				t.Errorf("sandbox.driver after the attack: %q, want %q", got, d.Name)
			}
			if data, err := os.ReadFile(marker); err == nil {
				t.Errorf("the host ran the agent's payload:\n%s", data)
			}
		})
	}
}

func readOrEmpty(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
