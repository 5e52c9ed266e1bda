package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// ExecOptions are the inputs of Exec.
type ExecOptions struct {
	Name   string
	Cmd    []string
	TTY    bool
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// RawTerminal, when set, is called for a TTY exec on a driver whose
	// engine owns the terminal: it sets the caller's terminal raw and
	// reports its sizes; Exec calls restore when the command ends.
	RawTerminal func() (restore func(), sizes <-chan sandbox.TermSize)
}

// Exec runs a command in a loop's sandbox (with the none driver: in its
// worktree, with the loop's env) and returns the command's exit code.
func Exec(ctx context.Context, s *workspace.Workspace, opts ExecOptions) (int, error) {
	m, err := s.Get(opts.Name)
	if err != nil {
		return 0, err
	}
	if !workspace.Exists(m.Worktree) {
		return 0, fmt.Errorf("exec in %s: worktree %s is gone (run \"git loop prune\")", m.Name, m.Worktree)
	}
	eng, err := s.OpenEngine(ctx, m.Sandbox.Driver)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", m.Name, err)
	}
	contexts.EnsureOwn(ctx, s, m)
	spec, err := sandboxspec.RunSpec(ctx, s, m)
	if err != nil {
		return 0, err
	}
	x := sandbox.Exec{Cmd: opts.Cmd, TTY: opts.TTY, Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr}
	// The agent run by hand is logged in as in a session (egressByHand).
	stop, err := egressByHand(ctx, s, eng, m, spec, &x)
	if err != nil {
		return 0, err
	}
	defer stop()
	if m.Sandbox.Sealed && len(opts.Cmd) > 0 {
		// The snapshot is recorded in the exec's own session, so what
		// follows needs no second exec unless something moved.
		x.Cmd = transport.WrapExec(m.Worktree, missingMode(m, spec), x.Cmd)
	}
	if to, ok := eng.(sandbox.TerminalOwner); ok && opts.TTY && to.AllocatesTTY() && opts.RawTerminal != nil {
		restore, sizes := opts.RawTerminal()
		defer restore()
		x.Resize = sizes
	}
	code, err := eng.Exec(ctx, spec, x)
	if m.Sandbox.Sealed && len(opts.Cmd) > 0 {
		if err == nil && transport.ExecMissing(s, m, code) {
			code, err = missingProgram(eng, spec, missingMode(m, spec), opts.Cmd, code)
		}
		afterExec(ctx, s, m, err == nil)
	} else {
		fetchBack(ctx, s, m)
	}
	if pe := (*sandbox.ProgramError)(nil); errors.As(err, &pe) {
		return code, fmt.Errorf("exec in %s: %w; %s", m.Name, err, MissingProgramHint(m))
	}
	if err != nil {
		return code, fmt.Errorf("exec in %s: %w", m.Name, err)
	}
	return code, nil
}

// MissingProgramHint says what puts a program into a loop's sandbox, for
// a command that could not start there (sandbox.ProgramError).
func MissingProgramHint(m *state.Meta) string {
	const toolchain = "declare it in the toolchain (a mise.toml tier: see docs/toolchain.md)"
	const setup = "or install it with a setup command (.gitloop.toml) and make a new loop"
	switch m.Sandbox.Driver {
	case "docker":
		return fmt.Sprintf("%s, use an image that has it (sandbox.image, now %s; \"git loop image build --build-arg PACKAGES=…\"), %s", toolchain, m.Sandbox.Image, setup)
	case "bwrap":
		return fmt.Sprintf("%s, install it on the host (bwrap shows the host's /usr), %s", toolchain, setup)
	}
	return "install it on the host, or " + toolchain
}

// missingMode is how the exec wrapper of a sealed loop reports a program
// that is not there: as the engine does for a bare command.
func missingMode(m *state.Meta, spec sandbox.Spec) transport.MissingMode {
	switch {
	case m.Sandbox.Driver != "bwrap":
		return transport.MissingQuiet
	case spec.Network.Or() == sandbox.NetworkIsolated:
		return transport.MissingExec // its network gate's shell says it
	}
	return transport.MissingExecvp
}

// missingProgram is the code and error the engine gives for a program it
// could not start (sandbox.ProgramError, in the engine's words), for one
// the exec wrapper found missing (127) or not executable (126), and never
// ran.
func missingProgram(eng sandbox.Engine, spec sandbox.Spec, mode transport.MissingMode, cmd []string, code int) (int, error) {
	program := cmd[0]
	if mode == transport.MissingExec {
		if pc, ok := eng.(sandbox.ProgramChecker); ok {
			if pe := pc.MissingProgram(spec, sandbox.Exec{Cmd: cmd}); pe != nil {
				return pe.Code(), pe
			}
			return code, nil
		}
	}
	reason := "executable file not found in $PATH"
	switch {
	case mode != transport.MissingQuiet && code == 126:
		reason = "Permission denied"
	case mode != transport.MissingQuiet:
		reason = "No such file or directory"
	case code == 126:
		reason = "permission denied"
	case strings.Contains(program, "/"):
		reason = fmt.Sprintf("stat %s: no such file or directory", program)
	}
	pe := &sandbox.ProgramError{Program: program, Reason: reason}
	if mode == transport.MissingQuiet {
		return code, pe
	}
	return pe.Code(), pe
}

