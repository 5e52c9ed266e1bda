// Package root assembles the command tree and maps errors to exit codes.
package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/attach"
	"github.com/gitloop-dev/git-loop/cmd/internal/checkout"
	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/completion"
	"github.com/gitloop-dev/git-loop/cmd/internal/composecmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/configcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/contextcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/diff"
	"github.com/gitloop-dev/git-loop/cmd/internal/distill"
	"github.com/gitloop-dev/git-loop/cmd/internal/doctor"
	"github.com/gitloop-dev/git-loop/cmd/internal/egressrelay"
	"github.com/gitloop-dev/git-loop/cmd/internal/execcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/focus"
	"github.com/gitloop-dev/git-loop/cmd/internal/hookscmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/image"
	"github.com/gitloop-dev/git-loop/cmd/internal/inbox"
	"github.com/gitloop-dev/git-loop/cmd/internal/initcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/installdocs"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/lifecycle"
	"github.com/gitloop-dev/git-loop/cmd/internal/logcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/ls"
	"github.com/gitloop-dev/git-loop/cmd/internal/newcmd"
	"github.com/gitloop-dev/git-loop/cmd/internal/path"
	"github.com/gitloop-dev/git-loop/cmd/internal/ports"
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
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
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
       or, in promote and review merge, push a value of your vaults
  130  interrupted`

// NewCmdRoot builds the whole command tree.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command { return newCmdRoot(f, "") }

// newCmdRoot builds the root command with every subcommand, or with only
// the one named only (a name or an alias).
func newCmdRoot(f *cmdutil.Factory, only string) *cobra.Command {
	var dir string
	var quiet, verbose bool
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
			f.IOStreams.SetVerbose(verbose)
			return refuseInSandbox(f, cmd)
		},
	}
	cmd.PersistentFlags().StringVarP(&dir, "directory", "C", "", "run as if git loop was started in DIR")
	cmd.PersistentFlags().BoolVarP(&quiet, "quiet", "q", false, "print only results and errors")
	cmd.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "also print each git command that changes something")
	// --version without -v, which is --verbose in every command; a lone
	// "git loop -v" still prints the version, as "git -v" does.
	cmd.Flags().Bool("version", false, "print the version of git loop")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	cmd.SetIn(f.IOStreams.In)
	cmd.CompletionOptions.DisableDefaultCmd = true

	cmd.AddGroup(&cobra.Group{ID: "loop", Title: "Loops:"}, &cobra.Group{ID: "context", Title: "Context:"}, &cobra.Group{ID: "setup", Title: "Setup:"})
	for _, sub := range subcommands(f) {
		if only != "" && !slices.Contains(sub.names, only) {
			continue
		}
		c := sub.make()
		if sub.group != "" {
			c.GroupID = sub.group
		}
		cmd.AddCommand(c)
	}
	cmd.SetHelpCommandGroupID("setup")
	if only == "" {
		// Only the root itself answers --version; a lone subcommand's tree
		// skips reading the build info.
		cmd.Version = version.String()
	}
	cmd.SetVersionTemplate("{{.Version}}\n")
	return cmd
}

// NewDocRoot builds the whole command tree as "git loop --help" shows it,
// for rendering man pages and completions: the Factory is lazy, so
// building it runs neither git nor a sandbox engine.
func NewDocRoot() *cobra.Command {
	cmd := NewCmdRoot(cmdutil.New())
	// What cobra adds only when the binary runs, so the pages list the
	// help command and --version as "git loop --help" does.
	cmd.InitDefaultHelpCmd()
	cmd.InitDefaultVersionFlag()
	return cmd
}

// subcommand is a command under the root: its help group, the names it
// answers to (its name first, then its aliases), and how to build it.
type subcommand struct {
	group string
	names []string
	make  func() *cobra.Command
}

// subcommands lists the root's commands, in the order help shows them.
// The names let Run build only the command it runs: building all of them
// is most of what a command does before its own work.
func subcommands(f *cmdutil.Factory) []subcommand {
	return []subcommand{
		{"loop", []string{"new"}, func() *cobra.Command { return newcmd.NewCmdNew(f, nil) }},
		{"loop", []string{"ls", "list"}, func() *cobra.Command { return ls.NewCmdLs(f, nil) }},
		{"loop", []string{"status"}, func() *cobra.Command { return status.NewCmdStatus(f, nil) }},
		{"loop", []string{"path"}, func() *cobra.Command { return path.NewCmdPath(f, nil) }},
		{"loop", []string{"diff"}, func() *cobra.Command { return diff.NewCmdDiff(f, nil) }},
		{"loop", []string{"checkout"}, func() *cobra.Command { return checkout.NewCmdCheckout(f, nil) }},
		{"loop", []string{"exec"}, func() *cobra.Command { return execcmd.NewCmdExec(f, nil) }},
		{"loop", []string{"shell"}, func() *cobra.Command { return shell.NewCmdShell(f, nil) }},
		{"loop", []string{"attach"}, func() *cobra.Command { return attach.NewCmdAttach(f, nil) }},
		{"loop", []string{"ports"}, func() *cobra.Command { return ports.NewCmdPorts(f, nil) }},
		{"loop", []string{"run"}, func() *cobra.Command { return run.NewCmdRun(f, nil) }},
		{"loop", []string{"log"}, func() *cobra.Command { return logcmd.NewCmdLog(f, nil) }},
		{"loop", []string{"stop"}, func() *cobra.Command { return lifecycle.NewCmdStop(f, nil) }},
		{"loop", []string{"start"}, func() *cobra.Command { return lifecycle.NewCmdStart(f, nil) }},
		{"loop", []string{"rm"}, func() *cobra.Command { return rm.NewCmdRm(f, nil) }},
		{"loop", []string{"promote"}, func() *cobra.Command { return promote.NewCmdPromote(f, nil) }},
		{"loop", []string{"sync"}, func() *cobra.Command { return synccmd.NewCmdSync(f, nil) }},
		{"loop", []string{"review"}, func() *cobra.Command { return review.NewCmdReview(f, nil) }},
		{"loop", []string{"prune"}, func() *cobra.Command { return prune.NewCmdPrune(f, nil) }},
		{"loop", []string{"distill"}, func() *cobra.Command { return distill.NewCmdDistill(f, nil) }},
		{"loop", []string{"web"}, func() *cobra.Command { return web.NewCmdWeb(f, nil) }},
		{"context", []string{"context"}, func() *cobra.Command { return contextcmd.NewCmdContext(f, nil, nil) }},
		{"context", []string{"inbox"}, func() *cobra.Command { return inbox.NewCmdInbox(f, nil) }},
		{"context", []string{"focus"}, func() *cobra.Command { return focus.NewCmdFocus(f, nil) }},
		{"context", []string{"vault"}, func() *cobra.Command { return vault.NewCmdVault(f, nil) }},
		{"setup", []string{"init"}, func() *cobra.Command { return initcmd.NewCmdInit(f, nil) }},
		{"setup", []string{"compose"}, func() *cobra.Command { return composecmd.NewCmdCompose(f, nil) }},
		{"setup", []string{"config"}, func() *cobra.Command { return configcmd.NewCmdConfig(f, nil) }},
		{"setup", []string{"hooks"}, func() *cobra.Command { return hookscmd.NewCmdHooks(f, nil) }},
		{"setup", []string{"image"}, func() *cobra.Command { return image.NewCmdImage(f, nil) }},
		{"setup", []string{"uninstall"}, func() *cobra.Command { return uninstall.NewCmdUninstall(f, nil) }},
		{"setup", []string{"doctor"}, func() *cobra.Command { return doctor.NewCmdDoctor(f, nil) }},
		{"setup", []string{"completion"}, func() *cobra.Command { return completion.NewCmdCompletion(f, nil) }},
		{"setup", []string{"install-docs"}, func() *cobra.Command { return installdocs.NewCmdInstallDocs(f, NewDocRoot, nil) }},
		{"setup", []string{"version"}, func() *cobra.Command { return version.NewCmdVersion(f, nil) }},
		{"", []string{"hook"}, func() *cobra.Command { return hookscmd.NewCmdHook(f, nil) }},
		{"", []string{"relay"}, func() *cobra.Command { return egressrelay.NewCmdEgressRelay(f, nil) }},
	}
}

// onlyCommand is the subcommand args run when Run may build it alone: the
// first argument names it exactly. Anything else (flags before it, help,
// completion, which walks the whole tree, a typo cobra offers suggestions
// for) gets the whole tree.
func onlyCommand(f *cmdutil.Factory, args []string) string {
	if len(args) == 0 {
		return ""
	}
	switch name := args[0]; name {
	case "completion", "help", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
		return ""
	default:
		for _, sub := range subcommands(f) {
			if slices.Contains(sub.names, name) {
				return name
			}
		}
		return ""
	}
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
	if len(args) == 1 && args[0] == "-v" {
		args = []string{"--version"}
	}
	cmd := newCmdRoot(f, onlyCommand(f, args))
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	return handleError(f, cmd, args, err, ctx.Err() != nil)
}

// inSandbox are the commands that run inside a loop's sandbox, where
// git-loop is mounted for the hooks git runs there (see
// sandboxspec.SandboxEnv).
var inSandbox = []string{"hook", "relay", "version", "help"}

// refuseInSandbox stops every other command there: the sandbox holds one
// loop's files and hides the rest of git loop's state, so a command would
// act on a partial view (a "new" would make a branch in the shared
// repository and a worktree nobody keeps).
func refuseInSandbox(f *cmdutil.Factory, cmd *cobra.Command) error {
	driver, _ := f.LookupEnv(sandboxspec.SandboxEnv)
	if driver == "" {
		return nil
	}
	if !cmd.HasParent() {
		return nil // "git loop" alone prints its help
	}
	top := cmd
	for top.HasParent() && top.Parent().HasParent() {
		top = top.Parent()
	}
	if slices.Contains(inSandbox, top.Name()) {
		return nil
	}
	loop, _ := f.LookupEnv("GIT_LOOP_NAME")
	return fmt.Errorf("%s: git loop runs on the host; this is loop %s's %s sandbox, which sees only that loop's files (run it from a terminal on the host)", cmd.CommandPath(), loop, driver)
}

func handleError(f *cmdutil.Factory, root *cobra.Command, args []string, err error, interrupted bool) int {
	w := f.IOStreams.ErrOut
	cs := f.IOStreams.ErrColors()
	var exitErr *cmdutil.ExitCodeError
	var flagErr *cmdutil.FlagError
	var usageErr *workspace.UsageError
	var riskErr *workspace.WorkAtRiskError
	var leakErr *workspace.SecretLeakError
	var conflictErr *workspace.ConflictError
	switch {
	case errors.As(err, &exitErr):
		return exitErr.Code
	case errors.Is(err, cmdutil.SilentError{}):
		return ExitError
	case interrupted || errors.Is(err, context.Canceled):
		fmt.Fprintln(w, cs.Red("error:")+" interrupted")
		return ExitInterrupted
	case errors.As(err, &flagErr), errors.As(err, &usageErr), isCobraUsage(err):
		fmt.Fprintln(w, cs.Red("error:")+" "+iostreams.SafeText(err.Error()))
		sub, _, _ := root.Find(args)
		name := "git loop"
		if sub != nil {
			name = sub.CommandPath()
		}
		if sub == nil || sub == root {
			// git turns "git loop --help" into "git help loop", which
			// needs the man page; "git loop help" never does.
			fmt.Fprintln(w, "Run 'git loop help' for usage.")
		} else {
			fmt.Fprintf(w, "Run '%s --help' for usage.\n", name)
		}
		return ExitUsage
	case errors.Is(err, sandbox.ErrEngineUnreachable):
		fmt.Fprintln(w, cs.Red("error:")+" "+iostreams.SafeText(err.Error()))
		return ExitEngine
	case errors.As(err, &conflictErr):
		fmt.Fprintln(w, cs.Red("error:")+" "+iostreams.SafeText(err.Error()))
		return ExitConflict
	case errors.As(err, &riskErr), errors.As(err, &leakErr):
		fmt.Fprintln(w, cs.Red("error:")+" "+iostreams.SafeText(err.Error()))
		return ExitWorkAtRisk
	default:
		fmt.Fprintln(w, cs.Red("error:")+" "+iostreams.SafeText(err.Error()))
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

// RemoteHelper is git-remote-gitloop, the git-loop binary run by git under
// that name for gitloop::NAME URLs (args are git's: REMOTE URL). It finds
// the repository where git runs it (GIT_DIR, which git sets for its
// helpers) and serves one connection to the loop's sandbox on stdin and
// stdout; errors go to stderr, where git shows them.
func RemoteHelper(args []string) int {
	f := cmdutil.New()
	if dir, ok := f.LookupEnv("GIT_DIR"); ok && dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			f.Dir = abs
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := transport.Helper(ctx, f.Engines.For, f.Workspace, args, os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fatal:", err)
		return ExitError
	}
	return ExitOK
}
