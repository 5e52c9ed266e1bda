package newcmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestLoopContextFrozenAndPinned(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, home := cmdtest.WithHome(t)
	cmdtest.MustRunWith(t, repo, o, "init", "-q")
	origin := filepath.Join(home, "data", "origins", "knowledge.git")
	// A teammate adds a page to knowledge, after our clone was made.
	team := filepath.Join(t.TempDir(), "team")
	gittest.Git(t, filepath.Dir(team), "clone", "-q", origin, team)
	first := gittest.Git(t, team, "rev-parse", "HEAD")
	gittest.WriteFile(t, team, "page.md", "# v2\n")
	second := gittest.Commit(t, team, "v2")
	gittest.Git(t, team, "push", "-q", "origin", "HEAD:main")

	cmdtest.MustRunWith(t, repo, o, "new", "cached", "--driver", "none", "-d", "--context", "cached")
	cmdtest.MustRunWith(t, repo, o, "new", "latest", "--driver", "none", "-d")
	cmdtest.MustRunWith(t, repo, o, "new", "pinned", "--driver", "none", "-d", "--context", first)
	for name, want := range map[string]string{"cached": first, "latest": second, "pinned": first} {
		m := cmdtest.ReadMeta(t, repo, name)
		if m.Versions["knowledge"] != want {
			t.Errorf("%s: knowledge version %s, want %s", name, m.Versions["knowledge"], want)
		}
		kdir := filepath.Join(repo, ".git", "loop", "loops", name, "context", "knowledge")
		if got := gittest.Git(t, kdir, "rev-parse", "HEAD"); got != want {
			t.Errorf("%s: knowledge worktree at %s, want %s", name, got, want)
		}
		if m.Versions["notes"] == "" || m.Versions["personal"] == "" {
			t.Errorf("%s: versions %v", name, m.Versions)
		}
	}
	// Frozen: a later team change does not move an existing loop.
	gittest.WriteFile(t, team, "page.md", "# v3\n")
	gittest.Commit(t, team, "v3")
	gittest.Git(t, team, "push", "-q", "origin", "HEAD:main")
	kdir := filepath.Join(repo, ".git", "loop", "loops", "latest", "context", "knowledge")
	if got := gittest.Git(t, kdir, "rev-parse", "HEAD"); got != second {
		t.Errorf("existing loop's context moved to %s", got)
	}
	st := cmdtest.MustRunWith(t, repo, o, "status", "latest")
	if !strings.Contains(st.Stdout, "knowledge "+second[:12]) {
		t.Errorf("status does not show the knowledge version:\n%s", st.Stdout)
	}
	if r := cmdtest.RunWith(t, repo, o, "new", "bad", "--driver", "none", "-d", "--context", "no-such-thing"); r.Code != 2 {
		t.Errorf("bad --context: %d %s", r.Code, r.Stderr)
	}
}

func TestReposRoster(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, _ := cmdtest.WithHome(t)
	other := filepath.Join(t.TempDir(), "api")
	gittest.Git(t, filepath.Dir(other), "init", "-q", "-b", "main", other)
	gittest.WriteFile(t, other, "API.md", "the api\n")
	gittest.Commit(t, other, "api")
	gittest.WriteFile(t, repo, ".gitloop.toml", "repos = [{name = \"api\", url = \""+other+"\"}, {name = \"web\", url = \"/nowhere\"}]\n")
	gittest.Commit(t, repo, "roster")
	cmdtest.MustRunWith(t, repo, o, "init", "-q")
	cmdtest.MustRunWith(t, repo, o, "new", "r1", "--driver", "none", "-d", "--repo", "api")
	m := cmdtest.ReadMeta(t, repo, "r1")
	clone := m.Repos["api"]
	if b, err := os.ReadFile(filepath.Join(clone, "API.md")); err != nil || string(b) != "the api\n" {
		t.Fatalf("api not cloned at %q: %v", clone, err)
	}
	reposMD, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "loops", "r1", "agent", "REPOS.md"))
	if !strings.Contains(string(reposMD), "| api |") || !strings.Contains(string(reposMD), clone) || !strings.Contains(string(reposMD), "| web |") {
		t.Errorf("REPOS.md:\n%s", reposMD)
	}
	if r := cmdtest.RunWith(t, repo, o, "new", "r2", "--driver", "none", "-d", "--repo", "nope"); r.Code != 2 || !strings.Contains(r.Stderr, "api, web") {
		t.Errorf("unknown repo: %d %s", r.Code, r.Stderr)
	}
}
