package gitloop

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/none"
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
	for setting, kind := range map[string]AgentKind{
		"claude":                      AgentClaude,
		"/opt/bin/claude --model x":   AgentClaude,
		"codex":                       AgentCodex,
		"codex -c model=o3":           AgentCodex,
		"aider --yes":                 AgentCommand,
		"claude-wrapper":              AgentCommand,
		"'/path with space/my agent'": AgentCommand,
	} {
		a, err := ParseAgent(setting)
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
		if _, err := ParseAgent(bad); !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want a usage error", bad, err)
		}
	}
}

func TestAgentCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting string
		mode    AgentMode
		prompt  string
		want    []string
	}{
		{"claude", AgentInteractive, "", []string{"claude"}},
		{"claude", AgentResume, "", []string{"claude", "--continue"}},
		{"claude", AgentHeadless, "fix it", []string{"claude", "-p", "--output-format", "stream-json", "--verbose", "fix it"}},
		{"claude", AgentHeadless, "-v is broken", []string{"claude", "-p", "--output-format", "stream-json", "--verbose", "--", "-v is broken"}},
		{"claude --model opus", AgentHeadless, "x", []string{"claude", "--model", "opus", "-p", "--output-format", "stream-json", "--verbose", "x"}},
		{"claude --model opus", AgentResume, "", []string{"claude", "--model", "opus", "--continue"}},
		{"codex", AgentInteractive, "", []string{"codex"}},
		{"codex", AgentResume, "", []string{"codex", "resume", "--last"}},
		{"codex", AgentHeadless, "fix it", []string{"codex", "exec", "fix it"}},
		{"codex --full-auto", AgentHeadless, "--help me", []string{"codex", "exec", "--full-auto", "--", "--help me"}},
		{"codex -m o3", AgentInteractive, "", []string{"codex", "-m", "o3"}},
		{"my-agent --flag 'two words'", AgentInteractive, "", []string{"my-agent", "--flag", "two words"}},
		{"my-agent --flag 'two words'", AgentResume, "", []string{"my-agent", "--flag", "two words"}},
		{"my-agent --flag 'two words'", AgentHeadless, "-x the prompt", []string{"my-agent", "--flag", "two words", "-x the prompt"}},
	} {
		a, err := ParseAgent(tc.setting)
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
	p := AgentPaths{Name: "x", Workdir: "/w", AgentDir: "/a", Knowledge: "/k", Notes: "/n", Personal: "/p"}
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
		a, _ := ParseAgent(setting)
		if got := a.Env(p); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: env %v, want %v", setting, got, want)
		}
	}
	a, _ := ParseAgent("my-agent")
	if got := a.Env(AgentPaths{Name: "x", Workdir: "/w", AgentDir: "/a"}); len(got) != 3 {
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
	sys := agentBinary{Path: "/usr/bin/claude", Real: "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js", Root: "/usr/lib/node_modules/@anthropic-ai/claude-code"}
	home := agentBinary{Path: "/home/u/.local/bin/claude", Real: "/home/u/.local/share/claude/versions/2", Root: "/home/u/.local/share/claude/versions/2"}
	wt := agentBinary{Path: "./bin/agent", Real: "./bin/agent", Root: "/w/bin/agent", InWorktree: true}
	ro := func(p string) []sandbox.Mount { return []sandbox.Mount{{Source: p, Target: p, ReadOnly: true}} }
	for _, tc := range []struct {
		b      agentBinary
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
		{agentBinary{}, "docker", nil},
	} {
		if got := tc.b.mounts(tc.driver); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s on %s: %v, want %v", tc.b.Path, tc.driver, got, tc.want)
		}
	}
	// The command each driver runs.
	argv := []string{"claude", "-p", "x"}
	if got := sandboxCommand("none", argv, home); !reflect.DeepEqual(got, []string{home.Path, "-p", "x"}) {
		t.Errorf("none: %q", got)
	}
	if got := sandboxCommand("bwrap", argv, home); !reflect.DeepEqual(got, []string{home.Real, "-p", "x"}) {
		t.Errorf("bwrap: %q", got)
	}
	got := sandboxCommand("docker", argv, home)
	if len(got) != 7 || got[0] != "/bin/sh" || got[3] != "claude" || got[4] != home.Real || got[5] != "-p" {
		t.Errorf("docker: %q", got)
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

// fakeAgent is a fake agent script of testdata/agents under the name the
// agent has (claude, codex: the kind goes by the program's name), through
// a symlink in a temp dir, as an installer would leave it.
func fakeAgent(t *testing.T, name string) string {
	t.Helper()
	script := map[string]string{"claude": "fake-claude", "codex": "fake-codex"}[name]
	if script == "" {
		script = name
	}
	src, err := filepath.Abs(filepath.Join("..", "testdata", "agents", script))
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	return link
}

func agentService(t *testing.T) (*Service, string) {
	t.Helper()
	repo := gittest.Repo(t)
	ctx := context.Background()
	r, err := workspace.Discover(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Sources{})
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	return &Service{&workspace.Workspace{Repo: r, Config: cfg, Dirs: workspace.UserDirs{Config: data, Data: data}, Git: &git.Runner{},
		Engine: func(context.Context, string) (sandbox.Engine, error) { return none.New(), nil }}}, repo
}

// TestRunGeneric runs a generic agent headless: prompt last, env with the
// loop's paths, a secret passed in the env only (not in argv, not in the
// process's /proc cmdline), output streamed and logged privately.
func TestRunGeneric(t *testing.T) {
	t.Parallel()
	svc, _ := agentService(t)
	ctx := context.Background()
	m, err := svc.New(ctx, NewOptions{Name: "g", Driver: "none"})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "s3cr3t-value-77"
	var out strings.Builder
	setting := fakeAgent(t, "fake-generic") + " --flag 'two words'"
	res, err := svc.RunWith(ctx, RunOptions{Name: "g", Prompt: "do the thing exit=3", Agent: setting, Stdout: &out,
		Env: map[string]string{"FAKE_SECRET": secret, "CLAUDE_CONFIG_DIR": "/not/for/generic"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", res.ExitCode)
	}
	if !strings.Contains(out.String(), "fake-generic got: do the thing exit=3") {
		t.Errorf("output not streamed: %q", out.String())
	}
	rec, err := os.ReadFile(filepath.Join(m.Worktree, "agent-record.txt"))
	if err != nil {
		t.Fatal(err)
	}
	record := string(rec)
	var args []string
	for _, l := range strings.Split(record, "\n") {
		if a, ok := strings.CutPrefix(l, "arg="); ok {
			args = append(args, a)
		}
	}
	if want := []string{"--flag", "two words", "do the thing exit=3"}; !reflect.DeepEqual(args, want) {
		t.Errorf("argv %q, want %q", args, want)
	}
	for _, want := range []string{
		"env:GIT_LOOP_NAME=g", "env:GIT_LOOP_WORKDIR=" + m.Worktree, "env:GIT_LOOP_AGENT_DIR=" + svc.AgentDir("g"),
		"env:FAKE_SECRET=" + secret, "pwd=" + m.Worktree,
	} {
		if !strings.Contains(record, want+"\n") {
			t.Errorf("record lacks %q:\n%s", want, record)
		}
	}
	cmdline := ""
	for _, l := range strings.Split(record, "\n") {
		if c, ok := strings.CutPrefix(l, "cmdline="); ok {
			cmdline = c
		}
	}
	if cmdline == "" || strings.Contains(cmdline, secret) {
		t.Errorf("/proc cmdline %q must exist and hold no secret", cmdline)
	}
	// The log: private, headed, with the output and the exit code.
	if filepath.Dir(res.LogPath) != svc.LogDir("g") || !strings.HasSuffix(res.LogPath, "-run.log") {
		t.Errorf("log at %s", res.LogPath)
	}
	fi, err := os.Stat(res.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", fi.Mode().Perm())
	}
	log, _ := os.ReadFile(res.LogPath)
	for _, want := range []string{"git loop run\ntime: ", "\nloop: g\n", "\nagent: " + setting + "\n", "\nprompt: do the thing exit=3\n\n", "fake-generic got: do the thing exit=3\n", "\n[git loop] exit 3 after "} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(string(log), secret) {
		t.Errorf("the log holds the secret")
	}
}

// TestAgentArgvNeverHoldsEnv: whatever the env, the invocation's argv
// holds only the setting's words and the prompt.
func TestAgentArgvNeverHoldsEnv(t *testing.T) {
	t.Parallel()
	svc, _ := agentService(t)
	m, err := svc.New(context.Background(), NewOptions{Name: "argv-loop", Driver: "none"})
	if err != nil {
		t.Fatal(err)
	}
	fixed := map[string]bool{"-p": true, "--output-format": true, "stream-json": true, "--verbose": true, "--continue": true,
		"exec": true, "resume": true, "--last": true, "--flag": true, "the prompt": true}
	for _, kind := range []string{"claude", "codex", "fake-generic"} {
		for _, mode := range []AgentMode{AgentInteractive, AgentResume, AgentHeadless} {
			inv, err := svc.PrepareAgent(m, fakeAgent(t, kind)+" --flag", mode, "the prompt")
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range inv.Cmd {
				if !(i == 0 && a == inv.binary.Path) && !fixed[a] {
					t.Errorf("%s %s: unexpected argument %q in %q", kind, mode, a, inv.Cmd)
				}
				for _, v := range inv.Env {
					if strings.Contains(a, v) {
						t.Errorf("%s %s: env value %q in argv %q", kind, mode, v, inv.Cmd)
					}
				}
			}
		}
	}
}

func TestRunOneAtATime(t *testing.T) {
	t.Parallel()
	svc, _ := agentService(t)
	ctx := context.Background()
	if _, err := svc.New(ctx, NewOptions{Name: "b", Driver: "none"}); err != nil {
		t.Fatal(err)
	}
	release, err := svc.holdAgent("b", "run")
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.RunWith(ctx, RunOptions{Name: "b", Prompt: "x", Agent: fakeAgent(t, "fake-generic")})
	var busy *AgentBusyError
	if !errors.As(err, &busy) || !strings.Contains(err.Error(), "run, pid ") {
		t.Fatalf("second run: %v, want AgentBusyError naming the holder", err)
	}
	_, err = svc.Attach(ctx, "b", AttachOptions{Agent: fakeAgent(t, "fake-generic")})
	if !errors.As(err, &busy) {
		t.Fatalf("attach during a run: %v, want AgentBusyError", err)
	}
	release()
	if res, err := svc.RunWith(ctx, RunOptions{Name: "b", Prompt: "x", Agent: fakeAgent(t, "fake-generic")}); err != nil || res.ExitCode != 0 {
		t.Fatalf("after release: %v %+v", err, res)
	}
}

func TestAgentMissing(t *testing.T) {
	t.Parallel()
	svc, _ := agentService(t)
	ctx := context.Background()
	if _, err := svc.New(ctx, NewOptions{Name: "m", Driver: "none"}); err != nil {
		t.Fatal(err)
	}
	for agent, hint := range map[string]string{
		"/nonexistent/bin/claude":   "npm install -g @anthropic-ai/claude-code",
		"/nonexistent/bin/codex -x": "npm install -g @openai/codex",
		"no-such-agent-4711":        "install it",
	} {
		_, err := svc.RunWith(ctx, RunOptions{Name: "m", Prompt: "x", Agent: agent})
		var missing *AgentMissingError
		if !errors.As(err, &missing) {
			t.Fatalf("%s: %v, want AgentMissingError", agent, err)
		}
		for _, want := range []string{hint, `git loop config set agent CMD`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q lacks %q", agent, err, want)
			}
		}
	}
	if logs, _ := filepath.Glob(filepath.Join(svc.LogDir("m"), "*-run.log")); len(logs) != 0 {
		t.Errorf("a run that could not start left logs: %v", logs)
	}
}

// TestAttachContinues: the first attach of claude starts a session, the
// next continues it (--continue), unless a new one is asked for.
func TestAttachContinues(t *testing.T) {
	t.Parallel()
	svc, _ := agentService(t)
	ctx := context.Background()
	if _, err := svc.New(ctx, NewOptions{Name: "c", Driver: "none"}); err != nil {
		t.Fatal(err)
	}
	claude := fakeAgent(t, "claude")
	args := func() []string {
		rec, err := os.ReadFile(filepath.Join(svc.AgentDir("c"), "fake-claude.record"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(string(rec), "\n") {
			if a, ok := strings.CutPrefix(l, "arg="); ok {
				out = append(out, a)
			}
		}
		return out
	}
	for i, tc := range []struct {
		opts AttachOptions
		want []string
	}{
		{AttachOptions{Agent: claude}, nil},
		{AttachOptions{Agent: claude}, []string{"--continue"}},
		{AttachOptions{Agent: claude, New: true}, nil},
	} {
		var out strings.Builder
		tc.opts.Stdout, tc.opts.Stderr = &out, &out
		code, err := svc.Attach(ctx, "c", tc.opts)
		if err != nil || code != 0 {
			t.Fatalf("attach %d: code %d, %v\n%s", i, code, err, out.String())
		}
		if got := args(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("attach %d: args %q, want %q", i, got, tc.want)
		}
	}
}

// TestWorktreeAgent: an agent command with a relative path runs from the
// loop's worktree (where every sandbox has it).
func TestWorktreeAgent(t *testing.T) {
	t.Parallel()
	svc, _ := agentService(t)
	ctx := context.Background()
	m, err := svc.New(ctx, NewOptions{Name: "w", Driver: "none"})
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("..", "testdata", "agents", "fake-generic"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(m.Worktree, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.Worktree, "bin", "agent"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res, err := svc.RunWith(ctx, RunOptions{Name: "w", Prompt: "hi", Agent: "./bin/agent", Stdout: &out})
	if err != nil || res.ExitCode != 0 || !strings.Contains(out.String(), "fake-generic got: hi") {
		t.Fatalf("run: %v %+v %q", err, res, out.String())
	}
	inv, err := svc.PrepareAgent(m, "./bin/agent", AgentHeadless, "x")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Cmd[0] != filepath.Join(m.Worktree, "bin", "agent") || len(inv.binary.mounts("bwrap")) != 0 {
		t.Errorf("cmd %q, mounts %v", inv.Cmd, inv.binary.mounts("bwrap"))
	}
	if _, err := svc.PrepareAgent(m, "./bin/nope", AgentHeadless, "x"); err == nil {
		t.Errorf("a missing worktree agent must be an error")
	}
}
