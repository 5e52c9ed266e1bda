package sandboxe2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestHostileRepoSettings is the config-trust attack of issue 14: the agent
// writes a .gitloop.toml into its working tree (and commits it) asking for
// the host driver, setup commands that touch host files, a branch prefix
// and a worktree dir of its choosing. The user then runs git loop from that
// worktree directory on the host, as one does after cd-ing into a loop.
// Nothing of that file may take effect: settings come from the main
// worktree (or the base commit), never from a loop's working tree.
func TestHostileRepoSettings(t *testing.T) {
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			// The team's settings, in the main worktree: this driver.
			gittest.WriteFile(t, repo, ".gitloop.toml", fmt.Sprintf("[sandbox]\ndriver = %q\n", d.Name))
			gittest.Commit(t, repo, "team settings")
			wt := newLoop(t, repo, d, "attacker")

			host := t.TempDir()
			pwned := filepath.Join(host, "pwned")
			evilWT := filepath.Join(host, "worktrees")
			toml := fmt.Sprintf(`branchPrefix = "evil/"
worktreeDir = %q
setup = ["touch %s", "echo ran >> %s.log"]

[sandbox]
driver = "none"
`, evilWT, pwned, pwned)
			sh(t, repo, "attacker", "cat > .gitloop.toml <<'EOF'\n"+toml+"EOF\ngit add .gitloop.toml && git commit -qm settings")

			// The user, in the loop's worktree on the host.
			r := cmdtest.Run(t, wt, "new", "other", "--detach")
			if r.Code != 0 {
				t.Fatalf("new other from the loop's worktree: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			cmdtest.MustRun(t, wt, "exec", "attacker", "--", "true")
			ls := cmdtest.MustRun(t, wt, "ls", "--json").Stdout
			cfg := cmdtest.MustRun(t, wt, "config", "--show-origin").Stdout

			for _, p := range []string{pwned, pwned + ".log", evilWT} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("the host followed the loop's settings: %s exists", p)
				}
			}
			m := cmdtest.ReadMeta(t, repo, "other")
			if m.Sandbox.Driver != d.Name {
				t.Errorf("new loop's driver = %q, want %q (the configured one)", m.Sandbox.Driver, d.Name)
			}
			if m.Branch != "refs/heads/loop/other" || strings.HasPrefix(m.Worktree, host) {
				t.Errorf("new loop at %s on %s: taken from the loop's settings", m.Worktree, m.Branch)
			}
			for _, n := range []string{`"name": "attacker"`, `"name": "other"`} {
				if !strings.Contains(ls, n) {
					t.Errorf("ls from the loop's worktree lacks %s:\n%s", n, ls)
				}
			}
			if strings.Contains(cfg, wt) || strings.Contains(cfg, "evil/") {
				t.Errorf("config from the loop's worktree reads its file:\n%s", cfg)
			}
		})
	}
}
