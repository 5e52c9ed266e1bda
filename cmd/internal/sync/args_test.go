package sync_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/sync"
)

func TestNewCmdSync(t *testing.T) {
	type O = sync.SyncOptions
	cmdtest.TestArgs(t, sync.NewCmdSync, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "the context clones", Want: O{}},
		{Name: "a loop", Args: []string{"x"}, Want: O{Name: "x"}},
		{Name: "dry run, json", Args: []string{"--dry-run", "--json"}, Want: O{DryRun: true, JSON: true}},
		{Name: "continue", Args: []string{"--continue", "x"}, Want: O{Name: "x", Continue: true}},
		{Name: "abort", Args: []string{"x", "--abort"}, Want: O{Name: "x", Abort: true}},
		{Name: "continue without a name", Args: []string{"--continue"}, WantErr: "--continue and --abort need the loop's NAME"},
		{Name: "continue and abort", Args: []string{"--continue", "--abort", "x"}, WantErr: "--continue and --abort cannot be used together"},
		{Name: "two names", Args: []string{"a", "b"}, WantErr: "accepts at most 1 arg(s)"},
	})
}
