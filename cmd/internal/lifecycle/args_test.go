package lifecycle_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/lifecycle"
)

func TestNewCmdStop(t *testing.T) {
	type O = lifecycle.Options
	cmdtest.TestArgs(t, lifecycle.NewCmdStop, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "one", Args: []string{"x"}, Want: O{Names: []string{"x"}}},
		{Name: "several", Args: []string{"a", "b"}, Want: O{Names: []string{"a", "b"}}},
		{Name: "none", WantErr: "stop needs at least one loop NAME"},
		{Name: "a flag", Args: []string{"x", "--all"}, WantErr: "unknown flag: --all"},
	})
}

func TestNewCmdStart(t *testing.T) {
	type O = lifecycle.Options
	cmdtest.TestArgs(t, lifecycle.NewCmdStart, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "one", Args: []string{"x"}, Want: O{Names: []string{"x"}, Start: true}},
		{Name: "several", Args: []string{"a", "b"}, Want: O{Names: []string{"a", "b"}, Start: true}},
		{Name: "none", WantErr: "start needs at least one loop NAME"},
	})
}
