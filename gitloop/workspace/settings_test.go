package workspace

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// The repository's .gitloop.toml comes from the main worktree whatever
// worktree a command runs in (a loop's is the agent's to write), and, with
// no main worktree (bare), from the file committed at HEAD.
func TestRepoSettingsFromMainWorktree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	load := func(dir string) (agent, origin string) {
		t.Helper()
		r, err := Discover(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(ctx, r, ConfigInputs{Dirs: UserDirs{Config: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Agent(), cfg.Origin("agent").String()
	}

	repo := gittest.Repo(t)
	gittest.WriteFile(t, repo, ".gitloop.toml", "agent = \"team\"\n")
	gittest.Commit(t, repo, "settings")
	linked := filepath.Join(t.TempDir(), "linked")
	gittest.Git(t, repo, "worktree", "add", "-q", "-b", "loop/x", linked)
	gittest.WriteFile(t, linked, ".gitloop.toml", "agent = \"evil\"\n")
	if err := os.MkdirAll(filepath.Join(linked, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{repo, linked, filepath.Join(linked, "sub")} {
		if a, o := load(dir); a != "team" || o != "repo:"+filepath.Join(repo, ".gitloop.toml") {
			t.Errorf("from %s: agent %q from %s", dir, a, o)
		}
	}

	bare := filepath.Join(t.TempDir(), "bare.git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", repo, bare).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	bwt := filepath.Join(t.TempDir(), "bwt")
	gittest.Git(t, bare, "worktree", "add", "-q", "-b", "loop/y", bwt)
	gittest.WriteFile(t, bwt, ".gitloop.toml", "agent = \"evil\"\n")
	for _, dir := range []string{bare, bwt} {
		if a, o := load(dir); a != "team" || o != "repo:HEAD:.gitloop.toml" {
			t.Errorf("bare, from %s: agent %q from %s", dir, a, o)
		}
	}
}
