package agent

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

func TestSplitCommandLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "claude", want: []string{"claude"}},
		{in: "  codex   -m o3 ", want: []string{"codex", "-m", "o3"}},
		{in: `agent --say 'two words' "and \"three\" here"`, want: []string{"agent", "--say", "two words", `and "three" here`}},
		{in: `a 'it'\''s' b\ c`, want: []string{"a", "it's", "b c"}},
		{in: `a "" ''`, want: []string{"a", "", ""}},
		{in: `a "$HOME \x" '$HOME'`, want: []string{"a", `$HOME \x`, "$HOME"}},
		{in: "a\tb\nc", want: []string{"a", "b", "c"}},
		{in: `a "b`, err: true},
		{in: `a 'b`, err: true},
		{in: `a b\`, err: true},
		{in: "", want: nil},
	} {
		got, err := splitCommandLine(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: err = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseAgent(t *testing.T) {
	t.Parallel()
	for setting, kind := range map[string]Kind{
		"claude":                                          Claude,
		"/opt/bin/claude --model x":                       Claude,
		"codex":                                           Codex,
		"codex -c model=o3":                               Codex,
		"aider --yes":                                     Command,
		"claude-wrapper":                                  Command,
		"'/path with space/my agent'":                     Command,
		"claude --model opus":                             Claude,
		"./node_modules/.bin/codex":                       Codex,
		"codex -s workspace-write":                        Codex,
		"env ANTHROPIC_MODEL=x claude":                    Claude,
		"env -i -u HOME A=1 codex exec":                   Codex,
		"npx @anthropic-ai/claude-code":                   Claude,
		"npx -y @openai/codex":                            Codex,
		"npx -y @openai/codex@0.169.0 -m o3":              Codex,
		"npm exec --yes -- @openai/codex":                 Codex,
		"pnpm dlx @anthropic-ai/claude-code":              Claude,
		"npx --package=@openai/codex codex":               Codex,
		"npx -y cowsay":                                   Command,
		"node /x/node_modules/@openai/codex/bin/codex.js": Codex,
		"node --max-old-space-size=4096 /x/node_modules/@anthropic-ai/claude-code/cli.js": Claude,
		"/x/node_modules/@anthropic-ai/claude-code/bin/claude.exe":                        Claude,
		"env": Command,
		"npx": Command,
	} {
		a, err := Parse(setting)
		if err != nil {
			t.Errorf("%q: %v", setting, err)
			continue
		}
		if a.Kind != kind {
			t.Errorf("%q: kind %s, want %s", setting, a.Kind, kind)
		}
	}
	for _, bad := range []string{"", "   ", `agent "unterminated`} {
		var ue *workspace.UsageError
		if _, err := Parse(bad); !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want a usage error", bad, err)
		}
	}
}

// TestParseProgramIndex: the agent's own arguments follow the program
// word, and what is found on the host is the program behind env or the
// launcher itself.
func TestParseProgramIndex(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting   string
		prog, run int
	}{
		{"claude", 0, 0},
		{"env A=1 claude --model x", 2, 2},
		{"npx -y @openai/codex", 2, 0},
		{"env A=1 npx -y @openai/codex -m o3", 4, 2},
		{"env", 0, 0},
	} {
		a, err := Parse(tc.setting)
		if err != nil {
			t.Fatal(err)
		}
		if a.Prog != tc.prog || a.Run != tc.run {
			t.Errorf("%q: prog %d run %d, want %d %d", tc.setting, a.Prog, a.Run, tc.prog, tc.run)
		}
	}
	a, _ := Parse("npx -y @openai/codex -m o3")
	if got := a.Command(Headless, "hi"); !reflect.DeepEqual(got, []string{"npx", "-y", "@openai/codex", "exec", "-m", "o3", "hi"}) {
		t.Errorf("codex behind npx: %q", got)
	}
}

// TestParseThroughSymlink: a program of another name that leads into an
// agent's npm package is that agent.
func TestParseThroughSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pkg := filepath.Join(dir, "node_modules", "@openai", "codex", "bin")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "codex.js"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "my-agent")
	if err := os.Symlink(filepath.Join(pkg, "codex.js"), link); err != nil {
		t.Fatal(err)
	}
	if a, err := Parse(link + " --flag"); err != nil || a.Kind != Codex {
		t.Errorf("%s: %v %v, want codex", link, a.Kind, err)
	}
}

