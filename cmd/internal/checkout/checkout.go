// Package checkout implements "git loop checkout".
package checkout

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// CheckoutOptions are the inputs of "git loop checkout".
type CheckoutOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Name      string
	Dir       string
}

// NewCmdCheckout builds the command; runF replaces checkoutRun in tests.
func NewCmdCheckout(f *cmdutil.Factory, runF func(context.Context, *CheckoutOptions) error) *cobra.Command {
	opts := &CheckoutOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "checkout NAME",
		Short: "Give a sealed loop a host worktree of its branch, for editors",
		Long: `Make a normal worktree of a sealed loop's branch on the host, for editors and
tools, and print its path. It is fetched from the sandbox first and
fast-forwarded by every later fetch while it has nothing of its own; it is
never the sandbox's clone. By default it is a sibling of the repository,
REPO-NAME. For a loop that is not sealed, its own worktree is printed.`,
		Example: `  git loop checkout fix-login
  git loop checkout fix-login --dir ~/src/fix-login`,
		Args:              cmdutil.ExactLoopName,
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return checkoutRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "where to make the worktree (default: REPO-NAME beside the repository)")
	return cmd
}

func checkoutRun(ctx context.Context, opts *CheckoutOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	m, err := ws.Get(opts.Name)
	if err != nil {
		return err
	}
	dir, err := transport.Checkout(ctx, ws, m, opts.Dir)
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out, dir)
	return nil
}
