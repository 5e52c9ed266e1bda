package session

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/agent"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/gitloop/workspace/workspacetest"
)

func agentService(t *testing.T) (*workspace.Workspace, string) {
	t.Helper()
	repo := gittest.Repo(t)
	return workspacetest.New(t, repo), repo
}

// TestRunGeneric runs a generic agent headless: prompt last, env with the
// loop's paths, a secret passed in the env only (not in argv, not in the
// process's /proc cmdline), output streamed and logged privately.
func TestRunGeneric(t *testing.T) {
	t.Parallel()
	svc, _ := agentService(t)
	ctx := context.Background()
	m, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "g", Driver: "none"})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "s3cr3t-value-77"
	var out strings.Builder
	setting := fakeAgent(t, "fake-generic") + " --flag 'two words'"
	res, err := RunWith(ctx, svc, RunOptions{Name: "g", Prompt: "do the thing exit=3", Agent: setting, Stdout: &out,
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
	m, err := lifecycle.New(context.Background(), svc, lifecycle.NewOptions{Name: "argv-loop", Driver: "none"})
	if err != nil {
		t.Fatal(err)
	}
	fixed := map[string]bool{"-p": true, "--output-format": true, "stream-json": true, "--verbose": true, "--continue": true,
		"exec": true, "resume": true, "--last": true, "--flag": true, "the prompt": true}
	for _, kind := range []string{"claude", "codex", "fake-generic"} {
		for _, mode := range []agent.Mode{agent.Interactive, agent.Resume, agent.Headless} {
			inv, err := agent.Prepare(svc, m, fakeAgent(t, kind)+" --flag", mode, "the prompt")
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range inv.Cmd {
				if !(i == 0 && a == inv.Program.Path) && !fixed[a] {
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
	if _, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "b", Driver: "none"}); err != nil {
		t.Fatal(err)
	}
	release, err := holdAgent(svc, "b", "run")
	if err != nil {
		t.Fatal(err)
	}
	_, err = RunWith(ctx, svc, RunOptions{Name: "b", Prompt: "x", Agent: fakeAgent(t, "fake-generic")})
	var busy *agent.BusyError
	if !errors.As(err, &busy) || !strings.Contains(err.Error(), "run, pid ") {
		t.Fatalf("second run: %v, want AgentBusyError naming the holder", err)
	}
	_, err = Attach(ctx, svc, "b", AttachOptions{Agent: fakeAgent(t, "fake-generic")})
	if !errors.As(err, &busy) {
		t.Fatalf("attach during a run: %v, want AgentBusyError", err)
	}
	release()
	if res, err := RunWith(ctx, svc, RunOptions{Name: "b", Prompt: "x", Agent: fakeAgent(t, "fake-generic")}); err != nil || res.ExitCode != 0 {
		t.Fatalf("after release: %v %+v", err, res)
	}
}

func TestAgentMissing(t *testing.T) {
	t.Parallel()
	svc, _ := agentService(t)
	ctx := context.Background()
	if _, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "m", Driver: "none"}); err != nil {
		t.Fatal(err)
	}
	for setting, hint := range map[string]string{
		"/nonexistent/bin/claude":   "npm install -g @anthropic-ai/claude-code",
		"/nonexistent/bin/codex -x": "npm install -g @openai/codex",
		"no-such-agent-4711":        "install it",
	} {
		_, err := RunWith(ctx, svc, RunOptions{Name: "m", Prompt: "x", Agent: setting})
		var missing *agent.MissingError
		if !errors.As(err, &missing) {
			t.Fatalf("%s: %v, want AgentMissingError", setting, err)
		}
		for _, want := range []string{hint, `git loop config set agent CMD`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q lacks %q", setting, err, want)
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
	if _, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "c", Driver: "none"}); err != nil {
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
		code, err := Attach(ctx, svc, "c", tc.opts)
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
	m, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "w", Driver: "none"})
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "testdata", "agents", "fake-generic"))
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
	res, err := RunWith(ctx, svc, RunOptions{Name: "w", Prompt: "hi", Agent: "./bin/agent", Stdout: &out})
	if err != nil || res.ExitCode != 0 || !strings.Contains(out.String(), "fake-generic got: hi") {
		t.Fatalf("run: %v %+v %q", err, res, out.String())
	}
	inv, err := agent.Prepare(svc, m, "./bin/agent", agent.Headless, "x")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Cmd[0] != filepath.Join(m.Worktree, "bin", "agent") || len(inv.Program.Mounts("bwrap")) != 0 {
		t.Errorf("cmd %q, mounts %v", inv.Cmd, inv.Program.Mounts("bwrap"))
	}
	if _, err := agent.Prepare(svc, m, "./bin/nope", agent.Headless, "x"); err == nil {
		t.Errorf("a missing worktree agent must be an error")
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
	src, err := filepath.Abs(filepath.Join("..", "..", "testdata", "agents", script))
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	return link
}
