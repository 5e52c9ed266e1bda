// Package doctor implements "git loop doctor".
package doctor

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/doctor"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// DoctorOptions are the inputs of "git loop doctor".
type DoctorOptions struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	Fix     bool
	JSON    bool
}

// NewCmdDoctor builds the command; runF replaces doctorRun in tests.
func NewCmdDoctor(f *cmdutil.Factory, runF func(context.Context, *DoctorOptions) error) *cobra.Command {
	opts := &DoctorOptions{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check git, the sandbox engine, the agent and loop state; --fix repairs",
		Long: `Check what git loop depends on: git's version, the settings, which sandbox
driver "auto" picks and why, the agent binary, and the state of this
repository's loops. With --fix, finish or undo operations a crash or kill
interrupted, and prune loops whose worktree or branch vanished.

Exits 1 when a check fails.`,
		Example: `  git loop doctor
  git loop doctor --fix`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return doctorRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Fix, "fix", false, "repair what can be repaired")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the checks as JSON")
	return cmd
}

func doctorRun(ctx context.Context, opts *DoctorOptions) error {
	f := opts.Factory
	ws, err := f.Workspace(ctx)
	if err != nil {
		// Outside a repository (or with bad settings) the tool checks
		// still help.
		ws = &workspace.Workspace{Git: &git.Runner{Log: opts.IO.GitLog()}, Progress: opts.IO.Progress()}
		var cfgErr error
		ws.Config, cfgErr = f.Config(ctx)
		if cfgErr != nil {
			ws.Config = nil
		}
		if _, rerr := f.Repo(ctx); rerr != nil {
			err = nil // not in a repo: report tools only
		}
	}
	checks := doctor.Doctor(ctx, ws, opts.Fix, func(ctx context.Context) doctor.Check {
		return f.Engines.Report(ctx, driverSetting(ws.Config), networkSetting(ws.Config), limitsSetting(ws.Config))
	})
	if err != nil {
		checks = append(checks, doctor.Check{Name: "config", Status: doctor.CheckFail, Detail: err.Error()})
	}
	failed := false
	for _, c := range checks {
		failed = failed || c.Status == doctor.CheckFail
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, checks); err != nil {
			return err
		}
	} else {
		cs := opts.IO.Colors()
		for _, c := range checks {
			mark := cs.Green("ok  ")
			switch c.Status {
			case doctor.CheckWarn:
				mark = cs.Yellow("warn")
			case doctor.CheckFail:
				mark = cs.Red("FAIL")
			}
			if c.Fixed {
				mark = cs.Green("fix ")
			}
			fmt.Fprintf(opts.IO.Out, "%s %-8s %s\n", mark, c.Name, c.Detail)
		}
	}
	if failed {
		return cmdutil.SilentError{}
	}
	return nil
}

func networkSetting(cfg *config.Config) sandbox.Network {
	if cfg == nil {
		return sandbox.NetworkIsolated
	}
	return sandbox.Network(cfg.SandboxNetwork())
}

func limitsSetting(cfg *config.Config) sandbox.Limits {
	var l sandbox.Limits
	if cfg != nil {
		l.Pids, l.Memory, l.NanoCPUs = cfg.SandboxLimits()
	}
	return l
}

func driverSetting(cfg *config.Config) string {
	if cfg == nil {
		return "auto"
	}
	return cfg.SandboxDriver()
}
