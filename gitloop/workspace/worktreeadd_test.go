package workspace

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestDirectWorktrees: new writes worktrees itself only in a repository
// where git's add would write nothing more.
func TestDirectWorktrees(t *testing.T) {
	t.Setenv(git.PlainEnv, "") // the shortcut's own judgement, in either mode
	ctx := context.Background()
	cases := []struct {
		name  string
		setup func(t *testing.T, repo string)
		want  bool
	}{
		{"plain", func(*testing.T, string) {}, true},
		{"sparse checkout on", func(t *testing.T, repo string) { gittest.Git(t, repo, "config", "core.sparseCheckout", "true") }, false},
		{"sparse checkout off", func(t *testing.T, repo string) { gittest.Git(t, repo, "config", "core.sparseCheckout", "false") }, true},
		{"sparse patterns", func(t *testing.T, repo string) { gittest.WriteFile(t, repo, ".git/info/sparse-checkout", "/a\n") }, false},
		{"worktree config", func(t *testing.T, repo string) { gittest.Git(t, repo, "config", "extensions.worktreeConfig", "true") }, false},
		{"ref storage", func(t *testing.T, repo string) { gittest.Git(t, repo, "config", "extensions.refStorage", "reftable") }, false},
		{"relative paths", func(t *testing.T, repo string) { gittest.Git(t, repo, "config", "worktree.useRelativePaths", "true") }, false},
		{"relative paths, no value", func(t *testing.T, repo string) {
			gittest.WriteFile(t, repo, ".git/config", "[core]\n\trepositoryformatversion = 0\n[worktree]\n\tuseRelativePaths\n")
		}, false},
		{"git -c", func(t *testing.T, repo string) { t.Setenv("GIT_CONFIG_PARAMETERS", "'core.sparsecheckout'='true'") }, false},
		{"include", func(t *testing.T, repo string) { gittest.Git(t, repo, "config", "include.path", "other") }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := gittest.Repo(t)
			c.setup(t, repo)
			if got := DirectWorktrees(ctx, repo); got != c.want {
				t.Errorf("directWorktrees = %v, want %v", got, c.want)
			}
		})
	}
	if DirectWorktrees(ctx, "") {
		t.Error("a bare repository (no main worktree) allows direct worktrees")
	}
	// Global config counts too.
	repo := gittest.Repo(t)
	global := filepath.Join(t.TempDir(), "global")
	if err := os.WriteFile(global, []byte("[worktree]\n\tuseRelativePaths = yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_CONFIG_GLOBAL", global)
	if DirectWorktrees(ctx, repo) {
		t.Error("worktree.useRelativePaths in the global config allows direct worktrees")
	}
}
