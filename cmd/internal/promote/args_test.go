package promote_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/promote"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

func TestNewCmdPromote(t *testing.T) {
	type O = promote.PromoteOptions
	cmdtest.TestArgs(t, promote.NewCmdPromote, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "the loop you are in", Want: O{Dir: cmdtest.ArgsDir}},
		{Name: "named", Args: []string{"x"}, Want: O{Dir: cmdtest.ArgsDir, Name: "x"}},
		{Name: "layers, commit all", Args: []string{"x", "--layer", "notes,knowledge", "--layer", "notes", "-a", "-m", "notes from x"},
			Want: O{Dir: cmdtest.ArgsDir, Name: "x", Layers: []workspace.Layer{workspace.Notes, workspace.Knowledge}, CommitAll: true, Message: "notes from x"}},
		{Name: "all layers", Args: []string{"x", "--layer", "all"}, Want: O{Dir: cmdtest.ArgsDir, Name: "x"}},
		{Name: "dry run, json", Args: []string{"x", "--dry-run", "--json"}, Want: O{Dir: cmdtest.ArgsDir, Name: "x", DryRun: true, JSON: true}},
		{Name: "continue", Args: []string{"--continue", "x"}, Want: O{Dir: cmdtest.ArgsDir, Name: "x", Continue: true}},
		{Name: "abort", Args: []string{"--abort"}, Want: O{Dir: cmdtest.ArgsDir, Abort: true}},
		{Name: "continue and abort", Args: []string{"--continue", "--abort", "x"}, WantErr: "--continue and --abort cannot be used together"},
		{Name: "continue with a layer", Args: []string{"--continue", "--layer", "code"}, WantErr: "--continue and --abort take no --layer or --commit-all"},
		{Name: "abort with commit all", Args: []string{"--abort", "-a", "-m", "m"}, WantErr: "--continue and --abort take no --layer or --commit-all"},
		{Name: "commit all without a message", Args: []string{"x", "-a"}, WantErr: "--commit-all needs a message: -m MSG"},
		{Name: "message without commit all", Args: []string{"x", "-m", "m"}, WantErr: "-m is the message of --commit-all (-a)"},
		{Name: "unknown layer", Args: []string{"x", "--layer", "docs"}, WantErr: `--layer "docs": not code, knowledge, notes, personal or all`},
		{Name: "two names", Args: []string{"a", "b"}, WantErr: "accepts at most 1 arg(s)"},
	})
}
