package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHandWrapper runs the wrappers linkProgram writes with sh: the
// client run by hand gets the composed MCP servers once, the image's own
// copy wins on docker (never the wrapper itself), the launcher's words
// come along, and with an exec's egress socket the relay runs it.
func TestHandWrapper(t *testing.T) {
	dir := t.TempDir()
	echo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho \"$0 $*\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	host, image, relay := echo("host/claude"), echo("image/claude"), echo("git-loop")
	mcp := filepath.Join(dir, "mcp.json")
	if err := os.WriteFile(mcp, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(bin, name string, env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	a, err := Parse("claude --model opus")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		driver, path, env string
		args              []string
		want              string
	}{
		{"bwrap", "", "", []string{"-p", "hi"}, host + " --mcp-config=" + mcp + " -p hi"},
		{"bwrap", "", "", []string{"--mcp-config", "x", "mcp", "list"}, host + " --mcp-config x mcp list"},
		{"docker", filepath.Join(dir, "image"), "", nil, image + " --mcp-config=" + mcp},
		{"docker", "/nowhere", "", nil, host + " --mcp-config=" + mcp},
		{"bwrap", "", "GIT_LOOP_EGRESS=/run/s", []string{"hi"}, relay + " relay --client claude --at 1 -- " + host + " --mcp-config=" + mcp + " hi"},
	} {
		bin := filepath.Join(t.TempDir(), "bin")
		if err := linkProgram(bin, a, Binary{Real: host}, Hand{Driver: c.driver, Program: host, Relay: relay, MCPConfig: mcp}); err != nil {
			t.Fatal(err)
		}
		env := []string{"PATH=" + bin + ":" + c.path + ":/usr/bin:/bin"}
		if c.env != "" {
			env = append(env, c.env)
		}
		if got := run(bin, "claude", env, c.args...); got != c.want {
			t.Errorf("%s %v:\n got %s\nwant %s", c.driver, c.args, got, c.want)
		}
	}
	// Behind npx, the launcher's words come along, and npx itself is not
	// shadowed.
	x, err := Parse("npx -y @openai/codex")
	if err != nil {
		t.Fatal(err)
	}
	npx := echo("npx")
	bin := filepath.Join(t.TempDir(), "bin")
	if err := linkProgram(bin, x, Binary{Real: npx}, Hand{Driver: "bwrap", Program: npx, Relay: relay}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(bin, "npx")); err == nil {
		t.Error("the wrapper dir shadows npx")
	}
	if got, want := run(bin, "codex", []string{"PATH=/usr/bin:/bin", "GIT_LOOP_EGRESS=/run/s"}, "exec", "hi"), relay+" relay --client codex --at 3 -- "+npx+" -y @openai/codex exec hi"; got != want {
		t.Errorf("codex behind npx:\n got %s\nwant %s", got, want)
	}
}
