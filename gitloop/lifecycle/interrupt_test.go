package lifecycle_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/state"
)

// TestUndoInterruptedWorktree stops "new" at every point of its direct
// worktree add (git.StartWorktree writes the admin files in this order,
// then runs the checkout) and checks that the next command undoes it
// whole: no admin dir, worktree, branch or record left, and the name
// free for a new loop.
func TestUndoInterruptedWorktree(t *testing.T) {
	steps := []string{"admin dir", "locked", "HEAD and commondir", "worktree dir", ".git file", "gitdir", "checkout"}
	for n := range steps {
		t.Run(steps[n], func(t *testing.T) {
			ctx := context.Background()
			repo := gittest.Repo(t)
			svc := service(t, repo)
			common := filepath.Join(repo, ".git")
			sha := gittest.Git(t, repo, "rev-parse", "HEAD")
			wt := svc.WorktreePath("k")
			admin := filepath.Join(common, "worktrees", "k")
			write := func(path, data string) {
				t.Helper()
				if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := (state.Store{Root: filepath.Join(common, "loop")}).BeginIntent(state.Intent{Op: "new", Loop: "k", Branch: "refs/heads/loop/k", BranchCreated: true, BaseSHA: sha, Worktree: wt}); err != nil {
				t.Fatal(err)
			}
			do := []func(){
				func() { os.MkdirAll(admin, 0o755) },
				func() { write(filepath.Join(admin, "locked"), "initializing "+wt) },
				func() {
					write(filepath.Join(admin, "HEAD"), "ref: refs/heads/loop/k\n")
					write(filepath.Join(admin, "commondir"), "../..\n")
				},
				func() { os.MkdirAll(wt, 0o755) },
				func() { write(filepath.Join(wt, ".git"), "gitdir: "+admin+"\n") },
				func() { write(filepath.Join(admin, "gitdir"), wt+"/.git\n") },
				func() { gittest.Git(t, wt, "checkout", "-q", "--no-track", "-b", "loop/k", sha) },
			}
			for _, f := range do[:n+1] {
				f()
			}
			if _, err := lifecycle.Prune(ctx, svc, false); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{admin, wt, svc.Repo.Store().LoopDir("k")} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left: %v", p, err)
				}
			}
			if out := gittest.Git(t, repo, "branch", "--list", "loop/k"); out != "" {
				t.Errorf("branch left: %q", out)
			}
			if out := gittest.Git(t, repo, "worktree", "list"); strings.Count(out, "\n") != 0 {
				t.Errorf("worktrees left:\n%s", out)
			}
			if _, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "k", Driver: "none"}); err != nil {
				t.Fatalf("new after the undo: %v", err)
			}
			want := "k" // the shortcut names it after the loop; git after the directory
			if !git.FromEnv(os.LookupEnv).Use(git.WorktreeAdd) {
				want = filepath.Base(wt)
			}
			if got := filepath.Base(strings.TrimPrefix(strings.TrimSpace(readFile(t, filepath.Join(wt, ".git"))), "gitdir: ")); got != want {
				t.Errorf("admin dir of the new loop: %s, want %s", got, want)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
