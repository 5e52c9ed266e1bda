// Package lifecycle implements "git loop stop" and "git loop start".
package lifecycle

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Options are the inputs of "git loop stop" and "git loop start".
type Options struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Names     []string
	Start     bool
}

// NewCmdStop builds "git loop stop"; runF replaces the run in tests.
func NewCmdStop(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	return newCmd(f, runF, false)
}

// NewCmdStart builds "git loop start"; runF replaces the run in tests.
func NewCmdStart(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	return newCmd(f, runF, true)
}

func newCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error, start bool) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Workspace: f.Workspace, Start: start}
	cmd := &cobra.Command{
		Use:   "stop NAME...",
		Short: "Stop loops' sandboxes (the loops, worktrees and $HOME stay)",
		Long: `Stop the sandboxes of loops. Nothing of the loop is lost: its worktree, branch
and $HOME stay, and the next "git loop exec", "shell" or "start" brings the
sandbox back.`,
		Example: `  git loop stop fix-login`,
	}
	if start {
		cmd.Use = "start NAME..."
		cmd.Short = "Start loops' sandboxes (recreating one that vanished or whose config changed)"
		cmd.Long = `Start the sandboxes of loops. A sandbox that was removed behind git loop's back
(engine restart, host reboot) is created again with the loop's $HOME intact,
and one whose configuration (image, mounts, ports, vault) changed is
recreated; otherwise the same sandbox keeps running.`
		cmd.Example = `  git loop start fix-login`
	}
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmdutil.FlagErrorf("%s needs at least one loop NAME", cmd.Name())
		}
		return nil
	}
	cmd.ValidArgsFunction = cmdutil.CompleteLoopNames(f)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Names = args
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return run(cmd.Context(), opts)
	}
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	for _, name := range opts.Names {
		if opts.Start {
			st, err := lifecycle.Start(ctx, ws, name)
			if err != nil {
				return err
			}
			if !opts.IO.Quiet() {
				fmt.Fprintf(opts.IO.ErrOut, "Started loop %s (%s %s)\n", name, st.Driver, st.State)
			}
			continue
		}
		if err := lifecycle.Stop(ctx, ws, name); err != nil {
			return err
		}
		if !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Stopped loop %s\n", name)
		}
	}
	return nil
}
