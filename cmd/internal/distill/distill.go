// Package distill implements "git loop distill".
package distill

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// DistillOptions are the inputs of "git loop distill".
type DistillOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Source    string
	Name      string
	Driver    string
}

// NewCmdDistill builds the command; runF replaces distillRun in tests.
func NewCmdDistill(f *cmdutil.Factory, runF func(context.Context, *DistillOptions) error) *cobra.Command {
	opts := &DistillOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "distill NAME",
		Short: "Start a distill loop over a loop's transcript, to turn it into knowledge",
		Long: `Start a distill loop over loop NAME: a new loop (distill-NAME unless --name is
given) whose worktree holds a snapshot of NAME's transcript under source/
(ignored by git), composed with the distill doctrine as its strongest tier.
Its agent's job is to turn the session's conventions, gotchas, decisions and
reusable mechanisms into knowledge pages — proposals for review, not
summaries.

It prints the new loop's worktree; run its agent with "git loop run" or
"git loop attach".`,
		Example: `  git loop distill fix-login
  git loop run distill-fix-login "distill source/ into knowledge"`,
		Args:              cmdutil.ExactLoopName,
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Source = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return distillRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "name of the distill loop (default distill-NAME)")
	cmd.Flags().StringVar(&opts.Driver, "driver", "", "sandbox driver (default: sandbox.driver)")
	return cmd
}

func distillRun(ctx context.Context, opts *DistillOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	m, err := lifecycle.Distill(ctx, ws, opts.Source, opts.Name, lifecycle.NewOptions{Driver: opts.Driver, SetupOutput: opts.IO.ErrOut})
	if err != nil {
		return err
	}
	if !opts.IO.Quiet() {
		fmt.Fprintf(opts.IO.ErrOut, "Created distill loop %s over %s's transcript\n", m.Name, opts.Source)
	}
	fmt.Fprintln(opts.IO.Out, m.Worktree)
	return nil
}