// TestOptionalSiblings: the platform package npm hoists beside the
// agent's package is mounted with it.
func TestOptionalSiblings(t *testing.T) {
	t.Parallel()
	nm := filepath.Join(t.TempDir(), "node_modules")
	root := filepath.Join(nm, "@openai", "codex")
	for _, d := range []string{filepath.Join(root, "bin"), filepath.Join(nm, "@openai", "codex-linux-x64", "vendor")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	manifest := `{"optionalDependencies": {"@openai/codex-linux-x64": "1", "@openai/codex-darwin-arm64": "1", "../../etc": "1"}}`
	if err := os.WriteFile(filepath.Join(root, "package.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin", "codex.js")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := findAgent(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := []sandbox.Mount{
		{Source: root, Target: root, ReadOnly: true},
		{Source: filepath.Join(nm, "@openai", "codex-linux-x64"), Target: filepath.Join(nm, "@openai", "codex-linux-x64"), ReadOnly: true},
	}
	if got := b.Mounts("bwrap"); !reflect.DeepEqual(got, want) {
		t.Errorf("mounts %v, want %v", got, want)
	}
}

func TestAgentCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting string
		mode    Mode
		prompt  string
		want    []string
	}{
		{"claude", Interactive, "", []string{"claude"}},
		{"claude", Resume, "", []string{"claude", "--continue"}},
		{"claude", Headless, "fix it", []string{"claude", "-p", "--output-format", "stream-json", "--verbose", "fix it"}},
		{"claude", Headless, "-v is broken", []string{"claude", "-p", "--output-format", "stream-json", "--verbose", "--", "-v is broken"}},
		{"claude --model opus", Headless, "x", []string{"claude", "--model", "opus", "-p", "--output-format", "stream-json", "--verbose", "x"}},
		{"claude --model opus", Resume, "", []string{"claude", "--model", "opus", "--continue"}},
		{"codex", Interactive, "", []string{"codex"}},
		{"codex", Resume, "", []string{"codex", "resume", "--last"}},
		{"codex", Headless, "fix it", []string{"codex", "exec", "fix it"}},
		{"codex --full-auto", Headless, "--help me", []string{"codex", "exec", "--full-auto", "--", "--help me"}},
		{"codex -m o3", Interactive, "", []string{"codex", "-m", "o3"}},
		{"my-agent --flag 'two words'", Interactive, "", []string{"my-agent", "--flag", "two words"}},
		{"my-agent --flag 'two words'", Resume, "", []string{"my-agent", "--flag", "two words"}},
		{"my-agent --flag 'two words'", Headless, "-x the prompt", []string{"my-agent", "--flag", "two words", "-x the prompt"}},
	} {
		a, err := Parse(tc.setting)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Command(tc.mode, tc.prompt); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q %s %q: got %q, want %q", tc.setting, tc.mode, tc.prompt, got, tc.want)
		}
	}
}

func TestAgentEnv(t *testing.T) {
	t.Parallel()
	p := Paths{Name: "x", Workdir: "/w", AgentDir: "/a", Knowledge: "/k", Notes: "/n", Personal: "/p"}
	common := map[string]string{
		"GIT_LOOP_NAME": "x", "GIT_LOOP_WORKDIR": "/w", "GIT_LOOP_AGENT_DIR": "/a",
		"GIT_LOOP_KNOWLEDGE": "/k", "GIT_LOOP_NOTES": "/n", "GIT_LOOP_PERSONAL": "/p",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for kk, vv := range common {
			m[kk] = vv
		}
		return m
	}
	for setting, want := range map[string]map[string]string{
		"claude":   with("CLAUDE_CONFIG_DIR", "/a"),
		"codex":    with("CODEX_HOME", "/a"),
		"my-agent": common,
	} {
		a, _ := Parse(setting)
		if got := a.Env(p); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: env %v, want %v", setting, got, want)
		}
	}
	a, _ := Parse("my-agent")
	if got := a.Env(Paths{Name: "x", Workdir: "/w", AgentDir: "/a"}); len(got) != 3 {
		t.Errorf("layers not set up must be left out: %v", got)
	}
}

