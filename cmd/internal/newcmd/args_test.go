package newcmd_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/newcmd"
)

func TestNewCmdNew(t *testing.T) {
	type O = newcmd.NewOptions
	cmdtest.TestArgs(t, newcmd.NewCmdNew, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "name", Args: []string{"x"}, Want: O{Name: "x"}},
		{Name: "every flag", Args: []string{"x", "--base", "origin/main", "--driver", "none", "--context", "cached", "-p", "go", "--profile", "web", "--repo", "api", "--repo", "docs", "--vault", "work", "-d", "--dry-run", "--json"},
			Want: O{Name: "x", Base: "origin/main", Driver: "none", Context: "cached", Profiles: []string{"go", "web"}, Repos: []string{"api", "docs"}, Vault: "work", Detach: true, DryRun: true, JSON: true}},
		{Name: "message", Args: []string{"x", "-m", "make the test pass"}, Want: O{Name: "x", Message: "make the test pass"}},
		{Name: "detach long", Args: []string{"--detach", "x"}, Want: O{Name: "x", Detach: true}},
		{Name: "no name", Args: nil, WantErr: "needs exactly one loop NAME"},
		{Name: "two names", Args: []string{"a", "b"}, WantErr: "needs exactly one loop NAME"},
		{Name: "empty message", Args: []string{"x", "-m", " "}, WantErr: "-m needs a non-empty PROMPT"},
		{Name: "message and json", Args: []string{"x", "-m", "go", "--json"}, WantErr: "-m and --json cannot be used together"},
		{Name: "unknown flag", Args: []string{"x", "--bogus"}, WantErr: "unknown flag: --bogus"},
	})
}
