// Package realagent_test runs the real Claude Code and Codex clients, at
// the versions scripts/install-agents.sh pins, in real loops on docker and
// bwrap, offline: what each client loads and prints before it would make a
// request shows whether it sees what git loop composed for it. Each client
// is set plainly (by name on PATH), with flags, behind a wrapper, and by
// path; the loop's composition follows the program, whatever the setting's
// shape.
package realagent_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/internal/testagents"
)

func TestMain(m *testing.M) {
	cmdtest.Main(m, func(bin string) {
		// The installed clients by their plain names on PATH, as a global
		// npm install leaves them (a symlink into node_modules). Missing
		// ones are reported by the tests, through testagents.
		for _, name := range []string{"claude", "codex"} {
			src := filepath.Join(testagents.Dir(), "node_modules", ".bin", name)
			if _, err := os.Stat(src); err == nil {
				_ = os.Symlink(src, filepath.Join(bin, name))
			}
		}
	})
}

// mcpServer is a minimal MCP server (newline-delimited JSON-RPC on
// stdio), run with node: enough for a client to connect and list a tool.
const mcpServer = `const rl = require('readline').createInterface({ input: process.stdin });
const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
rl.on('line', (line) => {
  let m; try { m = JSON.parse(line); } catch { return; }
  if (m.id === undefined) return;
  if (m.method === 'initialize') send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'probe', version: '1' } } });
  else if (m.method === 'tools/list') send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'ping', description: 'ping', inputSchema: { type: 'object', properties: {} } }] } });
  else send({ jsonrpc: '2.0', id: m.id, result: {} });
});
`

