// Package session is working in a loop: attaching to its agent, headless
// runs with their logs, commands in its sandbox, its diff and its
// transcript.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/agent"
	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transcript"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// AttachOptions are the inputs of Attach.
type AttachOptions struct {
	// Agent replaces the loop's recorded agent for this session.
	Agent string
	// New starts a new session even when the agent has one to continue.
	New    bool
	TTY    bool
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// RawTerminal: as in ExecOptions.
	RawTerminal func() (restore func(), sizes <-chan sandbox.TermSize)
	// Env is added to the agent's environment (secrets go here, never
	// into argv).
	Env map[string]string
}

// Attach runs the loop's agent interactively in its sandbox, continuing
// the agent's last session when it has one (claude --continue, codex
// resume --last), and returns the agent's exit code. A missing agent is
// an *AgentMissingError; the caller decides what to open instead.
func Attach(ctx context.Context, s *workspace.Workspace, name string, opts AttachOptions) (int, error) {
	m, err := s.Get(name)
	if err != nil {
		return 0, err
	}
	mode := agent.Resume
	if opts.New {
		mode = agent.Interactive
	}
	inv, err := agent.Prepare(s, m, opts.Agent, mode, "")
	if err != nil {
		return 0, err
	}
	release, err := holdAgent(s, m.Name, "attach")
	if err != nil {
		return 0, err
	}
	defer release()
	if inv, err = composedFor(ctx, s, inv, func() (*agent.Invocation, error) { return agent.Prepare(s, m, opts.Agent, mode, "") }); err != nil {
		return 0, err
	}
	return execAgent(ctx, s, inv, opts.Env, sandbox.Exec{
		TTY: opts.TTY, Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
	}, opts.RawTerminal)
}

// RunOptions are the inputs of RunWith.
type RunOptions struct {
	Name   string
	Prompt string
	// Agent replaces the loop's recorded agent for this run.
	Agent  string
	Stdout io.Writer
	Stderr io.Writer // nil: Stdout
	// Env is added to the agent's environment (secrets go here, never
	// into argv).
	Env map[string]string
}

// RunResult is the outcome of a headless run.
type RunResult struct {
	LogPath  string `json:"log"`
	ExitCode int    `json:"exitCode"`
}

// Run runs one headless agent turn with prompt in the loop's sandbox,
// streaming the agent's output (stdout and stderr) to stdout and saving it
// under LogDir(name). See RunWith.
func Run(ctx context.Context, s *workspace.Workspace, name, prompt string, stdout io.Writer) (RunResult, error) {
	return RunWith(ctx, s, RunOptions{Name: name, Prompt: prompt, Stdout: stdout})
}

// RunWith runs one headless agent turn. Its output streams to the
// caller and into LogDir/<time>-run.log (0600), headed by the time, loop,
// agent and prompt and ended by the exit code. One agent runs in a loop at
// a time: a second is an *AgentBusyError. The agent's exit code is in the
// result; the error is for what kept it from running.
func RunWith(ctx context.Context, s *workspace.Workspace, opts RunOptions) (RunResult, error) {
	if strings.TrimSpace(opts.Prompt) == "" {
		return RunResult{}, &workspace.UsageError{Err: errors.New("run needs a PROMPT")}
	}
	m, err := s.Get(opts.Name)
	if err != nil {
		return RunResult{}, err
	}
	inv, err := agent.Prepare(s, m, opts.Agent, agent.Headless, opts.Prompt)
	if err != nil {
		return RunResult{}, err
	}
	// A vault that cannot be delivered stops the run before its log.
	if err := sandboxspec.CheckVault(ctx, s, m.Vault); err != nil {
		return RunResult{}, fmt.Errorf("run in %s: %w", m.Name, err)
	}
	release, err := holdAgent(s, m.Name, "run")
	if err != nil {
		return RunResult{}, err
	}
	defer release()
	if inv, err = composedFor(ctx, s, inv, func() (*agent.Invocation, error) {
		return agent.Prepare(s, m, opts.Agent, agent.Headless, opts.Prompt)
	}); err != nil {
		return RunResult{}, err
	}

	start := s.Clock()
	f, err := createRunLog(s, m.Name, start)
	if err != nil {
		return RunResult{}, err
	}
	defer f.Close()
	res := RunResult{LogPath: f.Name()}
	lw := &logWriter{f: f, last: '\n'}
	if err := writeRunHeader(lw, start, m, inv); err != nil {
		return res, fmt.Errorf("run %s: write log: %w", m.Name, err)
	}
	stdout, stderr := writerOrDiscard(opts.Stdout), opts.Stderr
	if stderr == nil {
		stderr = stdout
	}
	// The log first, and the caller's writers never failing the copy: a
	// closed pipe (git loop run … | head) must not cut the log short.
	code, err := execAgent(ctx, s, inv, opts.Env, sandbox.Exec{
		Stdout: io.MultiWriter(lw, &bestEffortWriter{w: stdout}),
		Stderr: io.MultiWriter(lw, &bestEffortWriter{w: stderr}),
	}, nil)
	res.ExitCode = code
	trailer := fmt.Sprintf("exit %d after %s", code, s.Clock().Sub(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		trailer = "interrupted after " + s.Clock().Sub(start).Round(time.Millisecond).String()
	} else if err != nil {
		trailer = fmt.Sprintf("exit %d after %s: %v", code, s.Clock().Sub(start).Round(time.Millisecond), err)
	}
	lw.trailer(trailer)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("run %s: write log: %w", m.Name, cerr)
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("run in %s: %w", m.Name, ctx.Err())
	}
	if err != nil {
		var missing *agent.MissingError
		if !errors.As(err, &missing) {
			err = fmt.Errorf("run in %s: %w", m.Name, err)
		}
		return res, err
	}
	return res, nil
}

