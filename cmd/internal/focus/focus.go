// Package focus implements "git loop focus".
package focus

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/inbox"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/notes"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// FocusOptions are the inputs of "git loop focus" and its edits.
type FocusOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Op        string // "" shows focus; pin, list or done edit it
	Text      string
	JSON      bool
}

// NewCmdFocus builds the command; runF replaces focusRun in tests.
func NewCmdFocus(f *cmdutil.Factory, runF func(context.Context, *FocusOptions) error) *cobra.Command {
	opts := &FocusOptions{IO: f.IOStreams, Workspace: f.Workspace}
	run := func(cmd *cobra.Command) error {
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return focusRun(cmd.Context(), opts)
	}
	cmd := &cobra.Command{
		Use:   "focus",
		Short: "Show the team's focus (pinned and listed) with the loops on each item",
		Long: `Show the "## pinned" and "## listed" items of focus.md in your notes clone, each
with the loops of this repository working on it.

A loop is on an item when, ignoring case, the item mentions the loop's name as
a word ("review [[fix-login]]" → loop fix-login), or the loop is named after
the item: the item's slug (lower case, every run of other characters than
letters and digits turned into "-") is the loop's slugged name or a run of its
"-"-separated parts ("Fix login" → fix-login and fix-login-v2, not
prefix-login).

"git loop focus pin|list|done TEXT" edit focus.md, then commit and push it like
"git loop inbox".`,
		Example: `  git loop focus
  git loop focus --json | jq '.pinned[] | {text, loops: [.loops[].name]}'
  git loop focus pin "ship the login fix"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return run(cmd) },
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print focus (or the edit) as JSON")
	for _, e := range []struct{ op, short string }{
		{notes.FocusPin, "Pin an item (added, or moved from listed), commit and push"},
		{notes.FocusList, "List an item (added, or moved from pinned), commit and push"},
		{notes.FocusDone, "Remove a finished item (exact text, or the only one containing TEXT), commit and push"},
	} {
		op := e.op
		sub := &cobra.Command{
			Use:   op + " TEXT...",
			Short: e.short,
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				opts.Op = op
				opts.Text = strings.Join(args, " ")
				if strings.TrimSpace(opts.Text) == "" {
					return cmdutil.FlagErrorf("the item is empty")
				}
				return run(cmd)
			},
		}
		sub.Flags().BoolVar(&opts.JSON, "json", false, "print the edit as JSON")
		cmd.AddCommand(sub)
	}
	return cmd
}

func focusRun(ctx context.Context, opts *FocusOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	if opts.Op != "" {
		res, err := notes.FocusEdit(ctx, ws, opts.Op, opts.Text)
		if err != nil {
			return inbox.NotesError(opts.IO, err)
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, res)
		}
		if !opts.IO.Quiet() {
			verb := map[string]string{notes.FocusPin: "Pinned", notes.FocusList: "Listed", notes.FocusDone: "Done"}[opts.Op]
			fmt.Fprintf(opts.IO.ErrOut, "%s and pushed to %s: %s\n", verb, res.Remote, inbox.Printable(res.Item))
		}
		return nil
	}
	focus, err := notes.ReadFocus(ws)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, focus)
	}
	cs := opts.IO.Colors()
	w := opts.IO.Out
	for _, sec := range []struct {
		name    string
		entries []notes.FocusEntry
	}{{notes.FocusPinned, focus.Pinned}, {notes.FocusListed, focus.Listed}} {
		fmt.Fprintln(w, cs.Bold(sec.name))
		if len(sec.entries) == 0 {
			fmt.Fprintln(w, cs.Dim("  (none)"))
		}
		for _, e := range sec.entries {
			line := "  - " + inbox.Printable(e.Text)
			if len(e.Loops) > 0 {
				names := make([]string, len(e.Loops))
				for i, l := range e.Loops {
					names[i] = l.Name
				}
				line += "  " + cs.Cyan("← "+strings.Join(names, ", "))
			}
			fmt.Fprintln(w, line)
		}
	}
	return nil
}
