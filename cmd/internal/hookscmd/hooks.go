// Package hookscmd implements "git loop hooks" and the hidden "git loop
// hook EVENT", the entry point of the installed git hooks.
package hookscmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/vault"
	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/githooks"
	"github.com/gitloop-dev/git-loop/gitloop/land"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/hooks"
)

// HooksOptions are the inputs of "git loop hooks install|uninstall|status".
type HooksOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Action    string // install, uninstall, status
	Scope     githooks.HookScope
	JSON      bool
}

// NewCmdHooks builds "git loop hooks"; runF replaces hooksRun in tests.
func NewCmdHooks(f *cmdutil.Factory, runF func(context.Context, *HooksOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hooks",
		Short: "Install or remove the git hooks that make plain git loop-aware",
		Long: `Install or remove git loop's git hooks.

The hooks are small sh scripts in the hooks directory git uses (core.hooksPath
is respected) that call "git loop hook EVENT":

  post-checkout  (this repository) a worktree created on a loop branch, as by
                 "git worktree add -b loop/x PATH", becomes a loop: record,
                 context and agent dir; and its sandbox when loop.autostart
                 is true
  pre-push       (this repository, knowledge, notes) loop work is not pushed
                 straight to the main of a gated layer; "git loop promote"
                 makes the proposal ("git push --no-verify" skips the check)
  pre-commit     (personal) vault files are never committed unencrypted
  post-merge,    (knowledge, notes, personal) the clone moved: "ls" says which
  post-rewrite   loops' context is behind it

A hook that was already there is kept and runs first (its failure stops the
chain); uninstall puts it back byte for byte. The scripts call the git-loop
found at install, then the one on PATH; when there is none they warn and let
git go on. "git loop init" installs the hooks; "doctor" checks them.`,
		Example: `  git loop hooks install
  git loop hooks install --repo
  git loop hooks status
  git loop hooks uninstall`,
		Args: cobra.NoArgs,
	}
	for _, action := range []struct{ name, short string }{
		{"install", "Install the hooks (again: nothing changes when they are current)"},
		{"uninstall", "Remove the hooks and restore the ones they replaced"},
		{"status", "Show which hooks are installed and current"},
	} {
		opts := &HooksOptions{IO: f.IOStreams, Workspace: f.Workspace, Action: action.name}
		var repo, context, all bool
		sub := &cobra.Command{
			Use:   action.name + " [--repo|--context|--all]",
			Short: action.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				switch {
				case repo && !context && !all:
					opts.Scope = githooks.HooksRepo
				case context && !repo && !all:
					opts.Scope = githooks.HooksContext
				case !repo && !context || all && !repo && !context:
					opts.Scope = githooks.HooksAll
				default:
					return cmdutil.FlagErrorf("--repo, --context and --all cannot be combined")
				}
				if runF != nil {
					return runF(cmd.Context(), opts)
				}
				return hooksRun(cmd.Context(), opts)
			},
		}
		sub.Flags().BoolVar(&repo, "repo", false, "only this repository's hooks")
		sub.Flags().BoolVar(&context, "context", false, "only the hooks of the context layers' clones")
		sub.Flags().BoolVar(&all, "all", false, "this repository and the context clones (the default)")
		sub.Flags().BoolVar(&opts.JSON, "json", false, "print the hooks dirs and changes as JSON")
		cmd.AddCommand(sub)
	}
	return cmd
}

func hooksRun(ctx context.Context, opts *HooksOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	var targets []githooks.HookTarget
	switch opts.Action {
	case "install":
		targets, err = githooks.InstallHooks(ctx, ws, opts.Scope)
	case "uninstall":
		targets, err = githooks.UninstallHooks(ctx, ws, opts.Scope)
	default:
		targets, err = githooks.HookStatus(ctx, ws, opts.Scope)
	}
	if opts.JSON {
		if targets == nil {
			targets = []githooks.HookTarget{}
		}
		if jerr := cmdutil.WriteJSON(opts.IO.Out, targets); jerr != nil {
			return jerr
		}
		return err
	}
	for _, t := range targets {
		fmt.Fprintf(opts.IO.Out, "%s (%s)\n", t.Dir, strings.Join(t.Repos, ", "))
		for _, c := range t.Result {
			fmt.Fprintf(opts.IO.Out, "  %-14s %s\n", c.Event, describe(c.Action))
		}
	}
	return err
}

