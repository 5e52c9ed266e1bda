// Package sync implements "git loop sync".
package sync

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/land"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// SyncOptions are the inputs of "git loop sync".
type SyncOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Name      string
	Continue  bool
	Abort     bool
	DryRun    bool
	JSON      bool
}

// NewCmdSync builds the command; runF replaces syncRun in tests.
func NewCmdSync(f *cmdutil.Factory, runF func(context.Context, *SyncOptions) error) *cobra.Command {
	opts := &SyncOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "sync [NAME]",
		Short: "Bring the latest in: update your context clones, or a loop from its base and context",
		Long: `Without NAME, fast-forward your knowledge, notes and personal clones from their
remotes. A clone with local commits, or changes in the way, is left exactly as
it is and reported: sync never resets work away.

With NAME, merge the latest base into the loop's branch and the latest main of
each context layer into the loop's context worktrees (merges, never rebases),
and record the context versions the loop now has. A merge conflict stops sync
like promote (exit code 4): resolve, then "git loop sync --continue NAME", or
"--abort" to put the loop back as it was.`,
		Example: `  git loop sync
  git loop sync fix-login`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			if opts.Continue && opts.Abort {
				return cmdutil.FlagErrorf("--continue and --abort cannot be used together")
			}
			if (opts.Continue || opts.Abort) && opts.Name == "" {
				return cmdutil.FlagErrorf("--continue and --abort need the loop's NAME")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return syncRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Continue, "continue", false, "go on after the merge conflicts are resolved")
	cmd.Flags().BoolVar(&opts.Abort, "abort", false, "abandon a stopped sync, restoring the loop")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the git commands that would change something, and run none")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what was synced as JSON")
	return cmd
}

func syncRun(ctx context.Context, opts *SyncOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	if opts.DryRun {
		ws.Git = &git.Runner{Log: opts.IO.DryRunLog(), DryRun: true}
	}
	w := opts.IO.Out
	if opts.Name == "" {
		res, err := land.SyncClones(ctx, ws)
		if err != nil {
			return err
		}
		if opts.JSON {
			if res == nil {
				res = []land.CloneSync{}
			}
			return cmdutil.WriteJSON(w, res)
		}
		for _, r := range res {
			switch r.Action {
			case "updated":
				if r.From == "" { // a clone of a remote that was empty
					fmt.Fprintf(w, "%-9s updated to %s (its first commits)\n", r.Layer, short(r.To))
					break
				}
				fmt.Fprintf(w, "%-9s updated %s..%s\n", r.Layer, short(r.From), short(r.To))
			case "current":
				fmt.Fprintf(w, "%-9s up to date\n", r.Layer)
			default:
				fmt.Fprintf(w, "%-9s %s: %s\n", r.Layer, r.Action, r.Note)
			}
		}
		return nil
	}
	res, err := land.SyncLoop(ctx, ws, land.SyncOptions{Name: opts.Name, Continue: opts.Continue, Abort: opts.Abort})
	if err != nil {
		return err
	}
	if opts.Abort {
		if !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Aborted the sync of %s; the loop is as it was\n", opts.Name)
		}
		return nil
	}
	if opts.JSON {
		if res == nil {
			res = []land.LoopSync{}
		}
		return cmdutil.WriteJSON(w, res)
	}
	for _, r := range res {
		if r.Merged == "" {
			fmt.Fprintf(w, "%-9s up to date\n", r.Layer)
		} else {
			fmt.Fprintf(w, "%-9s merged %s (now %s)\n", r.Layer, short(r.Merged), short(r.Head))
		}
	}
	return nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
