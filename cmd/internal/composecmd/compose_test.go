package composecmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestComposeAtNew(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, home := cmdtest.WithHome(t)
	cmdtest.MustRunWith(t, repo, o, "init", "-q")
	// The team adds a profile and a settings file to knowledge.
	team := filepath.Join(t.TempDir(), "team")
	gittest.Git(t, filepath.Dir(team), "clone", "-q", filepath.Join(home, "data", "origins", "knowledge.git"), team)
	gittest.WriteFile(t, team, ".gitloop/.claude/settings.json", `{"mcpServers": {"docs": {"command": "team-docs"}}, "model": "team-model"}`)
	gittest.WriteFile(t, team, ".gitloop/profiles/go/.claude/CLAUDE.md", "Use Go idioms.\n")
	gittest.WriteFile(t, team, ".gitloop/profiles/go/.claude/settings.json", `{"model": "go-model"}`)
	gittest.WriteFile(t, team, ".gitloop/profiles/go/.claude/skills/gofmt/SKILL.md", "run gofmt\n")
	gittest.Commit(t, team, "profile go")
	gittest.Git(t, team, "push", "-q", "origin", "HEAD:main")

	cmdtest.MustRunWith(t, repo, o, "new", "c1", "--driver", "none", "-d", "--profile", "go")
	agent := filepath.Join(repo, ".git", "loop", "loops", "c1", "agent")
	claude, err := os.ReadFile(filepath.Join(agent, "CLAUDE.md"))
	if err != nil {
		t.Fatal(err)
	}
	wt := filepath.Join(repo, ".git", "loop", "loops", "c1", "workdir")
	for _, want := range []string{"loop `c1`", wt, "Team instructions", "Use Go idioms.", "Personal instructions"} {
		if !strings.Contains(string(claude), want) {
			t.Errorf("composed CLAUDE.md lacks %q:\n%s", want, claude)
		}
	}
	if i, j := strings.Index(string(claude), "Team instructions"), strings.Index(string(claude), "Use Go idioms."); i < 0 || j < i {
		t.Errorf("tiers out of order")
	}
	r := cmdtest.MustRunWith(t, repo, o, "compose", "c1", "--print", "--json")
	if !strings.Contains(r.Stdout, `"profile:go"`) || !strings.Contains(r.Stdout, "skills/gofmt") {
		t.Errorf("compose --print --json:\n%s", r.Stdout)
	}
	settings, _ := os.ReadFile(filepath.Join(agent, "settings.json"))
	if !strings.Contains(string(settings), `"go-model"`) || !strings.Contains(string(settings), "team-docs") {
		t.Errorf("merged settings.json:\n%s", settings)
	}
	human := cmdtest.MustRunWith(t, repo, o, "compose", "c1", "--print")
	if !strings.Contains(human.Stdout, "profile:go") {
		t.Errorf("compose --print:\n%s", human.Stdout)
	}

	// Frozen: a team change after new is not in c1, and is in the next loop.
	gittest.WriteFile(t, team, ".gitloop/.claude/CLAUDE.md", "# Team instructions v2\n")
	gittest.Commit(t, team, "v2")
	gittest.Git(t, team, "push", "-q", "origin", "HEAD:main")
	cmdtest.MustRunWith(t, repo, o, "new", "c2", "--driver", "none", "-d")
	c1, _ := os.ReadFile(filepath.Join(agent, "CLAUDE.md"))
	c2, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "loops", "c2", "agent", "CLAUDE.md"))
	if strings.Contains(string(c1), "v2") || !strings.Contains(string(c2), "Team instructions v2") {
		t.Errorf("frozen snapshot broken: c1 has v2=%v, c2 has v2=%v", strings.Contains(string(c1), "v2"), strings.Contains(string(c2), "v2"))
	}

	// A missing profile is an error naming the ones that exist, and
	// leaves nothing behind.
	r2 := cmdtest.RunWith(t, repo, o, "new", "c3", "--driver", "none", "-d", "--profile", "rust")
	if r2.Code != 2 || !strings.Contains(r2.Stderr, `no profile "rust"`) || !strings.Contains(r2.Stderr, "go") {
		t.Fatalf("missing profile: %d %s", r2.Code, r2.Stderr)
	}
	if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "loops", "c3")); !os.IsNotExist(err) {
		t.Errorf("a refused loop left state: %v", err)
	}
}
