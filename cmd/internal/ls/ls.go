// Package ls implements "git loop ls".
package ls

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/status"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// LsOptions are the inputs of "git loop ls".
type LsOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Now       func() time.Time
	JSON      bool
}

// NewCmdLs builds the command; runF replaces lsRun in tests.
func NewCmdLs(f *cmdutil.Factory, runF func(context.Context, *LsOptions) error) *cobra.Command {
	opts := &LsOptions{IO: f.IOStreams, Workspace: f.Workspace, Now: time.Now}
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List loops with their state, sandbox, ahead/behind, changes and age",
		Long: `List every loop of this repository: its state, sandbox, how far its branch is
ahead of and behind its base, whether its worktree has uncommitted changes, and
its age. --json prints the same as a stable JSON array.`,
		Example: `  git loop ls
  git loop ls --json | jq -r '.[] | select(.dirty) | .name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return lsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print loops as a JSON array")
	return cmd
}

func lsRun(ctx context.Context, opts *LsOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	loops, err := status.List(ctx, ws)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, loops)
	}
	if len(loops) == 0 {
		if opts.IO.IsStdoutTTY() {
			fmt.Fprintln(opts.IO.ErrOut, "No loops yet. Start one with: git loop new NAME")
		}
		return nil
	}
	cs := opts.IO.Colors()
	var t iostreams.Table
	t.Row(cells("NAME", "STATE", "SANDBOX", "BASE", "AHEAD/BEHIND", "UNPROMOTED", "CONTEXT", "CHANGES", "FETCHED", "AGE")...)
	for _, l := range loops {
		state := iostreams.Plain(l.State)
		if l.State != status.StateReady {
			state.Paint = cs.Red
		}
		changes := iostreams.Plain("clean")
		if l.Dirty {
			changes = iostreams.Painted(fmt.Sprintf("%d changed", l.Changes), cs.Yellow)
		}
		if l.ChangesUnknown {
			changes = iostreams.Painted("unreachable", cs.Red)
		}
		if l.State != status.StateReady {
			changes = iostreams.Plain("-")
		}
		context := iostreams.Plain(ContextText(l))
		if len(l.ContextBehind) > 0 {
			context.Paint = cs.Yellow
		}
		fetched := "-"
		if !l.LastFetch.IsZero() {
			fetched = Age(opts.Now().Sub(l.LastFetch))
		}
		t.Row(iostreams.Painted(l.Name, cs.Bold), state, iostreams.Plain(SandboxText(l)), iostreams.Plain(l.Base),
			iostreams.Plain(fmt.Sprintf("+%d/-%d", l.Ahead, l.Behind)), iostreams.Plain(UnpromotedText(l)), context, changes,
			iostreams.Plain(fetched), iostreams.Plain(Age(opts.Now().Sub(l.Created))))
	}
	return t.Write(opts.IO.Out)
}

func cells(texts ...string) []iostreams.Cell {
	out := make([]iostreams.Cell, len(texts))
	for i, t := range texts {
		out[i] = iostreams.Plain(t)
	}
	return out
}

// UnpromotedText names the layers with commits not yet promoted, and the
// proposed ones as "code (proposed)", or "-".
func UnpromotedText(l status.LoopStatus) string {
	parts := append([]string(nil), l.Unpromoted...)
	for _, p := range l.Proposed {
		parts = append(parts, p+" (proposed)")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

// ContextText says whether a loop's context is behind its layers' clones:
// "-" (no context), "current", or "behind: LAYER,…".
func ContextText(l status.LoopStatus) string {
	switch {
	case len(l.Versions) == 0:
		return "-"
	case len(l.ContextBehind) > 0:
		return "behind: " + strings.Join(l.ContextBehind, ",")
	}
	return "current"
}

// SandboxText renders a loop's sandbox as "docker running" or "none".
func SandboxText(l status.LoopStatus) string {
	if l.Driver == "none" {
		return "none"
	}
	state := string(l.Sandbox)
	if l.Sandbox == sandbox.StateMissing {
		// No container yet (never started, or removed behind our back):
		// the next exec, run or start makes one, so it is nothing to fix.
		state = "not started"
	}
	s := l.Driver + " " + state
	if l.Placement == "remote" {
		// Its files live on its engine: what ls shows is what the host
		// last fetched (FETCHED says when).
		s = "remote " + s
	}
	for _, p := range l.Ports {
		s += fmt.Sprintf(" :%d", p.Host)
	}
	return s
}

// Age renders a duration the way people say it: 45s, 12m, 3h, 5d.
func Age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}
