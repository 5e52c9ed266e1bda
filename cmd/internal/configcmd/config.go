// Package configcmd implements "git loop config".
package configcmd

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// ConfigOptions are the inputs of "git loop config".
type ConfigOptions struct {
	IO     *iostreams.IOStreams
	Config func(context.Context) (*config.Config, error)
	Repo   func(context.Context) (*workspace.Repo, error)

	Action     string // list, get, set, unset
	Key, Value string
	ShowOrigin bool
	JSON       bool
	Scope      string
}

// NewCmdConfig builds the command; runF replaces configRun in tests.
func NewCmdConfig(f *cmdutil.Factory, runF func(context.Context, *ConfigOptions) error) *cobra.Command {
	opts := &ConfigOptions{IO: f.IOStreams, Config: f.Config, Repo: f.Repo}
	var global, worktree bool
	cmd := &cobra.Command{
		Use:   "config [get KEY | set KEY VALUE | unset KEY]",
		Short: "Show or change settings",
		Long: `Show or change git loop's settings. Settings come from, weakest first:
built-in defaults, the team knowledge repo's .gitloop/config.toml,
.gitloop.toml at the root of the main worktree (in whichever worktree you
run: a loop's own copy is never read; committed at HEAD for a bare
repository), your personal repo's
config.toml, this machine's $XDG_CONFIG_HOME/git-loop/config.toml, git config
loop.* (system, global, local, worktree, and "git -c loop.KEY=VALUE loop ..."),
GIT_LOOP_* environment variables, and command-line flags.

Without arguments, every setting is listed; --show-origin names where each
value came from. "set" writes loop.KEY to this repository's git config
(--global: your ~/.gitconfig).

Settings:
` + keyHelp(),
		Example: `  git loop config --show-origin
  git loop config get sandbox.driver
  git loop config set agent codex
  git -c loop.sandbox.driver=none loop new quick`,
		ValidArgsFunction: completeArgs,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			want := map[string]int{"get": 2, "set": 3, "unset": 2, "list": 1}
			n, ok := want[args[0]]
			if !ok {
				return cmdutil.FlagErrorf("unknown config action %q: use get, set, unset or list", args[0])
			}
			if len(args) != n {
				return cmdutil.FlagErrorf("usage: git loop config %s", map[string]string{"get": "get KEY", "set": "set KEY VALUE", "unset": "unset KEY", "list": "list"}[args[0]])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Action = "list"
			if len(args) > 0 {
				opts.Action = args[0]
			}
			if len(args) > 1 {
				opts.Key = args[1]
			}
			if len(args) > 2 {
				opts.Value = args[2]
			}
			opts.Scope = "local"
			if global && worktree {
				return cmdutil.FlagErrorf("--global and --worktree cannot be used together")
			}
			if global {
				opts.Scope = "global"
			} else if worktree {
				opts.Scope = "worktree"
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return configRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ShowOrigin, "show-origin", false, "show where each value comes from")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print settings as JSON")
	cmd.Flags().BoolVar(&global, "global", false, "set: write to your global git config")
	cmd.Flags().BoolVar(&worktree, "worktree", false, "set: write to this worktree's git config")
	return cmd
}

func keyHelp() string {
	s := ""
	for _, k := range config.Keys {
		if k.List {
			s += fmt.Sprintf("  %-16s %s (a list: TOML array, or git config --add)\n", k.Name, k.Help)
			continue
		}
		def := k.Default
		if def == "" {
			def = `""`
		}
		s += fmt.Sprintf("  %-16s %s (default %s; env %s)\n", k.Name, k.Help, def, k.EnvName())
	}
	return s
}

func completeArgs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return []string{"get", "set", "unset", "list"}, cobra.ShellCompDirectiveNoFileComp
	case 1:
		var keys []string
		for _, k := range config.Keys {
			keys = append(keys, k.Name)
		}
		return keys, cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

func configRun(ctx context.Context, opts *ConfigOptions) error {
	switch opts.Action {
	case "set", "unset":
		repo, err := opts.Repo(ctx)
		if err != nil && opts.Scope != "global" {
			return err
		}
		return workspace.SetConfig(ctx, &git.Runner{Log: opts.IO.GitLog()}, repo, opts.Key, opts.Value, opts.Scope, opts.Action == "unset")
	}
	cfg, err := opts.Config(ctx)
	if err != nil {
		return err
	}
	if opts.Action == "get" {
		k, ok := config.Lookup(opts.Key)
		if !ok {
			return &workspace.UsageError{Err: fmt.Errorf("unknown setting %q (see \"git loop config --show-origin\")", opts.Key)}
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, config.Value{Key: k.Name, Value: cfg.Get(k.Name), Origin: cfg.Origin(k.Name).String()})
		}
		if opts.ShowOrigin {
			fmt.Fprintf(opts.IO.Out, "%s\t%s\n", cfg.Origin(k.Name), cfg.Get(k.Name))
			return nil
		}
		fmt.Fprintln(opts.IO.Out, cfg.Get(k.Name))
		return nil
	}
	all := cfg.All()
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, all)
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	for _, v := range all {
		if opts.ShowOrigin {
			fmt.Fprintf(tw, "%s\t%s=%s\n", v.Origin, v.Key, v.Value)
		} else {
			fmt.Fprintf(tw, "%s=%s\n", v.Key, v.Value)
		}
	}
	return tw.Flush()
}
