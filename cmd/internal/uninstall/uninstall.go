// Package uninstall implements "git loop uninstall".
package uninstall

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// UninstallOptions are the inputs of "git loop uninstall".
type UninstallOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Drivers   []string
	Yes       bool
	Force     bool
	JSON      bool
}

// NewCmdUninstall builds the command; runF replaces uninstallRun in tests.
func NewCmdUninstall(f *cmdutil.Factory, runF func(context.Context, *UninstallOptions) error) *cobra.Command {
	opts := &UninstallOptions{IO: f.IOStreams, Workspace: f.Workspace, Drivers: []string{"docker"}}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove everything git loop created for this repository",
		Long: `Remove everything git loop created for this repository: every loop (worktree,
branch, sandbox, as "git loop rm" does), the containers, images and networks
labelled with this workspace, and $GIT_COMMON_DIR/loop. Another repository's
loops and sandboxes on the same engine are never touched.

It first prints exactly what it will remove, then asks. Without a terminal
it removes nothing unless --yes is given. Loops holding unmerged commits or
uncommitted changes make it refuse (exit 5) unless --force is given.`,
		Example: `  git loop uninstall
  git loop uninstall --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return uninstallRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask")
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "also remove loops that hold unmerged or uncommitted work")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the plan as JSON (with --yes, after removing it)")
	return cmd
}

func uninstallRun(ctx context.Context, opts *UninstallOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	plan, err := lifecycle.PlanUninstall(ctx, ws, opts.Drivers)
	if err != nil {
		return err
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, plan); err != nil {
			return err
		}
	} else {
		printPlan(opts.IO, plan)
	}
	if !opts.Yes {
		if !opts.IO.Interactive() {
			fmt.Fprintln(opts.IO.ErrOut, "Nothing removed: run with --yes to remove the above.")
			return nil
		}
		fmt.Fprint(opts.IO.ErrOut, "Remove all of the above? [y/N] ")
		line, _ := bufio.NewReader(opts.IO.In).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(opts.IO.ErrOut, "Nothing removed.")
			return nil
		}
	}
	if err := lifecycle.Uninstall(ctx, ws, plan, opts.Drivers, opts.Force); err != nil {
		return err
	}
	if !opts.IO.Quiet() {
		fmt.Fprintln(opts.IO.ErrOut, "git loop is uninstalled from this repository.")
	}
	return nil
}

func printPlan(io *iostreams.IOStreams, p *lifecycle.UninstallPlan) {
	w := io.Out
	fmt.Fprintf(w, "git loop uninstall will remove, for workspace %s:\n", p.Workspace)
	list := func(what string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(w, "  %s:\n", what)
		for _, it := range items {
			fmt.Fprintf(w, "    %s\n", it)
		}
	}
	list("loops (worktree, branch, sandbox)", p.Loops)
	list("containers", p.Resources.Containers)
	list("images", p.Resources.Images)
	list("networks", p.Resources.Networks)
	fmt.Fprintf(w, "  state directory:\n    %s\n", p.StateDir)
	for _, r := range p.AtRisk {
		fmt.Fprintf(io.ErrOut, "warning: %s\n", r)
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(io.ErrOut, "warning: %s\n", warn)
	}
}
