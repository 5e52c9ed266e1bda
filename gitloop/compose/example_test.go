package compose_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gitloop-dev/git-loop/gitloop/compose"
)

func Example() {
	tmp, _ := os.MkdirTemp("", "compose-example")
	defer os.RemoveAll(tmp)
	team := filepath.Join(tmp, "knowledge", ".gitloop", ".claude")
	os.MkdirAll(filepath.Join(team, "skills", "review"), 0o755)
	os.WriteFile(filepath.Join(team, "settings.json"), []byte(`{"mcpServers": {"github": {"command": "gh-mcp"}}}`), 0o644)
	os.WriteFile(filepath.Join(team, "skills", "review", "SKILL.md"), []byte("review"), 0o644)

	res, err := compose.Compose(compose.Options{
		Tiers: []compose.Tier{
			{Name: "doctrine", Template: "You are in loop {{.Loop}}; work in {{.Workdir}}.\n"},
			{Name: "team", Dir: team},
			{Name: "profile:go", Dir: filepath.Join(tmp, "knowledge", ".gitloop", "profiles", "go", ".claude")},
			{Name: "personal", Dir: filepath.Join(tmp, "personal", ".claude")},
		},
		Format: compose.Claude,
		Data:   compose.Data{Loop: "fix-login", Workdir: "/src/app", Memory: "/home/me/personal/memory"},
		Target: filepath.Join(tmp, "loops", "fix-login", "agent"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := res.File("settings.json")
	for _, k := range f.Keys {
		fmt.Printf("%s ← %s\n", k.Key, k.Tier())
	}
	u, _ := res.Unit("skills/review")
	fmt.Println(u.Path, "←", u.Tier())
	fmt.Println("claude --mcp-config", res.MCPConfig)
	// Output:
	// autoMemoryDirectory ← git loop (injected)
	// autoMemoryEnabled ← git loop (injected)
	// mcpServers ← team
	// mcpServers.github ← team
	// skills/review ← team
	// claude --mcp-config mcp.json
}
