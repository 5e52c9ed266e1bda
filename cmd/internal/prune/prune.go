// Package prune implements "git loop prune".
package prune

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// PruneOptions are the inputs of "git loop prune".
type PruneOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	DryRun    bool
	JSON      bool
}

// NewCmdPrune builds the command; runF replaces pruneRun in tests.
func NewCmdPrune(f *cmdutil.Factory, runF func(context.Context, *PruneOptions) error) *cobra.Command {
	opts := &PruneOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove loops whose worktree or branch vanished, and unused toolchains",
		Long: `Remove the records and sandboxes of loops whose worktree or branch was deleted
behind git loop's back. What may hold work is kept: the branch of a loop whose
worktree is gone, and the files of a worktree with uncommitted changes.

Then remove the toolchains (docs/toolchain.md) in your cache that no loop of any
repository uses any more.`,
		Example: `  git loop prune --dry-run
  git loop prune`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pruneRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would be pruned, and prune nothing")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print pruned loops as JSON")
	return cmd
}

func pruneRun(ctx context.Context, opts *PruneOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	pruned, err := lifecycle.Prune(ctx, ws, opts.DryRun)
	if err != nil {
		return err
	}
	// Then the toolchains no loop uses any more, of any repository (the
	// cache is the user's): after the loops, whose removal may free some.
	collected, err := sandboxspec.CollectToolchains(ws, opts.DryRun)
	if err != nil {
		return err
	}
	if opts.JSON {
		if pruned == nil {
			pruned = []lifecycle.Pruned{}
		}
		return cmdutil.WriteJSON(opts.IO.Out, pruned)
	}
	verb := "Pruned"
	if opts.DryRun {
		verb = "Would prune"
	}
	for _, p := range pruned {
		fmt.Fprintf(opts.IO.Out, "%s %s: %s", verb, p.Name, p.Reason)
		if p.Kept != "" {
			fmt.Fprintf(opts.IO.Out, "; kept %s", p.Kept)
		}
		fmt.Fprintln(opts.IO.Out)
	}
	for _, c := range collected {
		verb := "Removed"
		if opts.DryRun {
			verb = "Would remove"
		}
		fmt.Fprintf(opts.IO.Out, "%s toolchain %s (%.1f MB): no loop uses it\n", verb, c.Dir, float64(c.Bytes)/1e6)
	}
	if len(pruned) == 0 && len(collected) == 0 && opts.IO.IsStdoutTTY() {
		fmt.Fprintln(opts.IO.ErrOut, "Nothing to prune.")
	}
	return nil
}
