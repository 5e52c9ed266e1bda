package initcmd_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestInitContextLayers(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, home := cmdtest.WithHome(t)
	r := cmdtest.MustRunWith(t, repo, o, "init", "--json")
	var layers []contexts.LayerInfo
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
	r = cmdtest.MustRunWith(t, repo, o, "init")
	if strings.Contains(r.Stderr, "git clone") || strings.Contains(r.Stderr, "git init") {
		t.Errorf("second init ran git again:\n%s", r.Stderr)
	}
	if after := gittest.Git(t, filepath.Join(home, "data", "personal"), "rev-parse", "HEAD"); after != before {
		t.Errorf("personal moved on re-init")
	}
}
