package lifecycle_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/status"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/gitloop/workspace/workspacetest"
)

func TestMain(m *testing.M) { gittest.Main(m, nil) }

func service(tb testing.TB, repo string) *workspace.Workspace {
	tb.Helper()
	return workspacetest.New(tb, repo)
}

// BenchmarkNew is "git loop new --driver none" in-process; compare with
// BenchmarkWorktreeAdd, its floor.
func BenchmarkNew(b *testing.B) {
	repo := gittest.Repo(b)
	svc := service(b, repo)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: fmt.Sprintf("b%d", i), Driver: "none"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWorktreeAdd(b *testing.B) {
	repo := gittest.Repo(b)
	b.ResetTimer()
	for i := range b.N {
		cmd := exec.Command("git", "worktree", "add", "-q", "-b", fmt.Sprintf("floor/%d", i), filepath.Join(repo, ".git", "floor", fmt.Sprint(i)), "main")
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v %s", err, out)
		}
	}
}

// BenchmarkList200 is "git loop ls" over 200 loops with a warm status
// cache; compare with BenchmarkWorktreeList.
func BenchmarkList200(b *testing.B) {
	repo := gittest.Repo(b)
	svc := service(b, repo)
	ctx := context.Background()
	for i := range 200 {
		if _, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: fmt.Sprintf("l%d", i), Driver: "none"}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := status.List(ctx, svc); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := status.List(ctx, svc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWorktreeList(b *testing.B) {
	repo := gittest.Repo(b)
	for i := range 200 {
		gittest.Git(b, repo, "worktree", "add", "-q", "-b", fmt.Sprintf("l/%d", i), filepath.Join(repo, ".git", "wt", fmt.Sprint(i)))
	}
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command("git", "worktree", "list")
		cmd.Dir = repo
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
