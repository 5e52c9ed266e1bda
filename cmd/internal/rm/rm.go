// Package rm implements "git loop rm".
package rm

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// RmOptions are the inputs of "git loop rm".
type RmOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Names     []string
	Force     bool
	DryRun    bool
}

// NewCmdRm builds the command; runF replaces rmRun in tests.
func NewCmdRm(f *cmdutil.Factory, runF func(context.Context, *RmOptions) error) *cobra.Command {
	opts := &RmOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove loops: sandbox, worktree, branch and record",
		Long: `Remove loops: sandbox, worktree, branch and record, together. A loop with
commits that are neither on its base nor on any remote, or with uncommitted
changes, is refused (exit code 5) unless --force is given.`,
		Example: `  git loop rm fix-login
  git loop rm --force spike`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmdutil.FlagErrorf("rm needs at least one loop NAME")
			}
			return nil
		},
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return rmRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "remove even with unmerged commits or uncommitted changes")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what would be removed, and remove nothing")
	return cmd
}

func rmRun(ctx context.Context, opts *RmOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	if opts.DryRun {
		ws.Git.Log = opts.IO.DryRunLog()
	}
	for _, name := range opts.Names {
		if err := lifecycle.Remove(ctx, ws, lifecycle.RemoveOptions{Name: name, Force: opts.Force, DryRun: opts.DryRun,
			Kept: func(b lifecycle.Backup) { fmt.Fprintln(opts.IO.ErrOut, b.Restore(name)) }}); err != nil {
			return err
		}
		if !opts.DryRun && !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Removed loop %s\n", name)
		}
	}
	return nil
}
