package composecmd_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestComposeTierOrder: docs/context.md orders the tiers weakest first:
// doctrine, team, profiles, personal. Every pair of neighbours is checked
// in all three ways a later tier shows: CLAUDE.md parts come later, a
// settings key set by both is the later one's, and a skill of the same
// name is the later one's.
func TestComposeTierOrder(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	u := cmdtest.NewUser(t, repo)
	u.OK("init", "-q")

	team := filepath.Join(t.TempDir(), "team")
	gittest.Git(t, filepath.Dir(team), "clone", "-q", u.Origin("knowledge"), team)
	gittest.WriteFile(t, team, ".gitloop/.claude/CLAUDE.md", "TEAM-PART\n")
	gittest.WriteFile(t, team, ".gitloop/.claude/settings.json", `{"model": "team", "teamOnly": "team", "teamProfile": "team", "teamPersonal": "team"}`)
	gittest.WriteFile(t, team, ".gitloop/.claude/skills/style/SKILL.md", "team style\n")
	gittest.WriteFile(t, team, ".gitloop/profiles/go/.claude/CLAUDE.md", "PROFILE-PART\n")
	gittest.WriteFile(t, team, ".gitloop/profiles/go/.claude/settings.json", `{"model": "profile", "teamProfile": "profile", "profilePersonal": "profile"}`)
	gittest.WriteFile(t, team, ".gitloop/profiles/go/.claude/skills/style/SKILL.md", "profile style\n")
	gittest.WriteFile(t, team, ".gitloop/profiles/go/.claude/skills/lint/SKILL.md", "profile lint\n")
	gittest.Commit(t, team, "team and profile tiers")
	gittest.Git(t, team, "push", "-q", "origin", "HEAD:main")

	personal := u.Clone("personal")
	gittest.WriteFile(t, personal, ".claude/CLAUDE.md", "PERSONAL-PART\n")
	gittest.WriteFile(t, personal, ".claude/settings.json", `{"model": "personal", "teamPersonal": "personal", "profilePersonal": "personal"}`)
	gittest.WriteFile(t, personal, ".claude/skills/style/SKILL.md", "personal style\n")
	gittest.WriteFile(t, personal, ".claude/skills/lint/SKILL.md", "personal lint\n")
	gittest.Commit(t, personal, "personal tier")

	u.OK("new", "c", "--driver", "none", "-d", "--profile", "go")
	agent := filepath.Join(u.LoopDir("c"), "agent")

	var printed struct {
		Tiers []struct{ Name string } `json:"tiers"`
	}
	if err := json.Unmarshal([]byte(u.OK("compose", "c", "--print", "--json").Stdout), &printed); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tier := range printed.Tiers {
		names = append(names, tier.Name)
	}
	if want := []string{"doctrine", "team", "profile:go", "personal"}; !reflect.DeepEqual(names, want) {
		t.Errorf("tiers %v, want %v", names, want)
	}

	claude := readString(t, filepath.Join(agent, "CLAUDE.md"))
	last := -1
	for _, part := range []string{"loop `c`", "TEAM-PART", "PROFILE-PART", "PERSONAL-PART"} {
		i := strings.Index(claude, part)
		if i < 0 {
			t.Fatalf("CLAUDE.md lacks %q:\n%s", part, claude)
		}
		if i < last {
			t.Errorf("CLAUDE.md: %q comes before the tier it should follow:\n%s", part, claude)
		}
		last = i
	}

	var settings map[string]any
	if err := json.Unmarshal([]byte(readString(t, filepath.Join(agent, "settings.json"))), &settings); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"model":           "personal",
		"teamOnly":        "team",
		"teamProfile":     "profile",
		"teamPersonal":    "personal",
		"profilePersonal": "personal",
	} {
		if settings[key] != want {
			t.Errorf("settings.json %s = %v, want %q (from the later tier)", key, settings[key], want)
		}
	}

	for skill, want := range map[string]string{"style": "personal style\n", "lint": "personal lint\n"} {
		if got := readString(t, filepath.Join(agent, "skills", skill, "SKILL.md")); got != want {
			t.Errorf("skill %s = %q, want %q (the personal tier's)", skill, got, want)
		}
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
