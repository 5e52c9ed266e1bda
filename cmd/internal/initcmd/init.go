// Package initcmd implements "git loop init".
package initcmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/githooks"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// InitOptions are the inputs of "git loop init".
type InitOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	URLs      map[workspace.Layer]string
	NoHooks   bool
	JSON      bool
}

// NewCmdInit builds the command; runF replaces initRun in tests.
func NewCmdInit(f *cmdutil.Factory, runF func(context.Context, *InitOptions) error) *cobra.Command {
	opts := &InitOptions{IO: f.IOStreams, Workspace: f.Workspace, URLs: map[workspace.Layer]string{}}
	var knowledge, notes, personal string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Set up git loop here: state dir and the knowledge, notes and personal layers",
		Long: `Set up git loop in this repository and the context layers around it.

Each layer — knowledge (team docs and the team's agent config), notes (inbox,
focus, team memory) and personal (your own agent tier, memory and vaults) —
gets a main clone under $XDG_DATA_HOME/git-loop. A layer with a remote
(--knowledge URL, or knowledge.url / notes.url / personal.url in settings) is
cloned from it; one without gets a local bare origin seeded with the layer's
layout (solo mode). Going from solo to team later is a push to a shared remote
and a URL setting.

URLs given here are saved: knowledge and notes in this repository's git
config, personal in your global git config.

Init also installs git loop's git hooks in this repository and the layer
clones (see "git loop hooks"), unless --no-hooks is given or loop.hooks is
false. Running init again changes nothing that exists.`,
		Example: `  git loop init
  git loop init --knowledge git@github.com:acme/knowledge.git --notes git@github.com:acme/notes.git`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for l, v := range map[workspace.Layer]string{workspace.Knowledge: knowledge, workspace.Notes: notes, workspace.Personal: personal} {
				if v != "" {
					opts.URLs[l] = v
					// The URL holds for this run too (saved only in
					// initRun): the hooks go into the clone made from it.
					f.SetFlag(string(l)+".url", "--"+string(l), v)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return initRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&knowledge, "knowledge", "", "remote `URL` of the team knowledge repo")
	cmd.Flags().StringVar(&notes, "notes", "", "remote `URL` of the team notes repo")
	cmd.Flags().StringVar(&personal, "personal", "", "remote `URL` of your personal repo")
	cmd.Flags().BoolVar(&opts.NoHooks, "no-hooks", false, "do not install git hooks (records loop.hooks=false)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the layers as JSON")
	return cmd
}

func initRun(ctx context.Context, opts *InitOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	created, err := lifecycle.Init(ctx, ws)
	if err != nil {
		return err
	}
	for l, url := range opts.URLs {
		scope := "local"
		if l == workspace.Personal {
			scope = "global"
		}
		if err := workspace.SetConfig(ctx, ws.Git, ws.Repo, string(l)+".url", url, scope, false); err != nil {
			return err
		}
	}
	layers, err := contexts.Init(ctx, ws, opts.URLs)
	if err != nil {
		return err
	}
	var hookDirs []githooks.HookTarget
	switch {
	case opts.NoHooks:
		if err := workspace.SetConfig(ctx, ws.Git, ws.Repo, "hooks", "false", "local", false); err != nil {
			return err
		}
	case ws.Config.Bool("hooks"):
		hookDirs, err = githooks.InstallHooks(ctx, ws, githooks.HooksAll)
		var inTree *githooks.HooksInTreeError
		if errors.Is(err, workspace.ErrNoHookBinary) || errors.As(err, &inTree) {
			// Init's job is done; the hooks can come later.
			fmt.Fprintf(opts.IO.ErrOut, "warning: hooks not installed: %v\n", err)
		} else if err != nil {
			return err
		}
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, layers)
	}
	if opts.IO.Quiet() {
		return nil
	}
	if created {
		fmt.Fprintf(opts.IO.ErrOut, "Initialized git loop in %s\n", ws.Repo.StateDir())
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "git loop is set up in %s\n", ws.Repo.StateDir())
	}
	for _, l := range layers {
		mode := "remote " + l.Remote
		if l.Solo {
			mode = "solo (local origin " + l.Remote + ")"
		}
		fmt.Fprintf(opts.IO.ErrOut, "  %-9s %s, clone %s\n", l.Layer, mode, l.Clone)
	}
	for _, t := range hookDirs {
		if t.InTree {
			continue
		}
		fmt.Fprintf(opts.IO.ErrOut, "  hooks     %s (%s)\n", t.Dir, strings.Join(t.Repos, ", "))
	}
	return nil
}
