// Package workspacetest builds the Workspace the concern packages' tests
// run their operations on: a real repository, its own settings, and the
// none driver (the tests that need a sandbox engine run the e2e suites).
package workspacetest

import (
	"context"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/none"
)

// New is a Workspace on the repository at repo, with the settings its git
// config gives (and nothing from the environment), user dirs of its own
// under a temp dir, and the none driver for every loop.
func New(tb testing.TB, repo string) *workspace.Workspace {
	tb.Helper()
	ctx := context.Background()
	r, err := workspace.Discover(ctx, repo)
	if err != nil {
		tb.Fatal(err)
	}
	entries, err := workspace.GitConfigEntries(ctx, repo)
	if err != nil {
		tb.Fatal(err)
	}
	data := tb.TempDir()
	dirs := workspace.UserDirs{Config: data, Data: data}
	cfg, err := workspace.LoadConfig(ctx, r, workspace.ConfigInputs{Dirs: dirs, Env: func(string) (string, bool) { return "", false }, Git: entries})
	if err != nil {
		tb.Fatal(err)
	}
	return &workspace.Workspace{Repo: r, Config: cfg, Dirs: dirs, Git: &git.Runner{},
		Engine: func(context.Context, string) (sandbox.Engine, error) { return none.New(), nil }}
}
