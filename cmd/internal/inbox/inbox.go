// Package inbox implements "git loop inbox".
package inbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/notes"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// maxStdin bounds an item read from stdin.
const maxStdin = 64 << 10

// InboxOptions are the inputs of "git loop inbox".
type InboxOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Text      string // the item to add; "" lists the inbox
	Stdin     bool   // read the item from stdin ("-")
	JSON      bool
}

// NewCmdInbox builds the command; runF replaces inboxRun in tests.
func NewCmdInbox(f *cmdutil.Factory, runF func(context.Context, *InboxOptions) error) *cobra.Command {
	opts := &InboxOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "inbox [TEXT...|-]",
		Short: "Add an item to the notes inbox, or list it",
		Long: `Add an item to the team notes inbox: "- TEXT" is appended to inbox.md in your
notes clone, committed ("inbox: TEXT") and pushed to the notes remote. When the
push is rejected because someone else pushed first, git loop fetches, merges
(never rebases) and pushes again, a few times, so concurrent additions from
several clones all land; inbox.md merges by keeping both sides' lines.

TEXT is the arguments joined by spaces, or stdin when the only argument is "-".
One item per line: text with several lines, and empty text, are refused. So is
an add while inbox.md has uncommitted changes in the clone (exit 5): your edit
is never touched.

Without TEXT, list the inbox's items as the clone has them.`,
		Example: `  git loop inbox "flaky login test on CI"
  git loop inbox look into the cache eviction bug
  echo "call the vendor about quotas" | git loop inbox -
  git loop inbox --json | jq -r '.[].text'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] == "-" {
				opts.Stdin = true
			} else {
				opts.Text = strings.Join(args, " ")
				if len(args) > 0 && strings.TrimSpace(opts.Text) == "" {
					return cmdutil.FlagErrorf("the item is empty")
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return inboxRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the items (or the added item) as JSON")
	return cmd
}

func inboxRun(ctx context.Context, opts *InboxOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	if opts.Stdin {
		data, err := io.ReadAll(io.LimitReader(opts.IO.In, maxStdin+1))
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		if len(data) > maxStdin {
			return &workspace.UsageError{Err: fmt.Errorf("the item on stdin is longer than %d bytes", maxStdin)}
		}
		opts.Text = string(data)
		if strings.TrimSpace(opts.Text) == "" {
			return &workspace.UsageError{Err: errors.New("the item on stdin is empty")}
		}
	}
	if opts.Text == "" {
		items, err := notes.Inbox(ws)
		if err != nil {
			return err
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, items)
		}
		for _, it := range items {
			fmt.Fprintln(opts.IO.Out, "- "+Printable(it.Text))
		}
		if len(items) == 0 && !opts.IO.Quiet() {
			fmt.Fprintln(opts.IO.ErrOut, "The inbox is empty.")
		}
		return nil
	}
	res, err := notes.InboxAdd(ctx, ws, opts.Text)
	if err != nil {
		return NotesError(opts.IO, err)
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, res)
	}
	if !opts.IO.Quiet() {
		fmt.Fprintf(opts.IO.ErrOut, "Added to the inbox and pushed to %s: %s\n", res.Remote, Printable(res.Item))
	}
	return nil
}

// NotesError reports a refused notes edit: a file with uncommitted
// changes exits 5 (refused to lose work), like the loop refusals.
func NotesError(ios *iostreams.IOStreams, err error) error {
	var dirty *notes.NotesDirtyError
	if errors.As(err, &dirty) {
		fmt.Fprintln(ios.ErrOut, ios.ErrColors().Red("error:")+" "+err.Error())
		return &cmdutil.ExitCodeError{Code: 5}
	}
	return err
}

// Printable quotes text that holds control characters (file names from a
// shared repo must not drive the terminal).
func Printable(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}
