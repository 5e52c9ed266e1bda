package rm_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/rm"
)

func TestNewCmdRm(t *testing.T) {
	type O = rm.RmOptions
	cmdtest.TestArgs(t, rm.NewCmdRm, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "one", Args: []string{"x"}, Want: O{Names: []string{"x"}}},
		{Name: "several, forced, dry", Args: []string{"a", "b", "-f", "--dry-run"}, Want: O{Names: []string{"a", "b"}, Force: true, DryRun: true}},
		{Name: "force long", Args: []string{"--force", "x"}, Want: O{Names: []string{"x"}, Force: true}},
		{Name: "none", WantErr: "rm needs at least one loop NAME"},
		{Name: "none, forced", Args: []string{"-f"}, WantErr: "rm needs at least one loop NAME"},
	})
}
