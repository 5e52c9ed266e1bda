// Package root assembles the command tree and maps errors to exit codes.
package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/attach"
	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/completion"
	"github.com/gitloop-dev/git-loop/cmd/internal/composecmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/configcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/contextcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/diff"
	"github.com/gitloop-dev/git-loop/cmd/internal/distill"
	"github.com/gitloop-dev/git-loop/cmd/internal/doctor"
	"github.com/gitloop-dev/git-loop/cmd/internal/execcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/focus"
	"github.com/gitloop-dev/git-loop/cmd/internal/hookscmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/image"
	"github.com/gitloop-dev/git-loop/cmd/internal/inbox"
	"github.com/gitloop-dev/git-loop/cmd/internal/initcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/lifecycle"
	"github.com/gitloop-dev/git-loop/cmd/internal/logcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/ls"
	"github.com/gitloop-dev/git-loop/cmd/internal/newcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/path"
	"github.com/gitloop-dev/git-loop/cmd/internal/promote"
	"github.com/gitloop-dev/git-loop/cmd/internal/prune"
	"github.com/gitloop-dev/git-loop/cmd/internal/review"
	"github.com/gitloop-dev/git-loop/cmd/internal/rm"
	"github.com/gitloop-dev/git-loop/cmd/internal/run"
	"github.com/gitloop-dev/git-loop/cmd/internal/shell"
	"github.com/gitloop-dev/git-loop/cmd/internal/status"
	synccmd "github.com/gitloop-dev/git-loop/cmd/internal/sync"
	"github.com/gitloop-dev/git-loop/cmd/internal/uninstall"
	"github.com/gitloop-dev/git-loop/cmd/internal/vault"
	"github.com/gitloop-dev/git-loop/cmd/internal/version"
	"github.com/gitloop-dev/git-loop/cmd/internal/web"
	"github.com/gitloop-dev/git-loop/gitloop"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// Exit codes, documented in git-loop(1).
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitEngine      = 3
	ExitConflict    = 4
	ExitWorkAtRisk  = 5
	ExitInterrupted = 130
)

const exitCodesHelp = `Exit codes:
  0    success
  1    error
  2    usage: bad name, flag or argument
  3    the sandbox engine is unreachable
  4    stopped on a conflict; resolve it, then run the command with --continue
  5    refused because it would lose work (unmerged commits, uncommitted changes)
  130  interrupted`

