package compose

import (
	"os"
	"path/filepath"
	"testing"
)

func TestZZDebug(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{
		"CLAUDE.md":              "team",
		"settings.json":          `{"permissions": {"allow": ["Bash(go:*)"]}, "mcpServers": {"github": {"command": "a", "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"}}, "docs": {"url": "https://x/mcp", "headers": {"Authorization": "Bearer ${T}"}}}}`,
		"skills/review/SKILL.md": "r",
		"skills/review/run.sh":   "#!/bin/sh\n",
		"agents/planner.md":      "p",
		"commands/ship.md":       "s",
		"mise.toml":              "[tools]\ngo='1'\n",
	})
	pers := tier(t, base, "personal", map[string]string{
		"settings.json":          `{"mcpServers": {"github": {"command": "b"}}}`,
		"skills/review/SKILL.md": "mine",
		"skills/x/link":          "symlink:../review/SKILL.md",
		"mise.toml":              "[tools]\nnode='1'\n",
	})
	for _, f := range []Format{Claude, Codex} {
		res, dir := mustCompose(t, Options{Format: f, Tiers: []Tier{{Name: "doctrine", Template: "d"}, team, pers}, MemoryDir: "/m"})
		res.Print(os.Stdout)
		for _, n := range []string{"settings.json", "config.toml", "mise.toml", "CLAUDE.md", "AGENTS.md"} {
			if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
				os.Stdout.WriteString("=== " + n + "\n" + string(b))
			}
		}
	}
}
