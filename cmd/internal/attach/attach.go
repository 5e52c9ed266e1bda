// Package attach implements "git loop attach".
package attach

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/ports"
	"github.com/gitloop-dev/git-loop/gitloop/session"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// AttachOptions are the inputs of "git loop attach".
type AttachOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Name      string
	Agent     string
	New       bool
}

// NewCmdAttach builds the command; runF replaces attachRun in tests.
func NewCmdAttach(f *cmdutil.Factory, runF func(context.Context, *AttachOptions) error) *cobra.Command {
	opts := &AttachOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "attach NAME",
		Short: "Open an interactive agent session in a loop",
		Long: `Open an interactive session with the loop's agent, in its sandbox and worktree,
continuing the agent's last session when it has one (claude --continue, codex
resume --last). The agent runs with its configuration dir set to the loop's
composed agent dir (CLAUDE_CONFIG_DIR, CODEX_HOME) and with GIT_LOOP_NAME,
GIT_LOOP_WORKDIR, GIT_LOOP_KNOWLEDGE, GIT_LOOP_NOTES, GIT_LOOP_PERSONAL and
GIT_LOOP_AGENT_DIR in its environment.

The agent is the one recorded when the loop was made (setting "agent":
claude, codex or any command line); --agent runs another one this time.
attach needs a terminal; for one headless turn use "git loop run". git loop
exits with the agent's exit code.`,
		Example: `  git loop attach fix-login
  git loop attach fix-login --new
  git loop attach fix-login --agent codex`,
		Args:              cmdutil.ExactLoopName,
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return attachRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Agent, "agent", "", "run this agent (claude, codex or a command line) instead of the loop's")
	cmd.Flags().BoolVar(&opts.New, "new", false, "start a new session instead of continuing the last one")
	return cmd
}

func attachRun(ctx context.Context, opts *AttachOptions) error {
	if !opts.IO.IsStdinTTY() {
		return fmt.Errorf("attach %s: needs a terminal; for one headless turn use: git loop run %s PROMPT", opts.Name, opts.Name)
	}
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	// A cluster publishes no port: forwarded while the session runs.
	defer ports.Keep(ctx, ws, opts.Name, opts.IO.ErrOut)()
	return Session(ctx, ws, opts.IO, opts.Name, session.AttachOptions{Agent: opts.Agent, New: opts.New})
}

// Session runs the loop's agent attached to the command's terminal, the
// way attach and new do: the agent owns the terminal (Ctrl-C reaches it,
// and git loop waits rather than kill it), and its exit code becomes git
// loop's. A missing agent is a *agent.MissingError, for the caller
// to report or to open something else.
func Session(ctx context.Context, ws *workspace.Workspace, ios *iostreams.IOStreams, name string, o session.AttachOptions) error {
	o.TTY = ios.IsStdinTTY()
	o.Stdin, o.Stdout, o.Stderr = ios.In, ios.Out, ios.ErrOut
	o.RawTerminal = cmdutil.RawTerminal
	code, err := session.Attach(context.WithoutCancel(ctx), ws, name, o)
	if err != nil {
		return err
	}
	if code != 0 {
		return &cmdutil.ExitCodeError{Code: code}
	}
	return nil
}
