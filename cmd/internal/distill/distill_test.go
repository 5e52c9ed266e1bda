package distill_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestDistill(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, _ := cmdtest.WithHome(t)
	cmdtest.MustRunWith(t, repo, o, "init", "-q")
	cmdtest.MustRunWith(t, repo, o, "new", "work", "--driver", "none", "-d")
	// A transcript, as an agent would leave it.
	agent := filepath.Join(repo, ".git", "loop", "loops", "work", "agent")
	gittest.WriteFile(t, agent, "projects/-ws/s1.jsonl", `{"type":"user","message":{"content":"fix it"}}`+"\n")
	gittest.WriteFile(t, filepath.Join(repo, ".git", "loop", "host", "work", "log"), "20260101-run.log", "run log\n")
	if err := os.Symlink("/etc/passwd", filepath.Join(agent, "projects", "-ws", "leak.jsonl")); err != nil {
		t.Fatal(err)
	}
	r := cmdtest.MustRunWith(t, repo, o, "distill", "work")
	wt := strings.TrimSpace(r.Stdout)
	if filepath.Base(filepath.Dir(wt)) != "distill-work" {
		t.Fatalf("distill loop at %s", wt)
	}
	if b, err := os.ReadFile(filepath.Join(wt, "source", "agent", "projects", "-ws", "s1.jsonl")); err != nil || !strings.Contains(string(b), "fix it") {
		t.Errorf("session not snapshotted: %v", err)
	}
	if _, err := os.ReadFile(filepath.Join(wt, "source", "log", "20260101-run.log")); err != nil {
		t.Errorf("run log not snapshotted: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(wt, "source", "agent", "projects", "-ws", "leak.jsonl")); !os.IsNotExist(err) {
		t.Errorf("a symlink in the agent dir was followed or copied")
	}
	claude, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "loops", "distill-work", "agent", "CLAUDE.md"))
	if !strings.Contains(string(claude), "Distill loop") || !strings.Contains(string(claude), wt+"/source") {
		t.Errorf("distill doctrine missing:\n%s", claude)
	}
	if l := cmdtest.LsJSON(t, repo); len(l) != 2 || l[0].Dirty {
		t.Errorf("distill worktree should be clean: %+v", l)
	}
	if r := cmdtest.RunWith(t, repo, o, "distill", "nope"); r.Code != 1 {
		t.Errorf("distill of a missing loop: %d %s", r.Code, r.Stderr)
	}
}