// afterExec brings a sealed loop's work to the host after a wrapped exec:
// a fetch only when its refs, read as data, moved. Like fetchBack it runs
// whatever the command's outcome and only warns.
func afterExec(ctx context.Context, s *workspace.Workspace, m *state.Meta, wrapped bool) {
	if err := transport.AfterExec(context.WithoutCancel(ctx), s, m, wrapped); err != nil {
		s.Reporter().Warn(fmt.Sprintf("loop %s: could not fetch from its sandbox: %v", m.Name, err))
	}
	pullTranscripts(ctx, s, m)
}

// pullTranscripts copies a remote loop's agent sessions to the host, for
// log and the web viewer (nothing for another loop).
func pullTranscripts(ctx context.Context, s *workspace.Workspace, m *state.Meta) {
	if !m.Sandbox.Remote() {
		return
	}
	if err := transport.PullTranscripts(context.WithoutCancel(ctx), s, m); err != nil {
		s.Reporter().Warn(fmt.Sprintf("loop %s: could not copy its transcripts from its sandbox: %v", m.Name, err))
	}
}

// fetchBack brings a sealed loop's commits and uncommitted work to the
// host after something ran in its sandbox. It runs even when the command
// failed or was interrupted (what it did is there either way), and only
// warns: the command's own outcome is what the caller reports.
func fetchBack(ctx context.Context, s *workspace.Workspace, m *state.Meta) {
	if !m.Sandbox.Sealed {
		return
	}
	if _, err := transport.Refresh(context.WithoutCancel(ctx), s, m); err != nil {
		s.Reporter().Warn(fmt.Sprintf("loop %s: could not fetch from its sandbox: %v", m.Name, err))
	}
	pullTranscripts(ctx, s, m)
}

// Diff writes the loop's changes against the merge base of its branch and
// its base's current commit (uncommitted work included) to stdout, as git
// diff prints them; extra args go to git diff.
func Diff(ctx context.Context, s *workspace.Workspace, name string, extra []string, stdout, stderr io.Writer) error {
	return diff(ctx, s, name, extra, stdout, stderr, true)
}

// DiffSeen is Diff for the web viewer, which must stay cheap: a remote
// loop's diff is of what the host last fetched (its branch and snapshot),
// with no exec into it. Other loops are diffed as Diff does.
func DiffSeen(ctx context.Context, s *workspace.Workspace, name string, extra []string, stdout, stderr io.Writer) error {
	return diff(ctx, s, name, extra, stdout, stderr, false)
}

func diff(ctx context.Context, s *workspace.Workspace, name string, extra []string, stdout, stderr io.Writer, fetchRemote bool) error {
	m, err := s.Get(name)
	if err != nil {
		return err
	}
	if m.Sandbox.Sealed && (fetchRemote || !m.Sandbox.Remote()) {
		if _, err := transport.Refresh(ctx, s, m); err != nil {
			return fmt.Errorf("diff %s: %w", name, err)
		}
	}
	refs, err := s.Refs(ctx)
	if err != nil {
		return err
	}
	base := m.BaseSHA
	if sha := refs[m.BaseRef]; m.BaseRef != "" && sha != "" {
		base = sha
	}
	head := refs[m.Branch]
	if head == "" {
		return fmt.Errorf("diff %s: branch %s is gone", name, m.ShortBranch())
	}
	mb, err := s.Query.Line(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"merge-base", base, head}})
	if err != nil {
		mb = m.BaseSHA // unrelated histories: diff against where it started
	}
	if m.Sandbox.Sealed {
		// Never git in the sandbox's clone: its branch and snapshot, just
		// fetched, diffed in the host's repository.
		to := head
		if sha, ok, _ := s.RefSHA(ctx, transport.SnapshotQuarantine(m.Name)); ok {
			to = sha
		}
		return s.Query.Stream(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: append([]string{"diff", mb, to}, extra...)}, stdout, stderr)
	}
	if !workspace.Exists(m.Worktree) {
		return s.Query.Stream(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: append([]string{"diff", mb, head}, extra...)}, stdout, stderr)
	}
	return diffWorktree(ctx, s, m.Worktree, mb, extra, stdout, stderr)
}

// diffWorktree diffs a worktree's files against base, new untracked files
// included (as the sealed snapshot includes them, and as "N uncommitted"
// counts them): "git diff BASE" alone leaves them out. It stages
// everything in a copy of the worktree's index, so the worktree's own
// index and files stay as they are.
func diffWorktree(ctx context.Context, s *workspace.Workspace, dir, base string, extra []string, stdout, stderr io.Writer) error {
	index, err := s.Query.Line(ctx, git.Cmd{Dir: dir, Args: []string{"rev-parse", "--path-format=absolute", "--git-path", "index"}})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.Repo.StateDir(), "diff-index-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	src, err := os.Open(index)
	if err == nil {
		_, err = io.Copy(tmp, src)
		src.Close()
	}
	if cerr := tmp.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if errors.Is(err, fs.ErrNotExist) {
		// No index yet: git reads a missing index file as an empty one
		// (a zero-byte file would be corrupt).
		err = os.Remove(tmp.Name())
	}
	if err != nil {
		return err
	}
	env := []string{"GIT_INDEX_FILE=" + tmp.Name()}
	if _, err := s.Query.Output(ctx, git.Cmd{Dir: dir, Env: env, Args: []string{"add", "-A"}}); err != nil {
		return fmt.Errorf("diff: stage the worktree's files: %w", err)
	}
	return s.Query.Stream(ctx, git.Cmd{Dir: dir, Env: env, Args: append([]string{"diff", "--cached", base}, extra...)}, stdout, stderr)
}