// composedFor makes the loop's agent dir composed for the agent about to
// run (contexts.Recompose), with the agent lock held, and prepares the
// agent again when its dir changed (Claude's --mcp-config is read from it).
func composedFor(ctx context.Context, s *workspace.Workspace, inv *agent.Invocation, again func() (*agent.Invocation, error)) (*agent.Invocation, error) {
	done, warning, err := contexts.Recompose(s, inv.Loop, inv.Agent.Kind)
	if err != nil {
		return nil, err
	}
	if warning != "" {
		s.Reporter().Warn(warning)
	}
	if !done {
		return inv, nil
	}
	if inv.Loop.Sandbox.Remote() {
		// The composition is made here and goes in as a tar stream: the
		// engine does not see this host's agent dir.
		t, err := transport.LoopTarget(ctx, s, inv.Loop.Name)
		if err != nil {
			return nil, err
		}
		if err := transport.PutDir(ctx, t, s.AgentDir(inv.Loop.Name), s.AgentDir(inv.Loop.Name)); err != nil {
			return nil, err
		}
	}
	return again()
}

// bestEffortWriter passes writes on until one fails, then drops the rest
// quietly.
type bestEffortWriter struct {
	w    io.Writer
	dead bool
}

func (b *bestEffortWriter) Write(p []byte) (int, error) {
	if !b.dead {
		if _, err := b.w.Write(p); err != nil {
			b.dead = true
		}
	}
	return len(p), nil
}

func writerOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// execAgent runs a prepared agent in the loop's sandbox.
func execAgent(ctx context.Context, s *workspace.Workspace, inv *agent.Invocation, extra map[string]string, x sandbox.Exec, raw func() (func(), <-chan sandbox.TermSize)) (int, error) {
	m := inv.Loop
	if !workspace.Exists(m.Worktree) {
		return 0, fmt.Errorf("loop %s: worktree %s is gone (run \"git loop prune\")", m.Name, m.Worktree)
	}
	if err := os.MkdirAll(s.AgentDir(m.Name), 0o700); err != nil {
		return 0, fmt.Errorf("loop %s: %w", m.Name, err)
	}
	eng, err := s.OpenEngine(ctx, m.Sandbox.Driver)
	if err != nil {
		return 0, fmt.Errorf("loop %s: %w", m.Name, err)
	}
	contexts.EnsureOwn(ctx, s, m)
	spec, err := sandboxspec.RunSpec(ctx, s, m)
	if err != nil {
		return 0, err
	}
	// The loop's own agent is in the spec already. Another one (--agent)
	// is shown for this exec alone: bwrap makes its namespaces per exec,
	// while a container's mounts are fixed when it is made, so docker
	// recreates the container for it (and again when the loop's own agent
	// runs next).
	spec.Mounts = addMounts(spec.Mounts, inv.Mounts)
	x.Cmd = inv.Cmd
	x.Env = map[string]string{}
	for k, v := range extra {
		x.Env[k] = v
	}
	for k, v := range inv.Env {
		if _, set := spec.Env[k]; set && strings.HasPrefix(k, "GIT_LOOP_") {
			continue // the loop's own value, as every exec sees it
		}
		x.Env[k] = v
	}
	stop, err := withEgress(ctx, s, eng, inv, spec, &x)
	if err != nil {
		return 0, err
	}
	defer stop()
	if to, ok := eng.(sandbox.TerminalOwner); ok && x.TTY && to.AllocatesTTY() && raw != nil {
		restore, sizes := raw()
		defer restore()
		x.Resize = sizes
	}
	code, err := eng.Exec(ctx, spec, x)
	fetchBack(ctx, s, m)
	if pe := (*sandbox.ProgramError)(nil); errors.As(err, &pe) {
		// The agent's program could not start in the sandbox.
		return code, &agent.MissingError{Loop: m.Name, Agent: inv.Agent, Err: pe}
	}
	if err != nil {
		return code, err
	}
	if code == 127 && inv.Program.Path == "" {
		// docker without a host copy, and the image had none either.
		return code, &agent.MissingError{Loop: m.Name, Agent: inv.Agent, Err: exec.ErrNotFound}
	}
	return code, nil
}

