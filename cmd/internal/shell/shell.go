// Package shell implements "git loop shell".
package shell

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// ShellOptions are the inputs of "git loop shell".
type ShellOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Name      string
}

// NewCmdShell builds the command; runF replaces shellRun in tests.
func NewCmdShell(f *cmdutil.Factory, runF func(context.Context, *ShellOptions) error) *cobra.Command {
	opts := &ShellOptions{IO: f.IOStreams, Workspace: f.Workspace}
	return &cobra.Command{
		Use:   "shell NAME",
		Short: "Open an interactive shell in a loop's sandbox",
		Long: `Open an interactive shell in a loop's sandbox, in its worktree: bash when the
sandbox has it, else sh (with the none driver: your $SHELL). The sandbox is
started first if it is stopped or gone.`,
		Example:           `  git loop shell fix-login`,
		Args:              cmdutil.ExactLoopName,
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return shellRun(cmd.Context(), opts)
		},
	}
}

// ShellCommand is the interactive shell for a driver: the user's own shell
// on the host, otherwise the best shell the sandbox has.
func ShellCommand(driver string) []string {
	if driver == "none" {
		if sh := os.Getenv("SHELL"); sh != "" {
			return []string{sh}
		}
	}
	return []string{"/bin/sh", "-c", `if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi`}
}

func shellRun(ctx context.Context, opts *ShellOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	m, err := ws.Get(opts.Name)
	if err != nil {
		return err
	}
	return cmdutil.RunInLoop(ctx, ws, opts.IO, m.Name, ShellCommand(m.Sandbox.Driver), opts.IO.IsStdinTTY())
}