// NewCmdRoot builds the whole command tree.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	var dir string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "git-loop",
		Short: "Run AI coding agents in loops: branch + worktree + context + sandbox",
		Long: `git loop runs AI coding agents in loops. A loop is a git branch (loop/NAME)
with its own worktree, the context composed around it, and a sandbox (a Docker
container, bubblewrap, or the host) where the agent and your shells run.
Everything is plain files in git repositories you control.

Start a loop with "git loop new NAME", see them all with "git loop ls", run
commands in one with "git loop exec NAME -- CMD", and remove it with
"git loop rm NAME".

` + exitCodesHelp,
		Example: `  git loop new fix-login
  git loop ls
  git loop exec fix-login -- make test
  git loop diff fix-login
  git loop rm fix-login`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "git loop"},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if dir != "" {
				abs := dir
				if !filepath.IsAbs(abs) {
					abs = filepath.Join(f.Dir, dir)
				}
				if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
					return cmdutil.FlagErrorf("cannot change to %q: not a directory", dir)
				}
				f.Dir = abs
			}
			f.IOStreams.SetQuiet(quiet)
			return nil
		},
	}
	cmd.PersistentFlags().StringVarP(&dir, "directory", "C", "", "run as if git loop was started in DIR")
	cmd.PersistentFlags().BoolVarP(&quiet, "quiet", "q", false, "print only results and errors")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	cmd.SetIn(f.IOStreams.In)
	cmd.CompletionOptions.DisableDefaultCmd = true

	cmd.AddGroup(&cobra.Group{ID: "loop", Title: "Loops:"}, &cobra.Group{ID: "context", Title: "Context:"}, &cobra.Group{ID: "setup", Title: "Setup:"})
	for _, c := range []*cobra.Command{
		newcmd.NewCmdNew(f, nil),
		ls.NewCmdLs(f, nil),
		status.NewCmdStatus(f, nil),
		path.NewCmdPath(f, nil),
		diff.NewCmdDiff(f, nil),
		execcmd.NewCmdExec(f, nil),
		shell.NewCmdShell(f, nil),
		attach.NewCmdAttach(f, nil),
		run.NewCmdRun(f, nil),
		logcmd.NewCmdLog(f, nil),
		lifecycle.NewCmdStop(f, nil),
		lifecycle.NewCmdStart(f, nil),
		rm.NewCmdRm(f, nil),
		promote.NewCmdPromote(f, nil),
		synccmd.NewCmdSync(f, nil),
		review.NewCmdReview(f, nil),
		prune.NewCmdPrune(f, nil),
		distill.NewCmdDistill(f, nil),
		web.NewCmdWeb(f, nil),
	} {
		c.GroupID = "loop"
		cmd.AddCommand(c)
	}
	for _, c := range []*cobra.Command{
		contextcmd.NewCmdContext(f, nil, nil),
		inbox.NewCmdInbox(f, nil),
		focus.NewCmdFocus(f, nil),
		vault.NewCmdVault(f, nil),
	} {
		c.GroupID = "context"
		cmd.AddCommand(c)
	}
	for _, c := range []*cobra.Command{
		initcmd.NewCmdInit(f, nil),
		composecmd.NewCmdCompose(f, nil),
		configcmd.NewCmdConfig(f, nil),
		hookscmd.NewCmdHooks(f, nil),
		image.NewCmdImage(f, nil),
		uninstall.NewCmdUninstall(f, nil),
		doctor.NewCmdDoctor(f, nil),
		completion.NewCmdCompletion(f),
		version.NewCmdVersion(f),
	} {
		c.GroupID = "setup"
		cmd.AddCommand(c)
	}
	cmd.AddCommand(hookscmd.NewCmdHook(f))
	cmd.SetHelpCommandGroupID("setup")
	cmd.Version = version.String()
	cmd.SetVersionTemplate("{{.Version}}\n")
	return cmd
}

// Main runs git loop with args and returns the exit code.
func Main(args []string) int {
	f := cmdutil.New()
	return Run(context.Background(), f, args)
}

// Run executes the command tree for args with f's streams and maps the
// outcome to an exit code, printing errors on stderr.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := NewCmdRoot(f)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	return handleError(f, cmd, args, err, ctx.Err() != nil)
}

func handleError(f *cmdutil.Factory, root *cobra.Command, args []string, err error, interrupted bool) int {
	w := f.IOStreams.ErrOut
	cs := f.IOStreams.ErrColors()
	var exitErr *cmdutil.ExitCodeError
	var flagErr *cmdutil.FlagError
	var usageErr *gitloop.UsageError
	var riskErr *gitloop.WorkAtRiskError
	var conflictErr *gitloop.ConflictError
	switch {
	case errors.As(err, &exitErr):
		return exitErr.Code
	case errors.Is(err, cmdutil.SilentError{}):
		return ExitError
	case interrupted || errors.Is(err, context.Canceled):
		fmt.Fprintln(w, cs.Red("error:")+" interrupted")
		return ExitInterrupted
	case errors.As(err, &flagErr), errors.As(err, &usageErr), isCobraUsage(err):
		fmt.Fprintln(w, cs.Red("error:")+" "+err.Error())
		sub, _, _ := root.Find(args)
		name := "git loop"
		if sub != nil {
			name = sub.CommandPath()
		}
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", name)
		return ExitUsage
	case errors.Is(err, sandbox.ErrEngineUnreachable):
		fmt.Fprintln(w, cs.Red("error:")+" "+err.Error())
		return ExitEngine
	case errors.As(err, &conflictErr):
		fmt.Fprintln(w, cs.Red("error:")+" "+err.Error())
		return ExitConflict
	case errors.As(err, &riskErr):
		fmt.Fprintln(w, cs.Red("error:")+" "+err.Error())
		return ExitWorkAtRisk
	default:
		fmt.Fprintln(w, cs.Red("error:")+" "+err.Error())
		return ExitError
	}
}

// isCobraUsage recognises cobra's own argument errors, which are plain
// errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
