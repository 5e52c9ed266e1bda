package status

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/workspace/workspacetest"
)

// TestStatusCacheExact changes a worktree in every way git status can see
// and checks that ls, served from its cache whenever it can, always
// agrees with git status.
func TestStatusCacheExact(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	ctx := context.Background()
	svc := workspacetest.New(t, repo)
	svc.StatusRacyWindow = 30 * time.Millisecond
	m, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "c", Driver: "none"})
	if err != nil {
		t.Fatal(err)
	}
	wt := m.Worktree
	gittest.WriteFile(t, wt, "empty/.keep-not", "")
	os.Remove(filepath.Join(wt, "empty/.keep-not")) // an empty directory git does not show
	gittest.WriteFile(t, wt, "logs/a.log", "ignored\n")

	steps := []struct {
		name string
		do   func()
	}{
		{"nothing", func() {}},
		{"edit tracked, same size", func() { gittest.WriteFile(t, wt, "README.md", "# DEMO\n") }},
		{"restore it", func() { gittest.Git(t, wt, "checkout", "--", "README.md") }},
		{"file in an empty dir", func() { gittest.WriteFile(t, wt, "empty/new.txt", "x") }},
		{"remove it", func() { os.Remove(filepath.Join(wt, "empty/new.txt")) }},
		{"file beside ignored ones", func() { gittest.WriteFile(t, wt, "logs/b.txt", "x") }},
		{"more ignored files", func() { gittest.WriteFile(t, wt, "logs/c.log", "x"); os.Remove(filepath.Join(wt, "logs/b.txt")) }},
		{"nested untracked", func() { gittest.WriteFile(t, wt, "src/deep/x.go", "package x") }},
		{"stage it", func() { gittest.Git(t, wt, "add", "src/deep/x.go") }},
		{"commit it", func() { gittest.Git(t, wt, "commit", "-qm", "x") }},
		{"delete tracked", func() { os.Remove(filepath.Join(wt, "src/main.go")) }},
		{"ignore rule for it in info/exclude", func() {
			gittest.Git(t, wt, "checkout", "--", "src/main.go")
			gittest.WriteFile(t, wt, "tmp.out", "x")
		}},
		{"exclude", func() { gittest.WriteFile(t, svc.Repo.CommonDir, "info/exclude", "*.out\n") }},
		{"untrack via .gitignore", func() { gittest.WriteFile(t, wt, ".gitignore", ".env\n*.log\n*.out\nsrc/deep/\n") }},
		{"mode change", func() { os.Chmod(filepath.Join(wt, "README.md"), 0o755) }},
		{"reset hard", func() { gittest.Git(t, wt, "reset", "-q", "--hard"); os.Chmod(filepath.Join(wt, "README.md"), 0o644) }},
	}
	cached := 0
	for _, st := range steps {
		st.do()
		for pass := range 2 { // the second pass is answered from the cache
			got, err := Status(ctx, svc, "c")
			if err != nil {
				t.Fatal(err)
			}
			want := gitStatusCount(t, wt)
			if got.Changes != want {
				t.Fatalf("after %q (pass %d): ls says %d changes, git status %d", st.name, pass, got.Changes, want)
			}
			time.Sleep(60 * time.Millisecond) // past the racy window, so the next look can use the cache
		}
		if c := readStatusCache(svc, "c"); c.Dirty != nil {
			cached++
		}
	}
	switch shortcut := git.FromEnv(os.LookupEnv).Use(git.StatusCache); {
	case shortcut && cached < len(steps)/2:
		t.Errorf("the cache was stored after only %d of %d steps", cached, len(steps))
	case !shortcut && cached > 0:
		t.Errorf("with the status shortcut off, the cache was stored after %d steps", cached)
	}
}

func gitStatusCount(t *testing.T, wt string) int {
	t.Helper()
	cmd := exec.Command("git", "status", "--porcelain")
	cmd.Dir = wt
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return 0
	}
	return len(strings.Split(s, "\n"))
}
