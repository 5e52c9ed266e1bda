package diff_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/diff"
)

func TestNewCmdDiff(t *testing.T) {
	type O = diff.DiffOptions
	cmdtest.TestArgs(t, diff.NewCmdDiff, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "named", Args: []string{"x"}, Want: O{Name: "x", Args: []string{}}},
		{Name: "git diff arguments", Args: []string{"x", "--", "--stat", "src/"}, Want: O{Name: "x", Args: []string{"--stat", "src/"}}},
		{Name: "no name", WantErr: "diff needs a loop NAME"},
		{Name: "only git diff arguments", Args: []string{"--", "--stat"}, WantErr: "diff needs a loop NAME"},
		{Name: "two names", Args: []string{"a", "b"}, WantErr: "diff takes one loop NAME"},
		{Name: "two names before --", Args: []string{"a", "b", "--", "--stat"}, WantErr: "diff takes one loop NAME"},
	})
}
