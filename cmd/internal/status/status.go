// Package status implements "git loop status".
package status

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/ls"
	"github.com/gitloop-dev/git-loop/gitloop/status"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// StatusOptions are the inputs of "git loop status".
type StatusOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Now       func() time.Time
	Dir       string
	Name      string
	JSON      bool
}

// NewCmdStatus builds the command; runF replaces statusRun in tests.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Workspace: f.Workspace, Now: time.Now, Dir: f.Dir}
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show one loop in detail",
		Long: `Show one loop in detail: branch and base, worktree, sandbox, changes, agent and
context versions. Without NAME, the loop whose worktree you are in.`,
		Example: `  git loop status fix-login
  git loop status --json fix-login`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the status as JSON")
	return cmd
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	name := opts.Name
	if name == "" {
		if name, err = CurrentLoop(ws, opts.Dir); err != nil {
			return err
		}
	}
	l, err := status.Status(ctx, ws, name)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, l)
	}
	cs := opts.IO.Colors()
	w := opts.IO.Out
	fmt.Fprintf(w, "loop %s\n", cs.Bold(l.Name))
	row := func(k, v string) { fmt.Fprintf(w, "  %-9s %s\n", k, v) }
	row("state", l.State)
	for _, p := range l.Problems {
		row("problem", cs.Red(p)+` (run "git loop prune")`)
	}
	row("branch", fmt.Sprintf("%s, %d ahead and %d behind %s", l.Branch, l.Ahead, l.Behind, l.Base))
	row("base", fmt.Sprintf("%s (started at %s)", l.Base, short(l.BaseSHA)))
	row("worktree", l.Worktree)
	if l.State == status.StateReady {
		if l.Dirty {
			row("changes", cs.Yellow(fmt.Sprintf("%d uncommitted", l.Changes)))
		} else {
			row("changes", "clean")
		}
	}
	switch {
	case len(l.Unpromoted) > 0:
		row("promote", strings.Join(l.Unpromoted, ",")+` not promoted (run "git loop promote `+l.Name+`")`)
	case len(l.Proposed) > 0:
		row("promote", strings.Join(l.Proposed, ",")+` proposed, waiting for review (see "git loop review ls")`)
	case l.State == status.StateReady:
		row("promote", "nothing to promote")
	}
	if len(l.Unpromoted) > 0 && len(l.Proposed) > 0 {
		row("", strings.Join(l.Proposed, ",")+" proposed, waiting for review")
	}
	sb := ls.SandboxText(l)
	if l.SandboxID != "" {
		sb += " (" + short(l.SandboxID) + ")"
	}
	row("sandbox", sb)
	for _, p := range l.Ports {
		row("port", fmt.Sprintf("127.0.0.1:%d -> %d", p.Host, p.Container))
	}
	row("agent", l.Agent)
	keys := make([]string, 0, len(l.Versions))
	for k := range l.Versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := short(l.Versions[k])
		for _, b := range l.ContextBehind {
			if b == k {
				v += cs.Yellow(` (its clone moved on: "git loop sync ` + l.Name + `" brings it in)`)
			}
		}
		row(k, v)
	}
	row("created", fmt.Sprintf("%s (%s ago)", l.Created.Local().Format("2006-01-02 15:04"), ls.Age(opts.Now().Sub(l.Created))))
	return nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// CurrentLoop names the loop whose worktree contains the current
// directory.
func CurrentLoop(ws *workspace.Workspace, wd string) (string, error) {
	top := ws.Repo.TopLevel
	for _, n := range ws.Names() {
		m, err := ws.Get(n)
		if err != nil {
			continue
		}
		if top != "" && filepath.Clean(m.Worktree) == top {
			return n, nil
		}
		if rel, err := filepath.Rel(m.Worktree, wd); err == nil && !strings.HasPrefix(rel, "..") {
			return n, nil
		}
	}
	return "", cmdutil.FlagErrorf("not inside a loop's worktree: name a loop (see \"git loop ls\")")
}
