package gitloop

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/none"
)

// TestPlainGit: GIT_LOOP_PLAIN_GIT and the plainGit setting turn off the
// shortcuts they name (git/shortcuts.go), and only those (the setting only
// those that come after reading it): new leaves the
// worktree to "git worktree add" (whose admin dir git names after the
// worktree's directory, where the shortcut names it after the loop),
// ls keeps no fingerprint, and settings come from "git config".
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
			r, err := Discover(ctx, repo)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := GitConfigEntries(ctx, repo)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(config.Sources{Git: entries, Env: os.LookupEnv})
			if err != nil {
				t.Fatal(err)
			}
			svc := &Service{Repo: r, Config: cfg, Git: &git.Runner{}, Engine: func(context.Context, string) (sandbox.Engine, error) { return none.New(), nil }}
			if _, ok := gitConfigInProcess(ctx, repo, os.LookupEnv, t.TempDir()); ok != c.config {
				t.Errorf("settings read in-process: %v, want %v", ok, c.config)
			}
			m, err := svc.New(ctx, NewOptions{Name: "p", Driver: "none"})
			if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(filepath.Join(r.CommonDir, "worktrees", "p"))
			if direct := statErr == nil; direct != c.worktree {
				t.Errorf("worktree admin dir named after the loop: %v, want %v (written by the shortcut)", direct, c.worktree)
			}
			svc.statusRacyWindow = 1 // a fingerprint is kept whenever the shortcut is on
			for range 2 {
				st, err := svc.Status(ctx, "p")
				if err != nil {
					t.Fatal(err)
				}
				if st.Changes != gitStatusCount(t, m.Worktree) {
					t.Errorf("status says %d changes, git status %d", st.Changes, gitStatusCount(t, m.Worktree))
				}
			}
			if cached := svc.readStatusCache("p").Dirty != nil; cached != c.status {
				t.Errorf("status fingerprint kept: %v, want %v", cached, c.status)
			}
		})
	}
}

// TestDiscoverMatchesGit: the repository found in-process (the
// git.RepoDiscovery shortcut) is the one git finds, from every kind of
// place; where the shortcut leaves it to git, git answers.
func TestDiscoverMatchesGit(t *testing.T) {
	ctx := context.Background()
	repo := gittest.Repo(t)
	linked := filepath.Join(t.TempDir(), "linked")
	gittest.Git(t, repo, "worktree", "add", "-q", "-b", "l", linked)
	bare := filepath.Join(t.TempDir(), "bare.git")
	gittest.Git(t, repo, "clone", "-q", "--bare", repo, bare)
	bareWT := filepath.Join(t.TempDir(), "bare-wt")
	gittest.Git(t, bare, "worktree", "add", "-q", "-b", "b", bareWT)
	for _, dir := range []string{repo, filepath.Join(repo, "src"), linked, filepath.Join(linked, "src"), filepath.Join(repo, ".git"), bareWT, bare} {
		t.Setenv(git.PlainEnv, "discover")
		want, wantErr := Discover(ctx, dir)
		t.Setenv(git.PlainEnv, "")
		got, err := Discover(ctx, dir)
		if err != nil || wantErr != nil {
			t.Fatalf("%s: %v / git: %v", dir, err, wantErr)
		}
		if *got != *want {
			t.Errorf("%s: found %+v, git finds %+v", dir, *got, *want)
		}
		if _, fast := discoverFast(dir); !fast && (dir == repo || dir == linked) {
			t.Errorf("%s: left to git", dir)
		}
	}
}