func TestPackageRoot(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js":   "/usr/lib/node_modules/@anthropic-ai/claude-code",
		"/home/u/.npm/lib/node_modules/@openai/codex/bin/codex.js": "/home/u/.npm/lib/node_modules/@openai/codex",
		"/opt/node_modules/aider/bin/aider":                        "/opt/node_modules/aider",
		"/home/u/.local/share/claude/versions/2.0.1":               "/home/u/.local/share/claude/versions/2.0.1",
		"/usr/local/bin/codex":                                     "/usr/local/bin/codex",
		"/x/node_modules/cli.js":                                   "/x/node_modules/cli.js",
	} {
		if got := packageRoot(in); got != want {
			t.Errorf("packageRoot(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestAgentBinaryMounts(t *testing.T) {
	t.Parallel()
	sys := Binary{Path: "/usr/bin/claude", Real: "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js", Root: "/usr/lib/node_modules/@anthropic-ai/claude-code"}
	home := Binary{Path: "/home/u/.local/bin/claude", Real: "/home/u/.local/share/claude/versions/2", Root: "/home/u/.local/share/claude/versions/2"}
	wt := Binary{Path: "./bin/agent", Real: "./bin/agent", Root: "/w/bin/agent", InWorktree: true}
	ro := func(p string) []sandbox.Mount { return []sandbox.Mount{{Source: p, Target: p, ReadOnly: true}} }
	for _, tc := range []struct {
		b      Binary
		driver string
		want   []sandbox.Mount
	}{
		{sys, "none", nil},
		{sys, "bwrap", nil}, // bwrap shows the host's /usr anyway
		{sys, "docker", ro(sys.Root)},
		{home, "none", nil},
		{home, "bwrap", ro(home.Root)},
		{home, "docker", ro(home.Root)},
		{wt, "bwrap", nil},
		{wt, "docker", nil},
		{Binary{}, "docker", nil},
	} {
		if got := tc.b.Mounts(tc.driver); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s on %s: %v, want %v", tc.b.Path, tc.driver, got, tc.want)
		}
	}
	// The command each driver runs.
	argv := []string{"claude", "-p", "x"}
	if got := sandboxCommand("none", argv, 0, home); !reflect.DeepEqual(got, []string{home.Path, "-p", "x"}) {
		t.Errorf("none: %q", got)
	}
	if got := sandboxCommand("bwrap", argv, 0, home); !reflect.DeepEqual(got, []string{home.Real, "-p", "x"}) {
		t.Errorf("bwrap: %q", got)
	}
	got := sandboxCommand("docker", argv, 0, home)
	if len(got) != 7 || got[0] != "/bin/sh" || got[3] != "claude" || got[4] != home.Real || got[5] != "-p" {
		t.Errorf("docker: %q", got)
	}
	// Behind env, the program is replaced and env stays in front.
	wrapped := []string{"env", "A=1", "claude", "-p", "x"}
	if got := sandboxCommand("bwrap", wrapped, 2, home); !reflect.DeepEqual(got, []string{"env", "A=1", home.Real, "-p", "x"}) {
		t.Errorf("bwrap behind env: %q", got)
	}
}

func TestClaudeProjectDirs(t *testing.T) {
	t.Parallel()
	agent := t.TempDir()
	cwd := "/tmp/ws/repo/.git/loop/loops/x_y/workdir"
	if got := claudeProjectDirs(agent, cwd); len(got) != 0 {
		t.Fatalf("no projects yet: %v", got)
	}
	want := filepath.Join(agent, "projects", "-tmp-ws-repo--git-loop-loops-x-y-workdir")
	if err := os.MkdirAll(want, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := claudeProjectDirs(agent, cwd); !reflect.DeepEqual(got, []string{want}) {
		t.Errorf("got %v, want %v", got, want)
	}
	long := "/" + strings.Repeat("a", 250)
	cut := filepath.Join(agent, "projects", "-"+strings.Repeat("a", 199)+"-1a2b3c")
	if err := os.MkdirAll(cut, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := claudeProjectDirs(agent, long); !reflect.DeepEqual(got, []string{cut}) {
		t.Errorf("long path: got %v, want %v", got, cut)
	}
}
