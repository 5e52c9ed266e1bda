// Package agente2e_test runs agents in loops end to end: "git loop new,
// attach, run, log" in-process against real repositories, with the fake
// agents of testdata/agents on PATH as claude, codex and fake-generic
// (small sh scripts that record how they were started, write session files
// the way the real agents do, edit the worktree and commit). The none
// driver runs everything fast; one test repeats the essentials under
// bubblewrap where it works.
package agente2e_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/bwrap"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

func TestMain(m *testing.M) {
	cmdtest.Main(m, func(bin string) {
		// The fakes on PATH under the agents' names, through symlinks as
		// installers leave them, beside git-loop (and its transport to
		// sealed loops).
		for name, script := range map[string]string{"claude": "fake-claude", "codex": "fake-codex", "fake-generic": "fake-generic"} {
			src, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "agents", script))
			if err := os.Symlink(src, filepath.Join(bin, name)); err != nil {
				panic(err)
			}
		}
	})
}

// newLoop makes a repository whose loops run agent, and a loop in it.
func newLoop(t *testing.T, agent, name, driver string) (repo string, wt string) {
	t.Helper()
	repo = gittest.Repo(t)
	gittest.Git(t, repo, "config", "loop.agent", agent)
	r := cmdtest.MustRun(t, repo, "new", name, "--driver", driver, "--detach")
	return repo, strings.TrimSpace(r.Stdout)
}

func agentDir(repo, name string) string {
	return filepath.Join(repo, ".git", "loop", "loops", name, "agent")
}

func logDir(repo, name string) string {
	return filepath.Join(repo, ".git", "loop", "host", name, "log")
}

// record reads what a fake agent recorded: its arguments (after argv[0])
// and its environment.
func record(t *testing.T, path string) (args []string, env map[string]string, raw string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the agent left no record: %v", err)
	}
	env = map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if a, ok := strings.CutPrefix(l, "arg="); ok {
			args = append(args, a)
		}
		if kv, ok := strings.CutPrefix(l, "env:"); ok {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	return args, env, string(b)
}

func wantEnv(t *testing.T, env map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if env[k] != v {
			t.Errorf("agent env %s = %q, want %q", k, env[k], v)
		}
	}
}

type jsonEntry struct {
	Time   string `json:"time"`
	Role   string `json:"role"`
	Text   string `json:"text"`
	Tool   string `json:"tool"`
	Source string `json:"source"`
	Raw    bool   `json:"raw"`
}

func logJSON(t *testing.T, repo string, args ...string) []jsonEntry {
	t.Helper()
	r := cmdtest.MustRun(t, repo, append([]string{"log", "--json"}, args...)...)
	var out []jsonEntry
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if l == "" {
			continue
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(l), &fields); err != nil {
			t.Fatalf("log --json line %q: %v", l, err)
		}
		for k := range fields {
			switch k {
			case "time", "role", "text", "tool", "source", "raw":
			default:
				t.Errorf("log --json: unexpected field %q in %s", k, l)
			}
		}
		var e jsonEntry
		_ = json.Unmarshal([]byte(l), &e)
		if e.Role == "" || e.Source == "" {
			t.Errorf("log --json: role and source are always there: %s", l)
		}
		out = append(out, e)
	}
	return out
}

