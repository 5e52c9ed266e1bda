// Package cmdutil holds what every command shares: the lazy Factory,
// argument validators, --json output and completion functions.
package cmdutil

import (
	"context"
	"os"
	"sync"

	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Factory builds what commands need, lazily: "git loop -h" never runs git,
// and "git loop ls" never touches a sandbox engine it does not need.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Dir is the directory the command runs in (after -C).
	Dir string
	// LookupEnv reads the environment (tests substitute a map).
	LookupEnv func(string) (string, bool)
	// Engines resolves sandbox drivers.
	Engines *Engines

	flags  map[string]string
	flagOf map[string]string

	once    sync.Once
	repo    *workspace.Repo
	repoErr error
	cfg     *config.Config
	cfgErr  error
	cfgOnce sync.Once
}

// New returns a Factory for the real process.
func New() *Factory {
	wd, _ := os.Getwd()
	f := &Factory{IOStreams: iostreams.System(), Dir: wd, LookupEnv: os.LookupEnv}
	f.Engines = NewEngines(f)
	return f
}

// SetFlag records a setting given by a command-line flag; it overrides
// every other layer (config --show-origin names the flag).
func (f *Factory) SetFlag(key, flag, value string) {
	if f.flags == nil {
		f.flags, f.flagOf = map[string]string{}, map[string]string{}
	}
	f.flags[key], f.flagOf[key] = value, flag
}

// Repo finds the repository the command runs in.
func (f *Factory) Repo(ctx context.Context) (*workspace.Repo, error) {
	f.once.Do(func() { f.repo, f.repoErr = workspace.Discover(ctx, f.Dir) })
	return f.repo, f.repoErr
}

// Config resolves settings; outside a repository only the user layers
// apply.
func (f *Factory) Config(ctx context.Context) (*config.Config, error) {
	f.cfgOnce.Do(func() {
		// git config and repository discovery overlap: both are on the
		// path of every command.
		var entries []config.GitEntry
		var entriesErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			entries, entriesErr = workspace.GitConfigEntries(ctx, f.Dir)
		}()
		repo, err := f.Repo(ctx)
		if err != nil {
			repo = nil
		}
		<-done
		if entriesErr != nil {
			f.cfgErr = entriesErr
			return
		}
		getenv := func(k string) string { v, _ := f.LookupEnv(k); return v }
		f.cfg, f.cfgErr = workspace.LoadConfig(ctx, repo, workspace.ConfigInputs{
			Dirs: workspace.UserDirsFromEnv(getenv), Env: f.LookupEnv, Flags: f.flags, FlagOf: f.flagOf, Git: entries,
		})
		if f.cfgErr == nil {
			for _, w := range f.cfg.Warnings {
				f.IOStreams.Progress().Warn(w)
			}
		}
	})
	return f.cfg, f.cfgErr
}

// Workspace returns the repository's workspace, what every operation
// takes.
func (f *Factory) Workspace(ctx context.Context) (*workspace.Workspace, error) {
	repo, err := f.Repo(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := f.Config(ctx)
	if err != nil {
		return nil, err
	}
	getenv := func(k string) string { v, _ := f.LookupEnv(k); return v }
	return &workspace.Workspace{
		Repo:     repo,
		Dirs:     workspace.UserDirsFromEnv(getenv),
		Config:   cfg,
		Git:      &git.Runner{Log: f.IOStreams.GitLog()},
		Engine:   f.Engines.For,
		Progress: f.IOStreams.Progress(),
	}, nil
}
