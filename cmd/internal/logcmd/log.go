// Package logcmd implements "git loop log", and the conversation-style
// printing of transcript entries that "git loop run" shares.
package logcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/session"
	"github.com/gitloop-dev/git-loop/gitloop/transcript"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// LogOptions are the inputs of "git loop log".
type LogOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Name      string
	JSON      bool
	Limit     int
	All       bool
}

// NewCmdLog builds the command; runF replaces logRun in tests.
func NewCmdLog(f *cmdutil.Factory, runF func(context.Context, *LogOptions) error) *cobra.Command {
	opts := &LogOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "log NAME",
		Short: "Show a loop's transcript",
		Long: `Show a loop's transcript: the conversation with its agent. It is read from the
agent's own session files when it keeps them (Claude Code's JSONL under the
loop's agent dir, Codex's rollouts), its latest session unless --all is given;
otherwise from the logs of "git loop run" (every run, oldest first).

With --json, each entry is one JSON object on its own line, with the fields
time (RFC 3339, absent when unknown), role (user, assistant, tool or system),
text, tool (the tool called or answering), source (file:line it came from),
error and hint (a failure the run stopped on, such as a refused login, and
what to do about it) and raw (a notice about the file itself: a line too
long to show, a file cut short). Lines the agent's client writes beside the
conversation are not shown: a last system entry counts them.`,
		Example: `  git loop log fix-login
  git loop log fix-login -n 20
  git loop log fix-login --json | jq -r 'select(.role == "assistant") | .text'`,
		Args:              cmdutil.ExactLoopName,
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.Limit < 0 {
				return cmdutil.FlagErrorf("-n must be at least 0")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return logRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON object per entry per line")
	cmd.Flags().IntVarP(&opts.Limit, "lines", "n", 0, "show only the last N entries (0: all)")
	cmd.Flags().BoolVar(&opts.All, "all", false, "read every session the agent kept, not only the latest")
	return cmd
}

func logRun(ctx context.Context, opts *LogOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	entries := session.TranscriptOf(ws, opts.Name, transcript.Options{All: opts.All})
	var ring []transcript.Entry
	next := 0
	n := 0
	out := opts.IO.Out
	var enc *json.Encoder
	var pr *Printer
	if opts.JSON {
		enc = json.NewEncoder(out)
		enc.SetEscapeHTML(false)
	} else {
		pr = NewPrinter(out, opts.IO.Colors())
	}
	emit := func(e transcript.Entry) error {
		if enc != nil {
			if err := enc.Encode(e); err != nil {
				return fmt.Errorf("write json: %w", err)
			}
			return nil
		}
		pr.Print(e)
		return nil
	}
	for e, err := range entries {
		if err != nil {
			return err
		}
		n++
		if opts.Limit == 0 {
			if err := emit(e); err != nil {
				return err
			}
			continue
		}
		// Keep only the last Limit entries: a ring, so a long transcript
		// never sits in memory whole.
		if len(ring) < opts.Limit {
			ring = append(ring, e)
		} else {
			ring[next] = e
			next = (next + 1) % opts.Limit
		}
	}
	for i := range ring {
		if err := emit(ring[(next+i)%len(ring)]); err != nil {
			return err
		}
	}
	if n == 0 && !opts.IO.Quiet() {
		fmt.Fprintf(opts.IO.ErrOut, "Loop %s has no transcript yet: start its agent with \"git loop attach %s\" or \"git loop run %s PROMPT\".\n", opts.Name, opts.Name, opts.Name)
	}
	return nil
}

// Printer writes transcript entries in conversation style: a heading when
// the speaker changes, text indented under it, tool calls (→) and their
// results (←) shortened, system events dimmed.
type Printer struct {
	w       io.Writer
	cs      iostreams.Colors
	speaker string
	day     string
	// ToolLines bounds the lines of a tool result shown (0: 8).
	ToolLines int
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer, cs iostreams.Colors) *Printer {
	return &Printer{w: w, cs: cs}
}

// maxInline bounds a tool call or raw line shown on one line.
const maxInline = 200

// Print writes one entry. Its text is the agent's (the sandbox writes
// the transcript): it reaches the terminal without control characters.
func (p *Printer) Print(e transcript.Entry) {
	e.Text, e.Tool, e.Role, e.Hint = iostreams.SafeText(e.Text), iostreams.SafeText(e.Tool), iostreams.SafeText(e.Role), iostreams.SafeText(e.Hint)
	switch {
	case e.Error:
		// A failure the run stopped on: never dimmed, with its next step.
		if p.speaker != "" {
			fmt.Fprintln(p.w)
		}
		p.speaker = ""
		fmt.Fprintln(p.w, p.cs.Red("✗ "+shorten(oneLine(e.Text), 4*maxInline)))
		if e.Hint != "" {
			fmt.Fprintln(p.w, "  → "+e.Hint)
		}
	case e.Raw:
		fmt.Fprintln(p.w, p.cs.Dim("· "+shorten(oneLine(e.Text), maxInline)))
	case e.Role == transcript.RoleSystem:
		fmt.Fprintln(p.w, p.cs.Dim("· "+shorten(oneLine(e.Text), maxInline)))
	case e.Role == transcript.RoleTool:
		p.heading(transcript.RoleAssistant, e.Time)
		lines := strings.Split(strings.TrimRight(e.Text, "\n"), "\n")
		limit := p.ToolLines
		if limit == 0 {
			limit = 8
		}
		prefix := "  ← "
		if e.Tool != "" {
			prefix += e.Tool + ": "
		}
		for i, l := range lines {
			if i == limit {
				fmt.Fprintln(p.w, p.cs.Dim(fmt.Sprintf("    … %d more lines", len(lines)-limit)))
				break
			}
			if i == 0 {
				fmt.Fprintln(p.w, p.cs.Dim(prefix+shorten(l, maxInline)))
			} else {
				fmt.Fprintln(p.w, p.cs.Dim("    "+shorten(l, maxInline)))
			}
		}
	case e.Tool != "":
		p.heading(transcript.RoleAssistant, e.Time)
		fmt.Fprintln(p.w, "  "+p.cs.Cyan("→ "+e.Tool)+" "+shorten(oneLine(e.Text), maxInline))
	default:
		p.heading(e.Role, e.Time)
		for _, l := range strings.Split(strings.TrimRight(e.Text, "\n"), "\n") {
			fmt.Fprintln(p.w, strings.TrimRight("  "+l, " "))
		}
	}
}

func (p *Printer) heading(role string, t time.Time) {
	if role == p.speaker {
		return
	}
	if p.speaker != "" {
		fmt.Fprintln(p.w)
	}
	p.speaker = role
	h := p.cs.Bold(role)
	if !t.IsZero() {
		lt := t.Local()
		stamp := lt.Format("15:04:05")
		if day := lt.Format("2006-01-02"); day != p.day {
			p.day = day
			stamp = day + " " + stamp
		}
		h += "  " + p.cs.Dim(stamp)
	}
	fmt.Fprintln(p.w, h)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// shorten cuts s to n runes, marking the cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// StreamRenderer is a writer for an agent's headless output on a
// terminal: the lines Claude Code's stream-json prints are shown as a
// conversation, every other line as it is. Close flushes a last partial
// line.
type StreamRenderer struct {
	w      io.Writer
	pr     *Printer
	parser *transcript.OutputParser
	buf    bytes.Buffer
}

// NewStreamRenderer returns a renderer writing to w.
func NewStreamRenderer(w io.Writer, cs iostreams.Colors) *StreamRenderer {
	return &StreamRenderer{w: w, pr: NewPrinter(w, cs), parser: transcript.NewOutputParser()}
}

func (r *StreamRenderer) Write(b []byte) (int, error) {
	r.buf.Write(b)
	for {
		i := bytes.IndexByte(r.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := r.buf.Next(i + 1)
		r.line(line[:len(line)-1])
	}
	return len(b), nil
}

func (r *StreamRenderer) line(l []byte) {
	if es, ok := r.parser.Line(l); ok {
		for _, e := range es {
			r.pr.Print(e)
		}
		return
	}
	fmt.Fprintf(r.w, "%s\n", l)
}

// Close writes what is left of a line without its newline.
func (r *StreamRenderer) Close() error {
	if r.buf.Len() > 0 {
		r.line(r.buf.Bytes())
		r.buf.Reset()
	}
	return nil
}
