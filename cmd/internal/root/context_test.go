package root_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/state"
)

// withHome runs git loop with its own user dirs, so tests that set up
// context layers never share them.
func withHome(t *testing.T) (cmdtest.Options, string) {
	home := t.TempDir()
	return cmdtest.Options{Env: map[string]string{"GIT_LOOP_HOME": home}}, home
}

func readMeta(t *testing.T, repo, name string) state.Meta {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, ".git", "loop", "loops", name, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m state.Meta
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustRunWith(t *testing.T, dir string, o cmdtest.Options, args ...string) cmdtest.Result {
	t.Helper()
	r := cmdtest.RunWith(t, dir, o, args...)
	if r.Code != 0 {
		t.Fatalf("git loop %v: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

func TestInitContextLayers(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, home := withHome(t)
	r := mustRunWith(t, repo, o, "init", "--json")
	var layers []gitloop.LayerInfo
	if err := json.Unmarshal([]byte(r.Stdout), &layers); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	if len(layers) != 3 {
		t.Fatalf("layers = %+v", layers)
	}
	for _, l := range layers {
		if !l.Solo || !strings.HasPrefix(l.Remote, filepath.Join(home, "data", "origins")) || !strings.HasPrefix(l.Clone, filepath.Join(home, "data")) {
			t.Errorf("layer %+v", l)
		}
	}
	for _, f := range []string{"context/knowledge-*/.gitloop/.claude/CLAUDE.md", "context/knowledge-*/.gitloop/config.toml", "context/notes-*/inbox.md", "context/notes-*/focus.md", "context/notes-*/memory/MEMORY.md", "personal/config.toml", "personal/.claude/CLAUDE.md", "personal/memory/MEMORY.md"} {
		if m, _ := filepath.Glob(filepath.Join(home, "data", f)); len(m) != 1 {
			t.Errorf("seed %s missing", f)
		}
	}
	// Again: nothing changes.
	before := gittest.Git(t, filepath.Join(home, "data", "personal"), "rev-parse", "HEAD")
	r = mustRunWith(t, repo, o, "init")
	if strings.Contains(r.Stderr, "git clone") || strings.Contains(r.Stderr, "git init") {
		t.Errorf("second init ran git again:\n%s", r.Stderr)
	}
	if after := gittest.Git(t, filepath.Join(home, "data", "personal"), "rev-parse", "HEAD"); after != before {
		t.Errorf("personal moved on re-init")
	}
}

func TestLoopContextFrozenAndPinned(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, home := withHome(t)
	mustRunWith(t, repo, o, "init", "-q")
	origin := filepath.Join(home, "data", "origins", "knowledge.git")
	// A teammate adds a page to knowledge, after our clone was made.
	team := filepath.Join(t.TempDir(), "team")
	gittest.Git(t, filepath.Dir(team), "clone", "-q", origin, team)
	first := gittest.Git(t, team, "rev-parse", "HEAD")
	gittest.WriteFile(t, team, "page.md", "# v2\n")
	second := gittest.Commit(t, team, "v2")
	gittest.Git(t, team, "push", "-q", "origin", "HEAD:main")

	mustRunWith(t, repo, o, "new", "cached", "--driver", "none", "-d", "--context", "cached")
	mustRunWith(t, repo, o, "new", "latest", "--driver", "none", "-d")
	mustRunWith(t, repo, o, "new", "pinned", "--driver", "none", "-d", "--context", first)
	for name, want := range map[string]string{"cached": first, "latest": second, "pinned": first} {
		m := readMeta(t, repo, name)
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
	st := mustRunWith(t, repo, o, "status", "latest")
	if !strings.Contains(st.Stdout, "knowledge "+second[:12]) {
		t.Errorf("status does not show the knowledge version:\n%s", st.Stdout)
	}
	if r := cmdtest.RunWith(t, repo, o, "new", "bad", "--driver", "none", "-d", "--context", "no-such-thing"); r.Code != 2 {
		t.Errorf("bad --context: %d %s", r.Code, r.Stderr)
	}
}

func TestContextWorkIsNotLost(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, _ := withHome(t)
	mustRunWith(t, repo, o, "init", "-q")
	mustRunWith(t, repo, o, "new", "n1", "--driver", "none", "-d")
	mustRunWith(t, repo, o, "exec", "n1", "--", "sh", "-c", `cd "$GIT_LOOP_NOTES" && echo "- idea" >> inbox.md && git commit -qam idea`)
	r := cmdtest.RunWith(t, repo, o, "rm", "n1")
	if r.Code != 5 || !strings.Contains(r.Stderr, "notes commit") {
		t.Fatalf("rm with a notes commit: %d %s", r.Code, r.Stderr)
	}
	mustRunWith(t, repo, o, "exec", "n1", "--", "sh", "-c", `cd "$GIT_LOOP_NOTES" && git push -q origin HEAD:main`)
	mustRunWith(t, repo, o, "rm", "n1")
}

func TestComposeAtNew(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, home := withHome(t)
	mustRunWith(t, repo, o, "init", "-q")
	// The team adds a profile and a settings file to knowledge.
	team := filepath.Join(t.TempDir(), "team")
	gittest.Git(t, filepath.Dir(team), "clone", "-q", filepath.Join(home, "data", "origins", "knowledge.git"), team)
	gittest.WriteFile(t, team, ".gitloop/.claude/settings.json", `{"mcpServers": {"docs": {"command": "team-docs"}}, "model": "team-model"}`)
	gittest.WriteFile(t, team, ".gitloop/profiles/go/.claude/CLAUDE.md", "Use Go idioms.\n")
	gittest.WriteFile(t, team, ".gitloop/profiles/go/.claude/settings.json", `{"model": "go-model"}`)
	gittest.WriteFile(t, team, ".gitloop/profiles/go/.claude/skills/gofmt/SKILL.md", "run gofmt\n")
	gittest.Commit(t, team, "profile go")
	gittest.Git(t, team, "push", "-q", "origin", "HEAD:main")

	mustRunWith(t, repo, o, "new", "c1", "--driver", "none", "-d", "--profile", "go")
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
	r := mustRunWith(t, repo, o, "compose", "c1", "--print", "--json")
	if !strings.Contains(r.Stdout, `"profile:go"`) || !strings.Contains(r.Stdout, "skills/gofmt") {
		t.Errorf("compose --print --json:\n%s", r.Stdout)
	}
	settings, _ := os.ReadFile(filepath.Join(agent, "settings.json"))
	if !strings.Contains(string(settings), `"go-model"`) || !strings.Contains(string(settings), "team-docs") {
		t.Errorf("merged settings.json:\n%s", settings)
	}
	human := mustRunWith(t, repo, o, "compose", "c1", "--print")
	if !strings.Contains(human.Stdout, "profile:go") {
		t.Errorf("compose --print:\n%s", human.Stdout)
	}

	// Frozen: a team change after new is not in c1, and is in the next loop.
	gittest.WriteFile(t, team, ".gitloop/.claude/CLAUDE.md", "# Team instructions v2\n")
	gittest.Commit(t, team, "v2")
	gittest.Git(t, team, "push", "-q", "origin", "HEAD:main")
	mustRunWith(t, repo, o, "new", "c2", "--driver", "none", "-d")
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

func TestDistill(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, _ := withHome(t)
	mustRunWith(t, repo, o, "init", "-q")
	mustRunWith(t, repo, o, "new", "work", "--driver", "none", "-d")
	// A transcript, as an agent would leave it.
	agent := filepath.Join(repo, ".git", "loop", "loops", "work", "agent")
	gittest.WriteFile(t, agent, "projects/-ws/s1.jsonl", `{"type":"user","message":{"content":"fix it"}}`+"\n")
	gittest.WriteFile(t, filepath.Join(repo, ".git", "loop", "loops", "work", "log"), "20260101-run.log", "run log\n")
	if err := os.Symlink("/etc/passwd", filepath.Join(agent, "projects", "-ws", "leak.jsonl")); err != nil {
		t.Fatal(err)
	}
	r := mustRunWith(t, repo, o, "distill", "work")
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
	if l := lsJSON(t, repo); len(l) != 2 || l[0].Dirty {
		t.Errorf("distill worktree should be clean: %+v", l)
	}
	if r := cmdtest.RunWith(t, repo, o, "distill", "nope"); r.Code != 1 {
		t.Errorf("distill of a missing loop: %d %s", r.Code, r.Stderr)
	}
}

func TestReposRoster(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, _ := withHome(t)
	other := filepath.Join(t.TempDir(), "api")
	gittest.Git(t, filepath.Dir(other), "init", "-q", "-b", "main", other)
	gittest.WriteFile(t, other, "API.md", "the api\n")
	gittest.Commit(t, other, "api")
	gittest.WriteFile(t, repo, ".gitloop.toml", "repos = [{name = \"api\", url = \""+other+"\"}, {name = \"web\", url = \"/nowhere\"}]\n")
	gittest.Commit(t, repo, "roster")
	mustRunWith(t, repo, o, "init", "-q")
	mustRunWith(t, repo, o, "new", "r1", "--driver", "none", "-d", "--repo", "api")
	m := readMeta(t, repo, "r1")
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
