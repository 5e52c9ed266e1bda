// Package run implements "git loop run".
package run

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/logcmd"
	"github.com/gitloop-dev/git-loop/gitloop/session"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// RunOptions are the inputs of "git loop run".
type RunOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Name      string
	Prompt    string
	Agent     string
	Raw       bool
}

// NewCmdRun builds the command; runF replaces runRun in tests.
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "run NAME PROMPT",
		Short: "Run one headless agent turn in a loop",
		Long: `Run one headless turn of the loop's agent with PROMPT, in its sandbox and
worktree, and exit with the agent's exit code. Words after NAME are joined into
the prompt; "-" reads it from stdin.

The agent's output streams as it comes (on a terminal, Claude Code's
stream-json is shown as a conversation; --raw shows it as is) and is saved,
with the time, agent and prompt, in a private log under the loop's log/ dir;
"git loop log NAME" shows it. How each agent is run:

  claude    claude -p --output-format stream-json --verbose PROMPT
  codex     codex exec PROMPT
  CMD       CMD PROMPT (the prompt is the last argument)

One agent runs in a loop at a time: a second run (or attach) fails until the
first ends.`,
		Example: `  git loop run fix-login "make the login test pass"
  git loop run fix-login fix the flaky test in auth/
  git diff | git loop run review -
  git loop run fix-login --agent codex "explain the failure"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return cmdutil.FlagErrorf("run needs a loop NAME and a PROMPT: git loop run NAME PROMPT")
			}
			return nil
		},
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			opts.Prompt = strings.Join(args[1:], " ")
			if opts.Prompt == "-" {
				b, err := io.ReadAll(opts.IO.In)
				if err != nil {
					return fmt.Errorf("read prompt from stdin: %w", err)
				}
				opts.Prompt = strings.TrimRight(string(b), "\n")
			}
			if strings.TrimSpace(opts.Prompt) == "" {
				return cmdutil.FlagErrorf("run needs a non-empty PROMPT")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Agent, "agent", "", "run this agent (claude, codex or a command line) instead of the loop's")
	cmd.Flags().BoolVar(&opts.Raw, "raw", false, "print the agent's output as is, even on a terminal")
	return cmd
}

func runRun(ctx context.Context, opts *RunOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	return Turn(ctx, ws, opts.IO, session.RunOptions{Name: opts.Name, Prompt: opts.Prompt, Agent: opts.Agent}, opts.Raw)
}

// Turn runs one headless agent turn with the command's streams, the way
// run and new -m do: output on stdout (rendered on a terminal unless raw),
// the agent's stderr on stderr, the log's path on stderr at the end, and
// the agent's exit code as git loop's.
func Turn(ctx context.Context, ws *workspace.Workspace, ios *iostreams.IOStreams, o session.RunOptions, raw bool) error {
	o.Stdout, o.Stderr = ios.Out, ios.ErrOut
	var r *logcmd.StreamRenderer
	if ios.IsStdoutTTY() && !raw {
		r = logcmd.NewStreamRenderer(ios.Out, ios.Colors())
		o.Stdout = r
	}
	res, err := session.RunWith(ctx, ws, o)
	if r != nil {
		_ = r.Close()
	}
	if res.LogPath != "" && !ios.Quiet() {
		fmt.Fprintln(ios.ErrOut, ios.ErrColors().Dim("Log: "+res.LogPath))
	}
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return &cmdutil.ExitCodeError{Code: res.ExitCode}
	}
	return nil
}
