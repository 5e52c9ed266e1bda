// Package git is the only place git loop runs git. A git invocation is a
// value (Cmd) so it can be logged, printed by --dry-run and compared in
// tests. Runner runs mutating commands and logs them; Querier runs
// read-only commands quietly.
package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Cmd is one git invocation.
type Cmd struct {
	Dir  string   // working directory; git runs as if started there
	Args []string // arguments after "git"
	// Label prefixes the logged line, e.g. "loop/x".
	Label string
	// Stdin, when set, is fed to git.
	Stdin io.Reader
	// Env is added to git's environment (e.g. GIT_SSH_COMMAND).
	Env []string
	// Group runs git in a process group of its own, killed whole when
	// the context ends: for a git whose children (a remote helper) would
	// otherwise outlive it holding its output open.
	Group bool
	// Files are handed to git after the runner's Inherit (fd 3 +
	// len(Inherit) onwards), and closed in this process once git has
	// started (or failed to), so that git's end of a pipe is git's alone.
	Files []*os.File
}

// String renders the command as a user would type it.
func (c Cmd) String() string {
	var b strings.Builder
	if c.Label != "" {
		b.WriteString("[" + c.Label + "] ")
	}
	b.WriteString("git")
	for _, a := range c.Args {
		b.WriteByte(' ')
		b.WriteString(quote(a))
	}
	return b.String()
}

func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}();&|<>!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Error is a failed git command with its stderr.
type Error struct {
	Cmd    Cmd
	Code   int
	Stderr string
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", e.Code)
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Cmd.Args, " "), msg)
}

// scrubbed are variables that would redirect git to another repository.
// Code reached from git hooks inherits them, so they are removed before
// every invocation (each Cmd names its Dir explicitly).
var scrubbed = []string{"GIT_LOOP_INTERNAL=", "GIT_DIR=", "GIT_WORK_TREE=", "GIT_INDEX_FILE=", "GIT_PREFIX=", "GIT_OBJECT_DIRECTORY=", "GIT_ALTERNATE_OBJECT_DIRECTORIES=", "GIT_COMMON_DIR="}

// Env returns the environment git runs with: the process environment with
// repository-redirecting variables removed, plus extra.
func Env(extra ...string) []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		keep := true
		for _, p := range scrubbed {
			if strings.HasPrefix(kv, p) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	// Hooks git runs for git loop's own commands must not re-enter git
	// loop (new holds the state lock while git adds the worktree); the
	// shims stop at this after running the user's chained hooks.
	out = append(out, InternalEnv)
	return append(out, extra...)
}

// InternalEnv marks the git processes git loop runs itself.
const InternalEnv = "GIT_LOOP_INTERNAL=1"

// hostSafety is prepended to every git git loop runs. Loop worktrees and
// their git dirs are writable from sandboxes; git on the host must not run
// a command planted there (an fsmonitor hook set in a submodule's config,
// say). Command-line config beats every file and reaches child gits.
var hostSafety = []string{"-c", "core.fsmonitor=false"}

func run(ctx context.Context, c Cmd, stdout io.Writer, inherit []*os.File, extraEnv ...string) error {
	return start(ctx, c, stdout, inherit, extraEnv...)()
}

// start starts git for c and returns the wait for its outcome.
func start(ctx context.Context, c Cmd, stdout io.Writer, inherit []*os.File, extraEnv ...string) (wait func() error) {
	cmd := exec.CommandContext(ctx, "git", append(hostSafety[:len(hostSafety):len(hostSafety)], c.Args...)...)
	cmd.ExtraFiles = inherit
	if len(c.Files) > 0 {
		cmd.ExtraFiles = append(append([]*os.File(nil), inherit...), c.Files...)
		defer func() {
			for _, f := range c.Files {
				f.Close()
			}
		}()
	}
	cmd.Dir = c.Dir
	cmd.Env = Env(append(append([]string(nil), extraEnv...), c.Env...)...)
	cmd.Stdin = c.Stdin
	if c.Group {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 2 * time.Second
	}
	var stderr bytes.Buffer
	cmd.Stdout = stdout
	cmd.Stderr = &stderr
	outcome := func(err error) error {
		if err == nil {
			return nil
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &Error{Cmd: c, Code: ee.ExitCode(), Stderr: stderr.String()}
		}
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("git is not installed or not on PATH: %w", err)
		}
		return fmt.Errorf("%s: %w", c, err)
	}
	if err := cmd.Start(); err != nil {
		return func() error { return outcome(err) }
	}
	return func() error { return outcome(cmd.Wait()) }
}