// addMounts appends the mounts whose target is not mounted yet.
func addMounts(ms, add []sandbox.Mount) []sandbox.Mount {
	for _, a := range add {
		found := false
		for _, m := range ms {
			found = found || filepath.Clean(m.Target) == filepath.Clean(a.Target)
		}
		if !found {
			ms = append(ms, a)
		}
	}
	return ms
}

// holdAgent takes the loop's agent lock (LogDir/agent.lock, flock(2), so
// a killed holder never leaves it stale) and records who holds it.
func holdAgent(s *workspace.Workspace, name, what string) (release func(), err error) {
	dir := s.LogDir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("loop %s: %w", name, err)
	}
	path := filepath.Join(dir, "agent.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("loop %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder, _ := os.ReadFile(path)
			return nil, &agent.BusyError{Loop: name, Holder: strings.TrimSpace(string(holder))}
		}
		return nil, fmt.Errorf("loop %s: lock %s: %w", name, path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("%s, pid %d, since %s\n", what, os.Getpid(), s.Clock().Format("15:04:05"))), 0)
	return func() {
		_ = f.Truncate(0)
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// createRunLog makes a new, private run log named after the time.
func createRunLog(s *workspace.Workspace, name string, t time.Time) (*os.File, error) {
	dir := s.LogDir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	stamp := t.UTC().Format("20060102T150405.000Z")
	for i := 1; ; i++ {
		base := stamp
		if i > 1 {
			base += "-" + strconv.Itoa(i)
		}
		f, err := os.OpenFile(filepath.Join(dir, base+transcript.RunLogSuffix), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return nil, fmt.Errorf("run %s: create log: %w", name, err)
		}
	}
}

func writeRunHeader(w io.Writer, t time.Time, m *state.Meta, inv *agent.Invocation) error {
	var b strings.Builder
	b.WriteString(transcript.RunLogMagic + "\n")
	fmt.Fprintf(&b, "time: %s\n", t.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(&b, "loop: %s\n", m.Name)
	fmt.Fprintf(&b, "agent: %s\n", singleLine(inv.Agent.Setting))
	fmt.Fprintf(&b, "driver: %s\n", m.Sandbox.Driver)
	prompt := strings.ReplaceAll(inv.PromptOf(), "\r\n", "\n")
	b.WriteString("prompt: " + strings.ReplaceAll(prompt, "\n", "\n  ") + "\n\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func singleLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// logWriter serialises writes from the agent's stdout and stderr into the
// run log and remembers the last byte, so the trailer starts a line.
type logWriter struct {
	mu   sync.Mutex
	f    *os.File
	last byte
	err  error
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) == 0 || w.err != nil {
		// A log that cannot be written must not stop the agent's output.
		return len(p), nil
	}
	if _, err := w.f.Write(p); err != nil {
		w.err = err
	}
	w.last = p[len(p)-1]
	return len(p), nil
}

func (w *logWriter) trailer(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	nl := ""
	if w.last != '\n' {
		nl = "\n"
	}
	_, _ = fmt.Fprintf(w.f, "%s%s%s\n", nl, transcript.RunLogTrailer, msg)
}
