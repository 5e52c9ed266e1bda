package prune_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/prune"
)

func TestNewCmdPrune(t *testing.T) {
	type O = prune.PruneOptions
	cmdtest.TestArgs(t, prune.NewCmdPrune, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "plain", Want: O{}},
		{Name: "dry run, json", Args: []string{"--dry-run", "--json"}, Want: O{DryRun: true, JSON: true}},
		{Name: "a name", Args: []string{"x"}, WantErr: `unknown command "x"`},
	})
}