func describe(a hooks.Action) string {
	switch a {
	case hooks.Chained:
		return "installed; the hook that was there runs first"
	case hooks.Restored:
		return "removed; the hook it replaced is back"
	case hooks.Missing:
		return "not installed"
	case hooks.Outdated:
		return "outdated (run \"git loop hooks install\")"
	case hooks.Unchanged:
		return "installed, current"
	}
	return string(a)
}

// HookOptions are the inputs of the hidden "git loop hook".
type HookOptions struct {
	Event string
	Args  []string // git's arguments to the hook
}

// NewCmdHook builds the hidden "git loop hook EVENT ARGS…" the shims call;
// runF replaces hookRun in tests.
func NewCmdHook(f *cmdutil.Factory, runF func(context.Context, *HookOptions) error) *cobra.Command {
	opts := &HookOptions{}
	return &cobra.Command{
		Use:                "hook EVENT [ARGS...]",
		Short:              "Entry point of git loop's git hooks",
		Hidden:             true,
		Args:               cobra.MinimumNArgs(1),
		DisableFlagParsing: true, // hook arguments are git's, never ours
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Event, opts.Args = args[0], args[1:]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return hookRun(cmd.Context(), f, opts.Event, opts.Args, f.IOStreams.In)
		},
	}
}

// repoVars point git at a repository; git sets them for hooks. They are
// read here and then dropped, so that nothing run from a hook is sent to
// this repository by accident (git loop's git calls scrub them too).
var repoVars = []string{"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR"}

func hookRun(ctx context.Context, f *cmdutil.Factory, event string, args []string, stdin io.Reader) error {
	index, _ := f.LookupEnv("GIT_INDEX_FILE")
	if index != "" && !filepath.IsAbs(index) {
		index = filepath.Join(f.Dir, index)
	}
	for _, v := range repoVars {
		os.Unsetenv(v)
	}
	// A hook's output is one line or none: git's own output is the story.
	f.IOStreams.SetQuiet(true)
	errOut := f.IOStreams.ErrOut
	if driver, _ := f.LookupEnv(sandboxspec.SandboxEnv); driver != "" && event != hooks.PrePush {
		// In a loop's sandbox only the push guard has work: adopting a
		// worktree and recording clone moves are the host's (the loop
		// state they write is not mounted there).
		return nil
	}
	switch event {
	case hooks.PostCheckout:
		// prev new flag: a branch checkout from nothing is a new worktree.
		if len(args) < 3 || args[2] != "1" || strings.Trim(args[0], "0") != "" {
			return nil
		}
		ws, err := f.Workspace(ctx)
		if err == nil {
			m, aerr := lifecycle.Adopt(ctx, ws, f.Dir)
			err = aerr
			if m != nil {
				fmt.Fprintf(errOut, "git loop: %s is loop %q (git loop attach %s)\n", m.Worktree, m.Name, m.Name)
			}
		}
		if err != nil {
			// Never fail a checkout: say what happened and how to finish.
			fmt.Fprintf(errOut, "git loop: %v\ngit loop: the worktree is fine; \"git loop doctor --fix\" finishes making it a loop\n", err)
		}
		return nil
	case hooks.PrePush:
		input, err := io.ReadAll(stdin)
		if err != nil {
			return err
		}
		dir := f.Dir
		if owner := githooks.OwnerWorktree(dir); owner != "" {
			// A loop's context worktree: the loop's settings (gates) are
			// the code repository's. (Nothing was resolved from f.Dir yet.)
			f.Dir = owner
		}
		ws, err := f.Workspace(ctx)
		if err != nil {
			return nil // not a repository git loop can read: nothing to guard
		}
		return land.CheckPush(ctx, ws, dir, land.ParsePushUpdates(string(input)))
	case hooks.PreCommit:
		return vault.PreCommitHook(ctx, f, index)
	case hooks.PostMerge, hooks.PostRewrite:
		if event == hooks.PostRewrite {
			_, _ = io.Copy(io.Discard, stdin)
		}
		ws, err := f.Workspace(ctx)
		if err == nil {
			_, err = contexts.RecordCloneMove(ctx, ws, f.Dir)
		}
		if err != nil {
			fmt.Fprintf(errOut, "git loop: %s hook: %v\n", event, err)
		}
		return nil
	}
	// An unknown event is a no-op so a newer shim never blocks an older
	// binary's git.
	return nil
}
