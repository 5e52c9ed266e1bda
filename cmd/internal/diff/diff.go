// Package diff implements "git loop diff".
package diff

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/session"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// DiffOptions are the inputs of "git loop diff".
type DiffOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Name      string
	Args      []string // passed to git diff
}

// NewCmdDiff builds the command; runF replaces diffRun in tests.
func NewCmdDiff(f *cmdutil.Factory, runF func(context.Context, *DiffOptions) error) *cobra.Command {
	opts := &DiffOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "diff NAME [-- GIT-DIFF-ARGS...]",
		Short: "Show a loop's changes against its base",
		Long: `Show what a loop changed: its worktree (committed and uncommitted work) against
the merge base of its branch and its base's current commit, as git diff shows
it. Arguments after -- go to git diff.`,
		Example: `  git loop diff fix-login
  git loop diff fix-login -- --stat`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() == 0 || len(args) == 0 {
				return cmdutil.FlagErrorf("diff needs a loop NAME")
			}
			if dash := cmd.ArgsLenAtDash(); dash > 1 || dash < 0 && len(args) > 1 {
				return cmdutil.FlagErrorf("diff takes one loop NAME; put git diff arguments after --")
			}
			return nil
		},
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.Args = args[0], args[1:]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return diffRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func diffRun(ctx context.Context, opts *DiffOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	err = session.Diff(ctx, ws, opts.Name, opts.Args, opts.IO.Out, opts.IO.ErrOut)
	var ge *git.Error
	if errors.As(err, &ge) {
		return &cmdutil.ExitCodeError{Code: ge.Code} // git already said why
	}
	return err
}
