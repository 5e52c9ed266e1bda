package status

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/none"
)

// TestPlainGit: GIT_LOOP_PLAIN_GIT and the plainGit setting turn off the
// shortcuts they name (git/shortcuts.go), and only those (the setting only
// those that come after reading it): new leaves the
// worktree to "git worktree add" (whose admin dir git names after the
// worktree's directory, where the shortcut names it after the loop),
// and ls keeps no fingerprint (settings: workspace's TestPlainGitConfig).
func TestPlainGit(t *testing.T) {
	cases := []struct {
		name, env, setting string
		worktree, status   bool // shortcuts expected on
		config             bool
	}{
		{name: "shortcuts", worktree: true, status: true, config: true},
		{name: "env", env: "1"},
		{name: "env list", env: "status", worktree: true, config: true},
		{name: "env discover", env: "discover", status: true}, // config reading starts from discovery
		{name: "setting", setting: "true", config: true},
		{name: "setting list", setting: "worktree", status: true, config: true},
		{name: "setting discover", setting: "discover", worktree: true, status: true, config: true},
		{name: "env off beats setting", env: "false", setting: "true", worktree: true, status: true, config: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(git.PlainEnv, c.env)
			if c.env == "" {
				os.Unsetenv(git.PlainEnv)
			}
			ctx := context.Background()
			repo := gittest.Repo(t)
			if c.setting != "" {
				gittest.Git(t, repo, "config", "loop.plainGit", c.setting)
			}
			r, err := workspace.Discover(ctx, repo)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := workspace.GitConfigEntries(ctx, repo)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(config.Sources{Git: entries, Env: os.LookupEnv})
			if err != nil {
				t.Fatal(err)
			}
			svc := &workspace.Workspace{Repo: r, Config: cfg, Git: &git.Runner{}, Engine: func(context.Context, string) (sandbox.Engine, error) { return none.New(), nil }}
			m, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "p", Driver: "none"})
			if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(filepath.Join(r.CommonDir, "worktrees", "p"))
			if direct := statErr == nil; direct != c.worktree {
				t.Errorf("worktree admin dir named after the loop: %v, want %v (written by the shortcut)", direct, c.worktree)
			}
			svc.StatusRacyWindow = 1 // a fingerprint is kept whenever the shortcut is on
			for range 2 {
				st, err := Status(ctx, svc, "p")
				if err != nil {
					t.Fatal(err)
				}
				if st.Changes != gitStatusCount(t, m.Worktree) {
					t.Errorf("status says %d changes, git status %d", st.Changes, gitStatusCount(t, m.Worktree))
				}
			}
			if cached := readStatusCache(svc, "p").Dirty != nil; cached != c.status {
				t.Errorf("status fingerprint kept: %v, want %v", cached, c.status)
			}
		})
	}
}
