// Package path implements "git loop path".
package path

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// PathOptions are the inputs of "git loop path".
type PathOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Name      string
}

// NewCmdPath builds the command; runF replaces pathRun in tests.
func NewCmdPath(f *cmdutil.Factory, runF func(context.Context, *PathOptions) error) *cobra.Command {
	opts := &PathOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:               "path NAME",
		Short:             "Print a loop's worktree path (a sealed loop's host checkout)",
		Example:           `  cd "$(git loop path fix-login)"`,
		Args:              cmdutil.ExactLoopName,
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pathRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func pathRun(ctx context.Context, opts *PathOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	m, err := ws.Get(opts.Name)
	if err != nil {
		return err
	}
	dir := m.Worktree
	if m.Sandbox.Sealed {
		// A sealed loop's files are its sandbox's: on the host its
		// worktree path is only the clone's mount point. Its host
		// checkout, when it has one, is where an editor (or a cd) goes.
		dir = transport.CheckoutPath(ws, m.Name)
		if dir == "" || !workspace.Exists(dir) {
			return fmt.Errorf("loop %s is sealed: its files are in its sandbox (\"git loop shell %s\"); \"git loop checkout %s\" makes a host worktree of it, which this then prints", m.Name, m.Name, m.Name)
		}
	}
	_, err = fmt.Fprintln(opts.IO.Out, dir)
	return err
}
