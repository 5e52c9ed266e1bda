package workspace

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestPlainGitConfig: GIT_LOOP_PLAIN_GIT turns off the in-process reading
// of settings where it names it (or discovery, which that reading starts
// from); the plainGit setting cannot, since it is read by that reading.
func TestPlainGitConfig(t *testing.T) {
	cases := []struct {
		name, env, setting string
		config             bool
	}{
		{name: "shortcuts", config: true},
		{name: "env", env: "1"},
		{name: "env list", env: "status", config: true},
		{name: "env discover", env: "discover"},
		{name: "setting", setting: "true", config: true},
		{name: "env off beats setting", env: "false", setting: "true", config: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(git.PlainEnv, c.env)
			if c.env == "" {
				os.Unsetenv(git.PlainEnv)
			}
			repo := gittest.Repo(t)
			if c.setting != "" {
				gittest.Git(t, repo, "config", "loop.plainGit", c.setting)
			}
			if _, ok := gitConfigInProcess(context.Background(), repo, os.LookupEnv, t.TempDir()); ok != c.config {
				t.Errorf("settings read in-process: %v, want %v", ok, c.config)
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
