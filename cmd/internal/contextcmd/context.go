// Package contextcmd implements "git loop context": browsing the
// knowledge, notes and personal layers.
package contextcmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/inbox"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/knowledge"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// LsOptions are the inputs of "git loop context ls".
type LsOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Path      string // "" for every layer, "layer" or "layer/path"
	JSON      bool
}

// ShowOptions are the inputs of "git loop context show".
type ShowOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Path      string // "layer/path" or a [[name]]
	Links     bool
	JSON      bool
}

// NewCmdContext builds "git loop context" and its subcommands; runLs and
// runShow replace lsRun and showRun in tests.
func NewCmdContext(f *cmdutil.Factory, runLs func(context.Context, *LsOptions) error, runShow func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &LsOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "context",
		Short: "Browse the knowledge, notes and personal layers",
		Long: `Browse the main clones of the context layers: knowledge (team docs and agent
config), notes (inbox, focus, team memory) and personal (your agent tier,
memory and vaults). Without a subcommand, "git loop context" is
"git loop context ls".

Paths are LAYER/PATH (notes/inbox.md). Every path is resolved and must stay
inside its layer: "..", absolute paths and symlinks leading out of the layer
are refused (exit 2), and nothing under .git is reachable. The personal vaults
are listed by name only; their contents are never shown.`,
		Example: `  git loop context
  git loop context ls knowledge
  git loop context show notes/focus.md
  git loop context show "[[deploy]]" --links`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runLs != nil {
				return runLs(cmd.Context(), opts)
			}
			return lsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the files as a JSON array")
	cmd.AddCommand(newCmdLs(f, runLs), newCmdShow(f, runShow))
	return cmd
}

func newCmdLs(f *cmdutil.Factory, runF func(context.Context, *LsOptions) error) *cobra.Command {
	opts := &LsOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "ls [LAYER[/PATH]]",
		Short: "List the files of the context layers",
		Long: `List the files of the context layers, or of one layer, directory or file, as
LAYER/PATH (the form "git loop context show" takes). .git is skipped; entries
under the personal vaults are listed by name only (no size, no contents).`,
		Example: `  git loop context ls
  git loop context ls notes/memory
  git loop context ls --json personal | jq -r '.[] | select(.vault) | .path'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Path = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return lsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the files as a JSON array")
	return cmd
}

func newCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "show PATH",
		Short: "Print a file of a context layer, by LAYER/PATH or [[wikilink]]",
		Long: `Print a file of a context layer. PATH is LAYER/PATH (knowledge/README.md), or a
[[wikilink]] name (with or without the brackets) resolved across the three
layers, ignoring case: a file named NAME or NAME.md, or else a file whose name
without its extension is NAME. A name with "/" must match the end of a file's
LAYER/PATH ([[guides/setup]] is knowledge/guides/setup.md). A name matching
several files is refused with the candidates listed (exit 1); the personal
vaults are never searched.

--links then prints the file's outgoing [[links]] with the files they resolve
to, and its backlinks: the markdown files of the layers linking to it.`,
		Example: `  git loop context show notes/inbox.md
  git loop context show deploy
  git loop context show "[[deploy]]" --links`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.FlagErrorf("%s needs exactly one PATH (LAYER/PATH or a [[name]])", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Links, "links", false, "also print outgoing [[links]] and backlinks")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the file (and links) as JSON")
	return cmd
}

func lsRun(ctx context.Context, opts *LsOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	tree, err := knowledge.Open(ws)
	if err != nil {
		return err
	}
	files, err := tree.List(opts.Path)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, files)
	}
	cs := opts.IO.Colors()
	for _, f := range files {
		line := inbox.Printable(f.Ref())
		if f.Symlink {
			line += cs.Dim(" (symlink)")
		}
		fmt.Fprintln(opts.IO.Out, line)
	}
	return nil
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	tree, err := knowledge.Open(ws)
	if err != nil {
		return err
	}
	doc, err := tree.Show(opts.Path, opts.Links)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, doc)
	}
	w := opts.IO.Out
	if _, err := fmt.Fprint(w, doc.Content); err != nil {
		return err
	}
	if !opts.Links {
		return nil
	}
	cs := opts.IO.Colors()
	if doc.Content != "" && !strings.HasSuffix(doc.Content, "\n") {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, cs.Bold("Links:"))
	if len(doc.Links) == 0 {
		fmt.Fprintln(w, cs.Dim("  (none)"))
	}
	for _, l := range doc.Links {
		target := cs.Dim("(no file)")
		switch {
		case l.Target != "":
			target = inbox.Printable(l.Target)
		case len(l.Candidates) > 0:
			target = "ambiguous: " + inbox.Printable(strings.Join(l.Candidates, ", "))
		}
		fmt.Fprintf(w, "  [[%s]] → %s\n", inbox.Printable(l.Name), target)
	}
	fmt.Fprintln(w, cs.Bold("Backlinks:"))
	if len(doc.Backlinks) == 0 {
		fmt.Fprintln(w, cs.Dim("  (none)"))
	}
	for _, b := range doc.Backlinks {
		fmt.Fprintln(w, "  "+inbox.Printable(b))
	}
	return nil
}
