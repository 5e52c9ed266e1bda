// Package newcmd implements "git loop new".
package newcmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/attach"
	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/run"
	"github.com/gitloop-dev/git-loop/cmd/internal/shell"
	"github.com/gitloop-dev/git-loop/cmd/internal/vault"
	"github.com/gitloop-dev/git-loop/gitloop/agent"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/session"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// NewOptions are the inputs of "git loop new".
type NewOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)

	Name     string
	Base     string
	Driver   string
	Context  string
	Profiles []string
	Repos    []string
	Vault    string
	Agent    string
	Detach   bool
	DryRun   bool
	JSON     bool
	// Message runs one headless agent turn after creating the loop.
	Message string
}

// NewCmdNew builds the command; runF replaces newRun in tests.
func NewCmdNew(f *cmdutil.Factory, runF func(context.Context, *NewOptions) error) *cobra.Command {
	opts := &NewOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Start a loop: branch, worktree, sandbox",
		Long: `Start a loop: create branch loop/NAME from the base, a worktree for it, copy the
gitignored files listed in .worktreeinclude (such as .env), start its sandbox
and record it.

On a terminal, without --detach, git loop then opens the loop: the agent
session, or a shell in the sandbox while no agent is set up. With --detach
(or when not on a terminal) it prints the worktree path on stdout, so
'cd "$(git loop new x --detach)"' works. With -m PROMPT it runs one headless
agent turn instead (as "git loop run" does) and exits with the agent's exit
code.

If anything fails, or the command is killed, nothing is left half made: the
next git loop command (or "git loop doctor --fix") undoes the partial loop.`,
		Example: `  git loop new fix-login
  git loop new spike --base origin/main --detach
  git loop new fix-login -m "make the login test pass"
  git loop new review --agent "codex -m o3"
  git loop new try --driver none --dry-run`,
		Args:              cmdutil.ExactLoopName,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if cmd.Flags().Changed("driver") {
				f.SetFlag("sandbox.driver", "driver", opts.Driver)
			}
			if cmd.Flags().Changed("base") {
				f.SetFlag("base", "base", opts.Base)
			}
			if cmd.Flags().Changed("message") && strings.TrimSpace(opts.Message) == "" {
				return cmdutil.FlagErrorf("-m needs a non-empty PROMPT")
			}
			if opts.Message != "" && opts.JSON {
				return cmdutil.FlagErrorf("-m and --json cannot be used together")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return newRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Base, "base", "", "branch, tag or commit to start from (default: the current branch)")
	cmd.Flags().StringVar(&opts.Driver, "driver", "", "sandbox driver: auto, docker, bwrap, kubernetes or none (default: sandbox.driver)")
	cmd.Flags().StringVar(&opts.Context, "context", "", "where context worktrees start: latest (fetch first; default), cached (no network), or a commit")
	cmd.Flags().StringArrayVarP(&opts.Profiles, "profile", "p", nil, "add a profile tier from the knowledge repo (repeatable, in order)")
	cmd.Flags().StringArrayVar(&opts.Repos, "repo", nil, "mount a repository of the roster (repos setting) read-only (repeatable)")
	cmd.Flags().StringVar(&opts.Vault, "vault", "", "give the loop this vault of your personal repo: its env vars and $HOME files (default: vault.default)")
	_ = cmd.RegisterFlagCompletionFunc("vault", vault.CompleteVaultNames(f))
	cmd.Flags().StringVar(&opts.Agent, "agent", "", "the agent this loop runs: claude, codex or a command line (default: the agent setting)")
	cmd.Flags().BoolVarP(&opts.Detach, "detach", "d", false, "create the loop without opening it")
	cmd.Flags().StringVarP(&opts.Message, "message", "m", "", "then run one headless agent turn with this PROMPT (see git loop run)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the git commands that would run, and run nothing")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the loop's record as JSON")
	_ = cmd.RegisterFlagCompletionFunc("driver", cobra.FixedCompletions(cmdutil.Drivers, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newRun(ctx context.Context, opts *NewOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	if opts.DryRun {
		ws.Git.Log = opts.IO.DryRunLog()
	}
	m, err := lifecycle.New(ctx, ws, lifecycle.NewOptions{Name: opts.Name, Base: opts.Base, Driver: opts.Driver, DryRun: opts.DryRun, Context: opts.Context, Profiles: opts.Profiles, Repos: opts.Repos, Vault: opts.Vault, Agent: opts.Agent, SetupOutput: opts.IO.ErrOut})
	if err != nil {
		return err
	}
	if opts.DryRun {
		return nil
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, m)
	}
	cs := opts.IO.ErrColors()
	if !opts.IO.Quiet() {
		fmt.Fprintf(opts.IO.ErrOut, "%s loop %s on %s from %s (%s), sandbox %s\n",
			cs.Green("Created"), cs.Bold(m.Name), m.ShortBranch(), m.Base, m.BaseSHA[:7], m.Sandbox.Driver)
	}
	if opts.Message != "" {
		return run.Turn(ctx, ws, opts.IO, session.RunOptions{Name: m.Name, Prompt: opts.Message}, false)
	}
	if opts.Detach || !opts.IO.Interactive() {
		fmt.Fprintln(opts.IO.Out, m.Worktree)
		if !opts.IO.Quiet() && opts.IO.IsStderrTTY() {
			if m.Sandbox.Sealed {
				fmt.Fprintf(opts.IO.ErrOut, "Enter it with: git loop shell %s   (a host worktree for editors: git loop checkout %s)\n", m.Name, m.Name)
			} else {
				fmt.Fprintf(opts.IO.ErrOut, "Enter it with: cd %q   or   git loop exec %s -- $SHELL\n", m.Worktree, m.Name)
			}
		}
		return nil
	}
	return openAgent(ctx, opts, ws, m)
}

// openAgent attaches the loop's agent; when the agent is not installed it
// says how to get one and opens a shell in the loop instead.
func openAgent(ctx context.Context, opts *NewOptions, ws *workspace.Workspace, m *state.Meta) error {
	err := attach.Session(ctx, ws, opts.IO, m.Name, session.AttachOptions{})
	var missing *agent.MissingError
	if !errors.As(err, &missing) {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "%v\nOpening a shell in the loop instead; start the agent later with \"git loop attach %s\".\n", err, m.Name)
	return openShell(ctx, opts, ws, m)
}

// openShell opens an interactive shell in the loop's sandbox.
func openShell(ctx context.Context, opts *NewOptions, ws *workspace.Workspace, m *state.Meta) error {
	fmt.Fprintf(opts.IO.ErrOut, "Worktree: %s   (exit the shell to leave; the loop stays)\n", m.Worktree)
	return cmdutil.RunInLoop(ctx, ws, opts.IO, m.Name, shell.ShellCommand(m.Sandbox.Driver), true)
}