func TestClaudeRunAndLog(t *testing.T) {
	t.Parallel()
	repo, wt := newLoop(t, "claude", "fix", "none")
	r := cmdtest.Run(t, repo, "run", "fix", "make", "the", "test", "pass")
	if r.Code != 0 {
		t.Fatalf("run: exit %d\n%s", r.Code, r.Stderr)
	}
	// Not a terminal: the agent's stream-json as it came.
	if !strings.Contains(r.Stdout, `{"type":"result","subtype":"success"`) {
		t.Errorf("run output:\n%s", r.Stdout)
	}
	args, env, _ := record(t, filepath.Join(agentDir(repo, "fix"), "fake-claude.record"))
	if want := []string{"-p", "--output-format", "stream-json", "--verbose", "make the test pass"}; !reflect.DeepEqual(args, want) {
		t.Errorf("claude argv %q, want %q", args, want)
	}
	wantEnv(t, env, map[string]string{
		"CLAUDE_CONFIG_DIR":  agentDir(repo, "fix"),
		"GIT_LOOP_NAME":      "fix",
		"GIT_LOOP_WORKDIR":   wt,
		"GIT_LOOP_AGENT_DIR": agentDir(repo, "fix"),
	})
	if _, ok := env["CODEX_HOME"]; ok {
		t.Errorf("claude got CODEX_HOME")
	}
	// The agent's commit is on the loop's branch.
	if msg := gittest.Git(t, repo, "log", "-1", "--format=%s", "loop/fix"); msg != "fake-claude: make the test pass" {
		t.Errorf("loop/fix head: %q", msg)
	}
	// The run log: private, named after the time, path on stderr.
	logs, _ := filepath.Glob(filepath.Join(logDir(repo, "fix"), "*-run.log"))
	if len(logs) != 1 || !strings.Contains(r.Stderr, "Log: "+logs[0]) {
		t.Fatalf("logs %v, stderr %q", logs, r.Stderr)
	}
	if fi, _ := os.Stat(logs[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("run log mode %v", fi.Mode().Perm())
	}
	// log: Claude's own session file, as a conversation.
	human := cmdtest.MustRun(t, repo, "log", "fix").Stdout
	for _, want := range []string{"user  ", "  make the test pass\n", "assistant  ", "  I will note it in CHANGES.md.\n", "  → Bash {\"command\":\"echo >> CHANGES.md\"}\n", "  ← Bash: ok\n", "  Done: committed.\n"} {
		if !strings.Contains(human, want) {
			t.Errorf("log lacks %q:\n%s", want, human)
		}
	}
	if strings.Contains(human, "private") {
		t.Errorf("log shows the agent's thinking:\n%s", human)
	}
	entries := logJSON(t, repo, "fix")
	var roles []string
	for _, e := range entries {
		roles = append(roles, e.Role+"/"+e.Tool)
		if !strings.Contains(e.Source, filepath.Join(agentDir(repo, "fix"), "projects")) {
			t.Errorf("source %q is not Claude's session file", e.Source)
		}
		if _, err := time.Parse(time.RFC3339, e.Time); err != nil {
			t.Errorf("time %q: %v", e.Time, err)
		}
	}
	// The last entry counts the lines left out (Claude's metadata).
	if want := []string{"user/", "assistant/", "assistant/Bash", "tool/Bash", "assistant/", "system/"}; !reflect.DeepEqual(roles, want) {
		t.Errorf("roles %v, want %v", roles, want)
	}
	if last := logJSON(t, repo, "fix", "-n", "3"); len(last) != 3 || last[1].Text != "Done: committed." || last[0].Role != "tool" || !strings.HasSuffix(last[2].Text, "not shown") {
		t.Errorf("-n 3: %+v", last)
	}
}

func TestClaudeAttachContinues(t *testing.T) {
	t.Parallel()
	repo, _ := newLoop(t, "claude", "chat", "none")
	r := cmdtest.Run(t, repo, "attach", "chat")
	if r.Code != 1 || !strings.Contains(r.Stderr, "needs a terminal") || !strings.Contains(r.Stderr, "git loop run chat PROMPT") {
		t.Fatalf("attach without a terminal: exit %d %q", r.Code, r.Stderr)
	}
	rec := filepath.Join(agentDir(repo, "chat"), "fake-claude.record")
	tty := cmdtest.Options{TTY: true}
	for i, want := range [][]string{nil, {"--continue"}, {"--continue"}} {
		r := cmdtest.RunWith(t, repo, tty, "attach", "chat")
		if r.Code != 0 || !strings.Contains(r.Stdout, "fake-claude: interactive session") {
			t.Fatalf("attach %d: exit %d\n%s\n%s", i, r.Code, r.Stdout, r.Stderr)
		}
		if args, _, _ := record(t, rec); !reflect.DeepEqual(args, want) {
			t.Errorf("attach %d: args %q, want %q", i, args, want)
		}
	}
	r = cmdtest.RunWith(t, repo, tty, "attach", "chat", "--new")
	if args, _, _ := record(t, rec); r.Code != 0 || len(args) != 0 {
		t.Errorf("attach --new: exit %d, args %q", r.Code, args)
	}
}

func TestCodex(t *testing.T) {
	t.Parallel()
	repo, wt := newLoop(t, "codex", "cx", "none")
	r := cmdtest.Run(t, repo, "run", "cx", "--", "-v fails")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "Done: committed." || !strings.Contains(r.Stderr, "[fake-codex] working on it") {
		t.Fatalf("run: exit %d\nstdout %q\nstderr %q", r.Code, r.Stdout, r.Stderr)
	}
	rec := filepath.Join(agentDir(repo, "cx"), "fake-codex.record")
	args, env, _ := record(t, rec)
	if want := []string{"exec", "--", "-v fails"}; !reflect.DeepEqual(args, want) {
		t.Errorf("codex argv %q, want %q", args, want)
	}
	wantEnv(t, env, map[string]string{"CODEX_HOME": agentDir(repo, "cx"), "GIT_LOOP_NAME": "cx", "GIT_LOOP_WORKDIR": wt})
	if _, ok := env["CLAUDE_CONFIG_DIR"]; ok {
		t.Errorf("codex got CLAUDE_CONFIG_DIR")
	}
	var got []string
	for _, e := range logJSON(t, repo, "cx") {
		got = append(got, e.Role+"/"+e.Tool+"/"+e.Text)
	}
	// Codex's environment context and its settings lines are counted, not shown.
	want := []string{"user//-v fails", `assistant/shell/{"command":["bash","-lc","echo >> CHANGES.md"]}`, "tool/shell/ok", "assistant//Done: committed.", "system//+5 metadata lines not shown"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("codex transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	r = cmdtest.RunWith(t, repo, cmdtest.Options{TTY: true}, "attach", "cx")
	if args, _, _ := record(t, rec); r.Code != 0 || !reflect.DeepEqual(args, []string{"resume", "--last"}) {
		t.Errorf("attach with a session: exit %d, args %q", r.Code, args)
	}
}

func TestGenericAgent(t *testing.T) {
	t.Parallel()
	repo, wt := newLoop(t, "fake-generic --flag 'two words'", "gen", "none")
	r := cmdtest.Run(t, repo, "run", "gen", "the prompt exit=3")
	if r.Code != 3 || !strings.Contains(r.Stdout, "fake-generic got: the prompt exit=3") {
		t.Fatalf("run: exit %d (want the agent's, 3)\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	args, env, raw := record(t, filepath.Join(wt, "agent-record.txt"))
	if want := []string{"--flag", "two words", "the prompt exit=3"}; !reflect.DeepEqual(args, want) {
		t.Errorf("argv %q, want %q (the prompt last)", args, want)
	}
	wantEnv(t, env, map[string]string{"GIT_LOOP_NAME": "gen", "GIT_LOOP_WORKDIR": wt, "GIT_LOOP_AGENT_DIR": agentDir(repo, "gen")})
	for _, k := range []string{"CLAUDE_CONFIG_DIR", "CODEX_HOME"} {
		if _, ok := env[k]; ok {
			t.Errorf("a generic agent got %s:\n%s", k, raw)
		}
	}
	// Context layers, once they exist, are named too.
	for _, l := range []string{"knowledge", "notes"} {
		if err := os.MkdirAll(filepath.Join(repo, ".git", "loop", "loops", "gen", "context", l), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmdtest.MustRun(t, repo, "run", "gen", "second")
	_, env, _ = record(t, filepath.Join(wt, "agent-record.txt"))
	for _, k := range []string{"GIT_LOOP_KNOWLEDGE", "GIT_LOOP_NOTES"} {
		if env[k] == "" {
			t.Errorf("%s not set once the layer exists", k)
		}
	}
	// No session files: the transcript is the run logs, oldest first.
	var got []string
	for _, e := range logJSON(t, repo, "gen") {
		got = append(got, e.Role+": "+strings.SplitN(e.Text, " after ", 2)[0])
	}
	want := []string{"user: the prompt exit=3", "assistant: fake-generic got: the prompt exit=3", "system: exit 3", "user: second", "assistant: fake-generic got: second", "system: exit 0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("transcript %q, want %q", got, want)
	}
	human := cmdtest.MustRun(t, repo, "log", "gen", "-n", "2").Stdout
	if !strings.HasPrefix(human, "assistant") || !strings.Contains(human, "fake-generic got: second") || strings.Contains(human, "exit=3") {
		t.Errorf("log -n 2:\n%s", human)
	}
}

func TestMissingAgent(t *testing.T) {
	t.Parallel()
	// A path that does not exist: found by no lookup, whatever is
	// installed on this machine, and still claude by its name.
	repo, _ := newLoop(t, "/nonexistent/bin/claude", "m", "none")
	cmdtest.MustRun(t, repo, "status", "m")
	cmdtest.MustRun(t, repo, "ls")
	cmdtest.MustRun(t, repo, "log", "m")
	r := cmdtest.Run(t, repo, "run", "m", "hello")
	if r.Code != 1 {
		t.Errorf("run: exit %d, want 1", r.Code)
	}
	for _, want := range []string{"npm install -g @anthropic-ai/claude-code", "git loop config set agent CMD"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("run error lacks %q: %q", want, r.Stderr)
		}
	}
	// doctor says so too, with the same lookup.
	if d := cmdtest.Run(t, repo, "doctor"); !strings.Contains(d.Stdout+d.Stderr, `agent "/nonexistent/bin/claude" is not installed`) {
		t.Errorf("doctor does not see the missing agent:\n%s%s", d.Stdout, d.Stderr)
	}
	// The loop is not stuck: the hint's --agent works, and so does setting
	// an agent afterwards (issue 16).
	if r := cmdtest.Run(t, repo, "run", "m", "--agent", "fake-generic", "hint"); r.Code != 0 {
		t.Errorf("run --agent: exit %d\n%s", r.Code, r.Stderr)
	}
	gittest.Git(t, repo, "config", "loop.agent", "fake-generic")
	if r := cmdtest.Run(t, repo, "run", "m", "after config set"); r.Code != 0 || !strings.Contains(r.Stdout, "fake-generic got: after config set") {
		t.Errorf("run after config set agent: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if d := cmdtest.Run(t, repo, "doctor"); strings.Contains(d.Stdout+d.Stderr, "is not installed") {
		t.Errorf("doctor and run disagree:\n%s%s", d.Stdout, d.Stderr)
	}
	gittest.Git(t, repo, "config", "loop.agent", "/nonexistent/codex")
	r = cmdtest.Run(t, repo, "new", "m2", "--driver", "none", "-m", "hello")
	if r.Code != 1 || !strings.Contains(r.Stderr, "npm install -g @openai/codex") {
		t.Errorf("new -m: exit %d %q", r.Code, r.Stderr)
	}
	cmdtest.MustRun(t, repo, "status", "m2") // the loop was made all the same
	// On a terminal, new opens a shell instead, saying why.
	r = cmdtest.RunWith(t, repo, cmdtest.Options{TTY: true, Stdin: "exit 0\n"}, "new", "m3", "--driver", "none")
	if r.Code != 0 || !strings.Contains(r.Stderr, "npm install -g @openai/codex") || !strings.Contains(r.Stderr, "Opening a shell in the loop instead") {
		t.Errorf("new on a terminal: exit %d %q", r.Code, r.Stderr)
	}
}

func TestNewMessageAndAttach(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	gittest.Git(t, repo, "config", "loop.agent", "claude")
	r := cmdtest.Run(t, repo, "new", "nm", "--driver", "none", "-m", "first turn exit=5")
	if r.Code != 5 || !strings.Contains(r.Stdout, `"type":"result"`) {
		t.Fatalf("new -m: exit %d (want the agent's, 5)\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if msg := gittest.Git(t, repo, "log", "-1", "--format=%s", "loop/nm"); msg != "fake-claude: first turn exit=5" {
		t.Errorf("loop/nm head: %q", msg)
	}
	if e := logJSON(t, repo, "nm"); len(e) == 0 || e[0].Text != "first turn exit=5" {
		t.Errorf("log after new -m: %+v", e)
	}
	if r := cmdtest.Run(t, repo, "new", "nm2", "-m", "x", "--json"); r.Code != 2 {
		t.Errorf("-m with --json: exit %d", r.Code)
	}
	// On a terminal, new attaches the agent.
	r = cmdtest.RunWith(t, repo, cmdtest.Options{TTY: true}, "new", "tty", "--driver", "none")
	if r.Code != 0 || !strings.Contains(r.Stdout, "fake-claude: interactive session") {
		t.Errorf("new on a terminal: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestOneAgentAtATime: a second run while one is going fails clearly and
// at once; the first is unharmed. The first run's agent holds until the
// test lets it end, so no clock decides the order: the second run must
// come back while the first still holds.
func TestOneAgentAtATime(t *testing.T) {
	t.Parallel()
	repo, _ := newLoop(t, "fake-generic", "busy", "none")
	lock := filepath.Join(logDir(repo, "busy"), "agent.lock")
	release := filepath.Join(t.TempDir(), "release")
	var released atomic.Bool
	let := func() {
		if !released.Swap(true) {
			if err := os.WriteFile(release, nil, 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(let) // never leave the agent holding
	var first cmdtest.Result
	firstDone := make(chan struct{})
	go func() {
		defer close(firstDone)
		first = cmdtest.Run(t, repo, "run", "busy", "held hold="+release)
	}()
	for {
		if b, _ := os.ReadFile(lock); strings.HasPrefix(string(b), "run, pid") {
			break
		}
		select {
		case <-firstDone:
			t.Fatalf("the first run ended without taking the lock: exit %d %q", first.Code, first.Stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	// A second run that waited for the lock instead of failing would wait
	// for ever; after a minute the first is let go, and the second run's
	// success, after the release, fails the test below.
	watchdog := time.AfterFunc(time.Minute, let)
	r := cmdtest.Run(t, repo, "run", "busy", "second")
	watchdog.Stop()
	if released.Load() {
		t.Errorf("the second run came back only after the first was let go: it waited instead of failing at once")
	}
	if r.Code != 1 || !strings.Contains(r.Stderr, "already has an agent running (run, pid") {
		t.Errorf("second run: exit %d: %q", r.Code, r.Stderr)
	}
	let()
	<-firstDone
	if first.Code != 0 || !strings.Contains(first.Stdout, "fake-generic got: held hold=") {
		t.Errorf("first run: exit %d %q %q", first.Code, first.Stdout, first.Stderr)
	}
	cmdtest.MustRun(t, repo, "run", "busy", "third")
}

// TestBwrap runs claude under bubblewrap: the agent program (a symlink
// into this repository, which the sandbox does not show) is mounted
// read-only, its config dir is the loop's agent dir, and its commit lands.
func TestBwrap(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := bwrap.Open(ctx)
	cancel()
	sandboxtest.Require(t, err, "bwrap", "install bubblewrap")
	repo, wt := newLoop(t, "claude", "bw", "bwrap")
	r := cmdtest.Run(t, repo, "run", "bw", "in a sandbox")
	if r.Code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	args, env, raw := record(t, filepath.Join(agentDir(repo, "bw"), "fake-claude.record"))
	if args[len(args)-1] != "in a sandbox" {
		t.Errorf("argv %q", args)
	}
	wantEnv(t, env, map[string]string{"CLAUDE_CONFIG_DIR": agentDir(repo, "bw"), "GIT_LOOP_WORKDIR": wt, "HOME": filepath.Join(repo, ".git", "loop", "loops", "bw", "home")})
	if !strings.Contains(raw, "pwd="+wt+"\n") {
		t.Errorf("not run in the worktree:\n%s", raw)
	}
	if msg := gittest.Git(t, repo, "log", "-1", "--format=%s", "loop/bw"); msg != "fake-claude: in a sandbox" {
		t.Errorf("loop/bw head: %q", msg)
	}
	if e := logJSON(t, repo, "bw"); len(e) < 2 || e[0].Text != "in a sandbox" {
		t.Errorf("log: %+v", e)
	}
	r = cmdtest.RunWith(t, repo, cmdtest.Options{TTY: true}, "attach", "bw")
	if args, _, _ := record(t, filepath.Join(agentDir(repo, "bw"), "fake-claude.record")); r.Code != 0 || !reflect.DeepEqual(args, []string{"--continue"}) {
		t.Errorf("attach: exit %d, args %q\n%s", r.Code, args, r.Stderr)
	}
}

// TestClaudeGetsComposedMCPServers: Claude Code reads MCP servers from
// --mcp-config, so a loop whose tiers define some passes the composed file.
func TestClaudeGetsComposedMCPServers(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	gittest.Git(t, repo, "config", "loop.agent", "claude")
	home := t.TempDir()
	o := cmdtest.Options{Env: map[string]string{"GIT_LOOP_HOME": home}}
	if r := cmdtest.RunWith(t, repo, o, "init", "-q"); r.Code != 0 {
		t.Fatalf("init: %s", r.Stderr)
	}
	gittest.WriteFile(t, filepath.Join(home, "data", "personal"), ".claude/settings.json", `{"mcpServers": {"docs": {"command": "docs-server", "env": {"TOKEN": "${DOCS_TOKEN}"}}}}`)
	gittest.Commit(t, filepath.Join(home, "data", "personal"), "mcp")
	if r := cmdtest.RunWith(t, repo, o, "new", "m", "--driver", "none", "-d"); r.Code != 0 {
		t.Fatalf("new: %s", r.Stderr)
	}
	mcp := filepath.Join(agentDir(repo, "m"), "mcp.json")
	data, err := os.ReadFile(mcp)
	if err != nil || !strings.Contains(string(data), "docs-server") || !strings.Contains(string(data), "${DOCS_TOKEN}") {
		t.Fatalf("mcp.json: %v\n%s", err, data)
	}
	if r := cmdtest.RunWith(t, repo, o, "run", "m", "hello"); r.Code != 0 {
		t.Fatalf("run: %s", r.Stderr)
	}
	args, _, _ := record(t, filepath.Join(agentDir(repo, "m"), "fake-claude.record"))
	if len(args) < 2 || args[0] != "--mcp-config" || args[1] != mcp {
		t.Errorf("claude argv %q lacks --mcp-config %s", args, mcp)
	}
}

// TestLoopFollowsAgentSetting (issue 16): a loop made before an agent was
// chosen runs the agent set later, its agent dir composed again for it,
// and keeps what the first agent wrote there; --agent of another kind is
// composed for too; new --agent records the loop's own.
func TestLoopFollowsAgentSetting(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	r := cmdtest.MustRun(t, repo, "new", "f", "--driver", "none", "--detach")
	_ = r
	dir := agentDir(repo, "f")
	if _, err := os.Stat(filepath.Join(dir, "CLAUDE.md")); err != nil {
		t.Fatalf("composed for the default agent, claude: %v", err)
	}
	cmdtest.MustRun(t, repo, "run", "f", "as claude")
	gittest.Git(t, repo, "config", "loop.agent", "codex -c x=1")
	r = cmdtest.MustRun(t, repo, "run", "f", "as codex")
	args, env, _ := record(t, filepath.Join(dir, "fake-codex.record"))
	if !reflect.DeepEqual(args, []string{"exec", "-c", "x=1", "as codex"}) || env["CODEX_HOME"] != dir {
		t.Errorf("codex argv %q env %v", args, env)
	}
	for _, f := range []string{"AGENTS.md", "config.toml", "fake-claude.record", "projects"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("after codex: %s: %v", f, err)
		}
	}
	for _, f := range []string{"CLAUDE.md", "settings.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("after codex: %s is still there", f)
		}
	}
	if !strings.Contains(r.Stderr, "its agent config is composed again, in the codex layout (it was claude") {
		t.Errorf("run does not say it composed again:\n%s", r.Stderr)
	}
	// A one-off agent of another kind, behind a wrapper.
	cmdtest.MustRun(t, repo, "run", "f", "--agent", "env FAKE_WRAPPED=1 claude --model opus", "wrapped")
	args, env, _ = record(t, filepath.Join(dir, "fake-claude.record"))
	if env["FAKE_WRAPPED"] != "1" || args[0] != "--model" || args[len(args)-1] != "wrapped" {
		t.Errorf("wrapped claude argv %q env %v", args, env)
	}
	if _, err := os.Stat(filepath.Join(dir, "CLAUDE.md")); err != nil {
		t.Errorf("not composed for claude again: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sessions")); err != nil {
		t.Errorf("codex's sessions were not kept: %v", err)
	}
	// new --agent records the loop's own agent, composed for from the start.
	cmdtest.MustRun(t, repo, "new", "g", "--agent", "npx -y @openai/codex", "--driver", "none", "--detach")
	if m := cmdtest.ReadMeta(t, repo, "g"); m.Agent != "npx -y @openai/codex" {
		t.Errorf("recorded agent %q", m.Agent)
	}
	if _, err := os.Stat(filepath.Join(agentDir(repo, "g"), "config.toml")); err != nil {
		t.Errorf("new --agent codex behind npx: not composed for codex: %v", err)
	}
	if r := cmdtest.Run(t, repo, "new", "h", "--agent", `"unterminated`, "--driver", "none", "--detach"); r.Code != 2 {
		t.Errorf("a bad --agent: exit %d %s", r.Code, r.Stderr)
	}
}

// TestMissingAgentOnDockerSaidOnce (issue 16): with neither the host nor
// the image having the agent, the missing agent is reported once, by git
// loop, not also by the script that looks for it in the container.
func TestMissingAgentOnDockerSaidOnce(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	cmdtest.DockerDriver.Prepare(t, repo)
	cmdtest.RemoveContainers(t, repo)
	gittest.Git(t, repo, "config", "loop.agent", "/nonexistent/bin/claude")
	cmdtest.MustRun(t, repo, "new", "d", "--driver", "docker", "--detach")
	r := cmdtest.Run(t, repo, "run", "d", "hello")
	if r.Code == 0 || strings.Count(r.Stdout+r.Stderr, "not installed") != 1 {
		t.Errorf("run: exit %d, want the missing agent said once:\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestAgentOverrideOnDocker (issue 16): "run --agent CMD", the hint's way
// out, runs CMD on docker too, though the container was made for another
// agent: its program is mounted for it.
func TestAgentOverrideOnDocker(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	cmdtest.DockerDriver.Prepare(t, repo)
	cmdtest.RemoveContainers(t, repo)
	cmdtest.MustRun(t, repo, "new", "o", "--driver", "docker", "--detach")
	r := cmdtest.Run(t, repo, "run", "o", "--agent", "fake-generic", "override")
	if r.Code != 0 || !strings.Contains(r.Stdout, "fake-generic got: override") {
		t.Errorf("run --agent on docker: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// And the loop's own agent, on PATH by name in exec.
	r = cmdtest.Run(t, repo, "exec", "o", "--", "sh", "-c", "command -v claude")
	if r.Code != 0 || !strings.HasSuffix(strings.TrimSpace(r.Stdout), "/claude") {
		t.Errorf("claude not on PATH in exec: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestRecomposeHostile: the agent dir is the sandbox's to write. When the
// loop's agent changes kind, composing it again must not follow what the
// sandbox planted there: a link in place of the dir, or a link inside it
// to a host file, leads the host nowhere.
func TestRecomposeHostile(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := gittest.Repo(t)
			d.Prepare(t, repo)
			cmdtest.RemoveContainers(t, repo)
			secret := t.TempDir()
			canary := filepath.Join(secret, "canary")
			if err := os.WriteFile(canary, []byte("host"), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"inside", "instead"} {
				cmdtest.MustRun(t, repo, "new", name, "--driver", d.Name, "--detach")
			}
			// The attack, from inside: a link to the host file in one agent
			// dir, the other agent dir replaced by a link to the host dir.
			cmdtest.MustRun(t, repo, "exec", "inside", "--", "sh", "-c", `ln -s `+canary+` "$GIT_LOOP_AGENT_DIR/evil"`)
			cmdtest.MustRun(t, repo, "exec", "instead", "--", "sh", "-c", `d=$GIT_LOOP_AGENT_DIR; rm -rf "$d" && ln -s `+secret+` "$d"`)
			gittest.Git(t, repo, "config", "loop.agent", "codex")
			for _, name := range []string{"inside", "instead"} {
				cmdtest.Run(t, repo, "run", name, "go")
			}
			entries, _ := os.ReadDir(secret)
			if data, err := os.ReadFile(canary); err != nil || string(data) != "host" || len(entries) != 1 {
				t.Errorf("the host dir changed: %v %q, %d entries", err, data, len(entries))
			}
			if target, err := os.Readlink(filepath.Join(agentDir(repo, "inside"), "evil")); err != nil || target != canary {
				t.Errorf("the planted link was not kept as a link: %q %v", target, err)
			}
			if _, err := os.Stat(filepath.Join(agentDir(repo, "inside"), "AGENTS.md")); err != nil {
				t.Errorf("not composed again for codex: %v", err)
			}
		})
	}
}

// TestDoctorSeesLoopAgent: a loop's own agent (new --agent) that is not
// installed is reported by doctor, as run finds it missing.
func TestDoctorSeesLoopAgent(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	cmdtest.MustRun(t, repo, "new", "own", "--agent", "/nonexistent/codex", "--driver", "none", "--detach")
	d := cmdtest.Run(t, repo, "doctor")
	if !strings.Contains(d.Stdout+d.Stderr, `loop own runs agent "/nonexistent/codex", which is not installed`) {
		t.Errorf("doctor:\n%s%s", d.Stdout, d.Stderr)
	}
	if r := cmdtest.Run(t, repo, "run", "own", "hi"); r.Code == 0 {
		t.Errorf("run with the missing agent succeeded")
	}
}
