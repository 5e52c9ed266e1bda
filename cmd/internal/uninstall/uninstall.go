// Package uninstall implements "git loop uninstall".
package uninstall

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/githooks"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/hooks"
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
labelled with this workspace, $GIT_COMMON_DIR/loop, git loop's hooks in this
repository (restoring the hooks they chained) and its settings in the
repository's git config (the [loop] section). Another repository's loops and
sandboxes on the same engine are never touched, nor your global settings.

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
	hookDirs, err := installedHooks(ctx, ws)
	if err != nil {
		return err
	}
	settings := localSettings(ctx, ws)
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, plan); err != nil {
			return err
		}
	} else {
		printPlan(opts.IO, plan, hookDirs, settings)
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
	// The hooks go after the state: a post-checkout shim left behind would
	// adopt the next "git worktree add -b loop/x" and make the state anew.
	if len(hookDirs) > 0 {
		if _, err := githooks.UninstallHooks(ctx, ws, githooks.HooksRepo); err != nil {
			return fmt.Errorf("uninstall: %w", err)
		}
	}
	if err := removeLocalSettings(ctx, ws); err != nil {
		return err
	}
	if !opts.IO.Quiet() {
		fmt.Fprintln(opts.IO.ErrOut, "git loop is uninstalled from this repository.")
	}
	return nil
}

// installedHooks lists the hooks of this repository that are git loop's
// shims, as "DIR (EVENT, …)". It reads them as data: uninstall works
// without a git-loop on PATH for the shims to call.
func installedHooks(ctx context.Context, ws *workspace.Workspace) ([]string, error) {
	targets, err := githooks.HookTargets(ctx, ws, githooks.HooksRepo)
	if err != nil {
		return nil, fmt.Errorf("uninstall: %w", err)
	}
	var out []string
	for _, t := range targets {
		var events []string
		for _, ev := range t.Events {
			if b, err := os.ReadFile(filepath.Join(t.Dir, ev)); err == nil && hooks.IsShim(b) {
				events = append(events, ev)
			}
		}
		if len(events) > 0 {
			out = append(out, fmt.Sprintf("%s (%s)", t.Dir, strings.Join(events, ", ")))
		}
	}
	return out, nil
}

// localSettings lists the loop.* keys of the repository's own config.
func localSettings(ctx context.Context, ws *workspace.Workspace) []string {
	out, err := ws.Query.Output(ctx, git.Cmd{Dir: ws.Repo.GitDir, Args: []string{"config", "--local", "--name-only", "--get-regexp", `^loop\.`}})
	if err != nil {
		return nil // exit 1: none set
	}
	return strings.Fields(string(out))
}

// removeLocalSettings removes every section holding loop.* keys: [loop]
// and its subsections ([loop "sandbox"], …).
func removeLocalSettings(ctx context.Context, ws *workspace.Workspace) error {
	sections := map[string]bool{}
	for _, key := range localSettings(ctx, ws) {
		sections[key[:strings.LastIndex(key, ".")]] = true
	}
	for sec := range sections {
		err := ws.Git.Run(ctx, git.Cmd{Dir: ws.Repo.GitDir, Args: []string{"config", "--local", "--remove-section", sec}})
		if err != nil {
			return fmt.Errorf("uninstall: remove the %s settings: %w", sec, err)
		}
	}
	return nil
}

func printPlan(io *iostreams.IOStreams, p *lifecycle.UninstallPlan, hookDirs, settings []string) {
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
	list("volumes (clones and homes of loops on a remote engine)", p.Resources.Volumes)
	fmt.Fprintf(w, "  state directory:\n    %s\n", p.StateDir)
	list("hooks (chained hooks are restored)", hookDirs)
	list("settings in this repository's git config", settings)
	for _, r := range p.AtRisk {
		fmt.Fprintf(io.ErrOut, "warning: %s\n", r)
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(io.ErrOut, "warning: %s\n", warn)
	}
}
