package root_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdtest"
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