// probeTiers puts into the personal tier what the clients must see: an
// MCP server (the script lives in memory/, which every loop mounts), a
// model, a permission mode, env, a skill and a subagent.
func probeTiers(t *testing.T, home string) (personal string) {
	t.Helper()
	personal = filepath.Join(home, "data", "personal")
	script := filepath.Join(personal, "memory", "mcp-probe.js")
	settings, err := json.Marshal(map[string]any{
		"model":       "claude-probe-model",
		"permissions": map[string]any{"defaultMode": "acceptEdits"},
		"env":         map[string]string{"PROBE_ENV": "1"},
		"mcpServers":  map[string]any{"probe": map[string]any{"command": "node", "args": []string{script}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, personal, "memory/mcp-probe.js", mcpServer)
	gittest.WriteFile(t, personal, ".claude/settings.json", string(settings))
	gittest.WriteFile(t, personal, ".claude/skills/probe-skill/SKILL.md", "---\nname: probe-skill\ndescription: A probe skill for tests.\n---\nSay probe.\n")
	gittest.WriteFile(t, personal, ".claude/agents/probe-agent.md", "---\nname: probe-agent\ndescription: A probe subagent for tests.\n---\nYou probe.\n")
	gittest.Commit(t, personal, "probe tiers")
	return personal
}

// claudeInit is the part of Claude Code's system/init line checked here.
type claudeInit struct {
	Type       string `json:"type"`
	Subtype    string `json:"subtype"`
	MCPServers []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"mcp_servers"`
	Model          string            `json:"model"`
	PermissionMode string            `json:"permissionMode"`
	Agents         []string          `json:"agents"`
	Skills         []string          `json:"skills"`
	MemoryPaths    map[string]string `json:"memory_paths"`
	Version        string            `json:"claude_code_version"`
}

// firstLine decodes the first JSON line of out.
func firstLine(t *testing.T, out string, v any) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), v) != nil {
		t.Fatalf("no JSON first line in:\n%.2000s", out)
	}
}

func TestRealClaude(t *testing.T) {
	claude := testagents.Claude(t)
	for _, d := range drivers() {
		t.Run(d.Name, func(t *testing.T) {
			repo, o, home := cmdtest.InitRepo(t)
			d.Prepare(t, repo)
			personal := probeTiers(t, home)
			for _, c := range []struct {
				name, setting, model string
			}{
				{"plain", "claude", "claude-probe-model"},
				{"flags", "claude --model claude-flag-model", "claude-flag-model"},
				{"path", claude, "claude-probe-model"},
				{"wrapper", "env PROBE_WRAPPED=1 " + claude, "claude-probe-model"},
			} {
				t.Run(c.name, func(t *testing.T) {
					name := "c-" + c.name
					cmdtest.MustRunWith(t, repo, o, "new", name, "--agent", c.setting, "--driver", d.Name, "--detach")
					// Offline, the client prints its init line and then
					// fails to log in: run's exit code is not the point.
					r := cmdtest.RunWith(t, repo, o, "run", name, "hello")
					var init claudeInit
					firstLine(t, r.Stdout, &init)
					if init.Type != "system" || init.Subtype != "init" || init.Version != testagents.ClaudeVersion {
						t.Fatalf("first line is not %s's system/init:\n%.2000s\n%s", testagents.ClaudeVersion, r.Stdout, r.Stderr)
					}
					if len(init.MCPServers) != 1 || init.MCPServers[0].Name != "probe" || init.MCPServers[0].Status != "connected" {
						t.Errorf("mcp servers %+v, want probe connected\n%s", init.MCPServers, r.Stderr)
					}
					if init.Model != c.model || init.PermissionMode != "acceptEdits" {
						t.Errorf("model %q permission mode %q, want %s, acceptEdits", init.Model, init.PermissionMode, c.model)
					}
					if !slices.Contains(init.Skills, "probe-skill") || !slices.Contains(init.Agents, "probe-agent") {
						t.Errorf("skills %q agents %q lack the probes", init.Skills, init.Agents)
					}
					if got := strings.TrimSuffix(init.MemoryPaths["auto"], "/"); got != filepath.Join(personal, "memory") {
						t.Errorf("memory %q, want %s", got, filepath.Join(personal, "memory"))
					}
					// By hand in the loop, on PATH, reading the loop's config dir.
					r = cmdtest.RunWith(t, repo, o, "exec", name, "--", "sh", "-c", `claude --version && echo "dir=$CLAUDE_CONFIG_DIR"`)
					if r.Code != 0 || !strings.Contains(r.Stdout, testagents.ClaudeVersion) || !strings.Contains(r.Stdout, "dir="+filepath.Join(repo, ".git", "loop", "loops", name, "agent")) {
						t.Errorf("claude by hand: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
					}
					// By hand, the composed MCP servers too (the wrapper on
					// PATH adds the --mcp-config the session adds).
					r = cmdtest.RunWith(t, repo, o, "exec", name, "--", "claude", "-p", "--output-format", "stream-json", "--verbose", "hello")
					var hand claudeInit
					firstLine(t, r.Stdout, &hand)
					if len(hand.MCPServers) != 1 || hand.MCPServers[0].Name != "probe" || hand.MCPServers[0].Status != "connected" {
						t.Errorf("claude by hand: mcp servers %+v, want probe connected\n%s", hand.MCPServers, r.Stderr)
					}
				})
			}
		})
	}
}

// codexServer is an entry of "codex mcp list --json".
type codexServer struct {
	Name      string `json:"name"`
	Enabled   bool   `json:"enabled"`
	Transport struct {
		Command string   `json:"command"`
		Args    []string `json:"args"`
	} `json:"transport"`
}

func TestRealCodex(t *testing.T) {
	codex := testagents.Codex(t)
	for _, d := range drivers() {
		t.Run(d.Name, func(t *testing.T) {
			repo, o, home := cmdtest.InitRepo(t)
			d.Prepare(t, repo)
			personal := probeTiers(t, home)
			for _, c := range []struct{ name, setting string }{
				{"plain", "codex"},
				{"flags", "codex -s workspace-write"},
				{"path", codex},
				{"wrapper", "env PROBE_WRAPPED=1 " + codex},
			} {
				t.Run(c.name, func(t *testing.T) {
					name := "x-" + c.name
					cmdtest.MustRunWith(t, repo, o, "new", name, "--agent", c.setting, "--driver", d.Name, "--detach")
					agentDir := filepath.Join(repo, ".git", "loop", "loops", name, "agent")
					r := cmdtest.RunWith(t, repo, o, "exec", name, "--", "codex", "mcp", "list", "--json")
					var servers []codexServer
					if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &servers) != nil {
						t.Fatalf("codex mcp list: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
					}
					if len(servers) != 1 || servers[0].Name != "probe" || !servers[0].Enabled || servers[0].Transport.Command != "node" ||
						!slices.Equal(servers[0].Transport.Args, []string{filepath.Join(personal, "memory", "mcp-probe.js")}) {
						t.Errorf("codex mcp list: %+v", servers)
					}
					r = cmdtest.RunWith(t, repo, o, "exec", name, "--", "codex", "debug", "prompt-input", "hello")
					if r.Code != 0 {
						t.Fatalf("codex debug prompt-input: exit %d\n%s", r.Code, r.Stderr)
					}
					for _, want := range []string{
						"# You are working in a git loop", // the doctrine, in AGENTS.md
						"loop `" + name + "`",
						"probe-skill: A probe skill for tests.",
						filepath.Join(agentDir, "skills"),
					} {
						if !strings.Contains(jsonText(t, r.Stdout), want) {
							t.Errorf("prompt input lacks %q:\n%.3000s", want, r.Stdout)
						}
					}
					// The tiers' model and permissions reached config.toml.
					cfg, err := os.ReadFile(filepath.Join(agentDir, "config.toml"))
					if err != nil || !strings.Contains(string(cfg), "model = 'claude-probe-model'") || !strings.Contains(string(cfg), "sandbox_mode = 'workspace-write'") {
						t.Errorf("config.toml: %v\n%s", err, cfg)
					}
				})
			}
		})
	}
}

// jsonText is the text of every string in a JSON document, joined: what
// the model would read, unescaped.
func jsonText(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("%v:\n%.2000s", err, doc)
	}
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(v)
			b.WriteByte('\n')
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return b.String()
}
