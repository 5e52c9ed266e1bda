// Package execcmd implements "git loop exec".
package execcmd

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// ExecOptions are the inputs of "git loop exec".
type ExecOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Name      string
	Cmd       []string
	TTY       bool
	NoTTY     bool
}

// NewCmdExec builds the command; runF replaces execRun in tests.
func NewCmdExec(f *cmdutil.Factory, runF func(context.Context, *ExecOptions) error) *cobra.Command {
	opts := &ExecOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "exec NAME -- CMD [ARG...]",
		Short: "Run one command in a loop's sandbox",
		Long: `Run one command in a loop's sandbox, in its worktree, with the loop's
environment (GIT_LOOP_NAME, GIT_LOOP_WORKDIR, GIT_LOOP_BRANCH). git loop exits
with the command's exit code. A TTY is allocated when stdin and stdout are
terminals (override with -t / -T).`,
		Example: `  git loop exec fix-login -- go test ./...
  git loop exec fix-login -- git log --oneline -3`,
		Args: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if len(args) == 0 || dash == 0 {
				return cmdutil.FlagErrorf("exec needs a loop NAME, then -- and a command")
			}
			if len(args) < 2 {
				return cmdutil.FlagErrorf("exec needs a command after the loop name: git loop exec %s -- CMD", args[0])
			}
			if dash > 1 {
				return cmdutil.FlagErrorf("exec takes one loop NAME before --")
			}
			return nil
		},
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.Cmd = args[0], args[1:]
			if len(opts.Cmd) > 0 && opts.Cmd[0] == "--" {
				// Flag parsing stops at NAME, so "--" arrives as an arg.
				opts.Cmd = opts.Cmd[1:]
			}
			if len(opts.Cmd) == 0 {
				return cmdutil.FlagErrorf("exec needs a command after the loop name: git loop exec %s -- CMD", opts.Name)
			}
			if opts.TTY && opts.NoTTY {
				return cmdutil.FlagErrorf("-t and -T cannot be used together")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return execRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().BoolVarP(&opts.TTY, "tty", "t", false, "allocate a TTY even when not on a terminal")
	cmd.Flags().BoolVarP(&opts.NoTTY, "no-tty", "T", false, "never allocate a TTY")
	return cmd
}

func execRun(ctx context.Context, opts *ExecOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	tty := opts.TTY || (!opts.NoTTY && opts.IO.Interactive())
	return cmdutil.RunInLoop(ctx, ws, opts.IO, opts.Name, opts.Cmd, tty)
}
