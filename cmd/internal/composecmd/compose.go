// Package composecmd implements "git loop compose".
package composecmd

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// ComposeOptions are the inputs of "git loop compose".
type ComposeOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Name      string
	JSON      bool
}

// NewCmdCompose builds the command; runF replaces composeRun in tests.
func NewCmdCompose(f *cmdutil.Factory, runF func(context.Context, *ComposeOptions) error) *cobra.Command {
	opts := &ComposeOptions{IO: f.IOStreams, Workspace: f.Workspace}
	var print bool
	cmd := &cobra.Command{
		Use:   "compose NAME --print",
		Short: "Show a loop's composed agent config and where each piece came from",
		Long: `Show the agent configuration composed for a loop, and the tier each file, key,
skill and agent came from. Tiers, weakest first: doctrine (bundled, with the
loop's paths), team (knowledge .gitloop/.claude), profiles in the order
chosen, personal (.claude in your personal repo). The project's own .claude in
the worktree is read live by the agent and never copied.

The composition is made once, at "git loop new", and frozen: a running loop
never changes under you; a new loop sees new team state.`,
		Example: `  git loop compose fix-login --print
  git loop compose fix-login --print --json | jq '.files[].path'`,
		Args:              cmdutil.ExactLoopName,
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			_ = print // printing is all compose does on a frozen loop
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return composeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&print, "print", false, "print the composition (the default)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print as JSON")
	return cmd
}

func composeRun(ctx context.Context, opts *ComposeOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	res, err := contexts.Composition(ws, opts.Name)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, res)
	}
	return res.Print(opts.IO.Out)
}
