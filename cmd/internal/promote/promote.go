// Package promote implements "git loop promote".
package promote

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/status"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/land"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// PromoteOptions are the inputs of "git loop promote".
type PromoteOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Dir       string
	Name      string
	Layers    []workspace.Layer
	CommitAll bool
	Message   string
	Continue  bool
	Abort     bool
	DryRun    bool
	JSON      bool
}

// NewCmdPromote builds the command; runF replaces promoteRun in tests.
func NewCmdPromote(f *cmdutil.Factory, runF func(context.Context, *PromoteOptions) error) *cobra.Command {
	opts := &PromoteOptions{IO: f.IOStreams, Workspace: f.Workspace}
	var layers []string
	cmd := &cobra.Command{
		Use:   "promote [NAME]",
		Short: "Land a loop's work: merge the latest main in, then push or propose",
		Long: `Land a loop's work on each layer (code, knowledge, notes, personal): commit it
if -a is given, fetch, merge the latest main into the loop's branch (a merge,
never a rebase, so a bad merge can be reverted), then land it.

Ungated layers (notes and personal by default) are pushed to main; when
another writer got there first, promote fetches, merges and pushes again, so
loops promoting at once all land. Gated layers (knowledge and code by default;
see the <layer>.gate settings) become a proposal: with a remote on a known
host the loop's branch is pushed and a pull request opened with gh (or its
URL printed); in solo mode the loop's branch ahead of main is the proposal,
landed by "git loop review merge".

A merge conflict stops promote with the merge in progress in the loop's
worktree (exit code 4). Resolve the files, by hand or with
"git loop run NAME 'resolve the merge conflicts, keep both sides' intent'",
then run "git loop promote --continue"; "--abort" puts the loop back as it
was. Without NAME, the loop whose worktree you are in.

Nothing that holds a value of your vaults is pushed: before any push, every
commit, file and file name the push would send is searched for each
variable's value (8 bytes or longer) and each line of a private key among
the vaults' mounts. A match refuses the push (exit code 5), naming the file
and the variable (VAULT/VAR), never the value.`,
		Example: `  git loop promote fix-login
  git loop promote --layer notes -a -m "notes from the login fix"
  git loop promote --continue fix-login`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			opts.Dir = f.Dir
			if opts.Continue && opts.Abort {
				return cmdutil.FlagErrorf("--continue and --abort cannot be used together")
			}
			if (opts.Continue || opts.Abort) && (opts.CommitAll || cmd.Flags().Changed("layer")) {
				return cmdutil.FlagErrorf("--continue and --abort take no --layer or --commit-all: they resume the stopped promote")
			}
			if opts.CommitAll && opts.Message == "" {
				return cmdutil.FlagErrorf("--commit-all needs a message: -m MSG")
			}
			if opts.Message != "" && !opts.CommitAll {
				return cmdutil.FlagErrorf("-m is the message of --commit-all (-a)")
			}
			var err error
			if opts.Layers, err = land.ParseLayers(layers); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return promoteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&layers, "layer", nil, "layers to promote: code, knowledge, notes, personal or all (default all)")
	cmd.Flags().BoolVarP(&opts.CommitAll, "commit-all", "a", false, "commit every change of each layer first (needs -m)")
	cmd.Flags().StringVarP(&opts.Message, "message", "m", "", "message of the --commit-all commits")
	cmd.Flags().BoolVar(&opts.Continue, "continue", false, "go on after the merge conflicts are resolved")
	cmd.Flags().BoolVar(&opts.Abort, "abort", false, "abandon a stopped promote, restoring the loop")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the git commands that would change something, and run none")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what landed as JSON")
	return cmd
}

func promoteRun(ctx context.Context, opts *PromoteOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	if opts.Name == "" {
		if opts.Name, err = status.CurrentLoop(ws, opts.Dir); err != nil {
			return err
		}
	}
	if opts.DryRun {
		ws.Git = &git.Runner{Log: opts.IO.DryRunLog(), DryRun: true}
	}
	landed, err := land.Promote(ctx, ws, land.PromoteOptions{Name: opts.Name, Layers: opts.Layers, CommitAll: opts.CommitAll,
		Message: opts.Message, Continue: opts.Continue, Abort: opts.Abort})
	if err != nil {
		return err
	}
	if opts.Abort {
		if !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Aborted the promote of %s; the loop is as it was\n", opts.Name)
		}
		return nil
	}
	if opts.JSON {
		if landed == nil {
			landed = []land.Landed{}
		}
		return cmdutil.WriteJSON(opts.IO.Out, landed)
	}
	Print(opts.IO, opts.Name, landed)
	return nil
}

// Print says what landed where, one line per layer.
func Print(io *iostreams.IOStreams, name string, landed []land.Landed) {
	w := io.Out
	if len(landed) == 0 {
		fmt.Fprintf(w, "%s: nothing to promote\n", name)
		return
	}
	for _, l := range landed {
		switch l.Action {
		case "pushed":
			fmt.Fprintf(w, "%-9s landed on %s (%s)\n", l.Layer, l.Ref, short(l.Commit))
		case "proposed":
			fmt.Fprintf(w, "%-9s proposed as %s (%s); land it with \"git loop review merge %s/%s\"\n", l.Layer, l.Ref, short(l.Commit), l.Layer, name)
			if l.URL != "" {
				fmt.Fprintf(w, "%-9s open a pull request: %s\n", "", l.URL)
			}
		case "pull-request":
			fmt.Fprintf(w, "%-9s pull request opened: %s\n", l.Layer, l.URL)
		default:
			fmt.Fprintf(w, "%-9s nothing to promote\n", l.Layer)
		}
	}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