// Querier runs read-only git commands. It never writes optional locks
// (GIT_OPTIONAL_LOCKS=0), so a query never contends with a user's git.
type Querier struct{}

// Output runs c and returns its stdout.
func (Querier) Output(ctx context.Context, c Cmd) ([]byte, error) {
	var out bytes.Buffer
	err := run(ctx, c, &out, nil, "GIT_OPTIONAL_LOCKS=0")
	return out.Bytes(), err
}

// Line runs c and returns its stdout without the trailing newline.
func (q Querier) Line(ctx context.Context, c Cmd) (string, error) {
	out, err := q.Output(ctx, c)
	return strings.TrimRight(string(out), "\n"), err
}

// Succeeds reports whether c exits 0; other failures than a non-zero exit
// (git missing, context cancelled) are returned.
func (q Querier) Succeeds(ctx context.Context, c Cmd) (bool, error) {
	_, err := q.Output(ctx, c)
	var ge *Error
	if errors.As(err, &ge) {
		return false, nil
	}
	return err == nil, err
}

// Runner runs mutating git commands, printing each on Log (as
// "[loop/x] git worktree add …") unless Log is nil. With DryRun it prints
// and runs nothing.
type Runner struct {
	Log    io.Writer
	DryRun bool
	// Inherit are files every git process inherits. The state lock is
	// passed this way: a flock is held while any process holding its file
	// lives, so if git loop is killed, the git it started (which runs on,
	// orphaned) keeps the lock until it ends, and recovery never races it.
	Inherit []*os.File
}

// Run runs c, discarding its stdout.
func (r *Runner) Run(ctx context.Context, c Cmd) error {
	_, err := r.Output(ctx, c)
	return err
}

// Output runs c and returns its stdout.
func (r *Runner) Output(ctx context.Context, c Cmd) ([]byte, error) {
	if r.Log != nil {
		fmt.Fprintln(r.Log, c.String())
	}
	if r.DryRun {
		return nil, nil
	}
	var out bytes.Buffer
	err := run(ctx, c, &out, r.Inherit)
	return out.Bytes(), err
}

// Start runs c in the background, so the caller can do other work while
// git runs; wait, which must be called, returns what Run would have. The
// command is logged now, keeping the log in the order the caller started
// things.
func (r *Runner) Start(ctx context.Context, c Cmd) (wait func() error) {
	if r.Log != nil {
		fmt.Fprintln(r.Log, c.String())
	}
	if r.DryRun {
		return func() error { return nil }
	}
	// A nil stdout is the null device: no pipe, and no goroutine (nor the
	// thread it blocks) copying output nobody reads.
	return start(ctx, c, nil, r.Inherit)
}

// Stream runs c with its output going straight to stdout and stderr (git
// then colours and pages as it would for the user).
func (Querier) Stream(ctx context.Context, c Cmd, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, "git", append(hostSafety[:len(hostSafety):len(hostSafety)], c.Args...)...)
	cmd.Dir = c.Dir
	cmd.Env = Env(append([]string{"GIT_OPTIONAL_LOCKS=0"}, c.Env...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, stdout, stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &Error{Cmd: c, Code: ee.ExitCode()}
		}
		return fmt.Errorf("%s: %w", c, err)
	}
	return nil
}
