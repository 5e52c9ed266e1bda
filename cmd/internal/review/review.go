// Package review implements "git loop review".
package review

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/land"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// ReviewOptions are the inputs of "git loop review" and its subcommands.
type ReviewOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Op        string // ls, show, merge, discard
	Proposal  string
	Stat      bool
	JSON      bool
	DryRun    bool
}

// NewCmdReview builds the command; runF replaces reviewRun in tests.
func NewCmdReview(f *cmdutil.Factory, runF func(context.Context, *ReviewOptions) error) *cobra.Command {
	opts := &ReviewOptions{IO: f.IOStreams, Workspace: f.Workspace, Op: "ls"}
	run := func(cmd *cobra.Command) error {
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return reviewRun(cmd.Context(), opts)
	}
	cmd := &cobra.Command{
		Use:   "review",
		Short: "List, show, merge or discard proposals of gated layers (knowledge, code)",
		Long: `List, show, merge or discard the proposals "git loop promote" made for gated
layers: a loop's branch ahead of the layer's main, in the knowledge clone
(any loop's) or in this repository (code). A proposal is named LAYER/NAME, or
just NAME when only one layer has it.

"review merge" lands a proposal with a merge commit computed without checking
out main anywhere, then pushes it; "review discard" keeps the branch's commits
under refs/loop-discarded/ and moves the branch back to main.`,
		Example: `  git loop review
  git loop review show knowledge/fix-login
  git loop review merge knowledge/fix-login`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return run(cmd) },
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the proposals as JSON")
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the proposals",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { opts.Op = "ls"; return run(cmd) },
	}
	ls.Flags().BoolVar(&opts.JSON, "json", false, "print the proposals as JSON")
	cmd.AddCommand(ls)
	for _, e := range []struct{ op, short string }{
		{"show", "Show a proposal's changes against main"},
		{"merge", "Land a proposal with a merge commit, without touching any worktree, and push it"},
		{"discard", "Drop a proposal (its commits kept under refs/loop-discarded/)"},
	} {
		op := e.op
		sub := &cobra.Command{
			Use:   op + " PROPOSAL",
			Short: e.short,
			Args: func(cmd *cobra.Command, args []string) error {
				if len(args) != 1 {
					return cmdutil.FlagErrorf("review %s needs one PROPOSAL (see \"git loop review ls\")", op)
				}
				return nil
			},
			RunE: func(cmd *cobra.Command, args []string) error {
				opts.Op, opts.Proposal = op, args[0]
				return run(cmd)
			},
		}
		if op == "show" {
			sub.Flags().BoolVar(&opts.Stat, "stat", false, "show a diffstat only")
		}
		if op == "merge" {
			sub.Flags().BoolVar(&opts.JSON, "json", false, "print what landed as JSON")
		}
		if op == "merge" || op == "discard" {
			sub.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the git commands that would run, and run nothing")
		}
		cmd.AddCommand(sub)
	}
	return cmd
}

func reviewRun(ctx context.Context, opts *ReviewOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	w := opts.IO.Out
	if opts.DryRun {
		// Read-only git still runs (the merge is checked); every command
		// that would change a ref or a remote is printed instead.
		ws.Git.DryRun = true
		ws.Git.Log = opts.IO.DryRunLog()
	}
	switch opts.Op {
	case "show":
		p, err := land.FindProposal(ctx, ws, opts.Proposal)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "proposal %s: %s, %d ahead and %d behind %s\n\n", p.ID, p.Branch, p.Ahead, p.Behind, p.Main)
		return ws.Query.Stream(ctx, p.ProposalDiff(opts.Stat), w, opts.IO.ErrOut)
	case "merge":
		res, err := land.MergeProposal(ctx, ws, opts.Proposal)
		if err != nil {
			return err
		}
		if opts.JSON {
			return cmdutil.WriteJSON(w, res)
		}
		if opts.DryRun {
			fmt.Fprintf(w, "would merge %s into %s (it merges cleanly with main as last fetched)\n", opts.Proposal, res.Ref)
			return nil
		}
		fmt.Fprintf(w, "merged %s into %s (%s)\n", opts.Proposal, res.Ref, short(res.Commit))
		return nil
	case "discard":
		backup, err := land.DiscardProposal(ctx, ws, opts.Proposal)
		if err != nil {
			return err
		}
		if opts.DryRun {
			fmt.Fprintf(w, "would discard %s, keeping its commits as %s\n", opts.Proposal, backup)
			return nil
		}
		fmt.Fprintf(w, "discarded %s; its commits are kept as %s\n", opts.Proposal, backup)
		return nil
	}
	ps, err := land.Proposals(ctx, ws)
	if err != nil {
		return err
	}
	if opts.JSON {
		if ps == nil {
			ps = []land.Proposal{}
		}
		return cmdutil.WriteJSON(w, ps)
	}
	if len(ps) == 0 {
		if !opts.IO.Quiet() {
			fmt.Fprintln(opts.IO.ErrOut, "no proposals")
		}
		return nil
	}
	for _, p := range ps {
		fmt.Fprintf(w, "%-30s %3d ahead %3d behind  %s\n", p.ID, p.Ahead, p.Behind, short(p.Commit))
	}
	return nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
