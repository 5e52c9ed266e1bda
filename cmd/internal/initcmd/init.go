// Package initcmd implements "git loop init".
package initcmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop"
)

// InitOptions are the inputs of "git loop init".
type InitOptions struct {
	IO      *iostreams.IOStreams
	Service func(context.Context) (*gitloop.Service, error)
}

// NewCmdInit builds the command; runF replaces initRun in tests.
func NewCmdInit(f *cmdutil.Factory, runF func(context.Context, *InitOptions) error) *cobra.Command {
	opts := &InitOptions{IO: f.IOStreams, Service: f.Service}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Set up git loop in this repository",
		Long: `Set up git loop in this repository: create its state directory
($GIT_COMMON_DIR/loop) and workspace id. Running it again changes nothing.
"git loop new" runs it for you when needed.`,
		Example: `  git loop init`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return initRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func initRun(ctx context.Context, opts *InitOptions) error {
	svc, err := opts.Service(ctx)
	if err != nil {
		return err
	}
	created, err := svc.Init(ctx)
	if err != nil {
		return err
	}
	if opts.IO.Quiet() {
		return nil
	}
	if created {
		fmt.Fprintf(opts.IO.ErrOut, "Initialized git loop in %s\n", svc.Repo.StateDir())
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "git loop is already set up in %s\n", svc.Repo.StateDir())
	}
	return nil
}
