package composecmd_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/composecmd"
)

func TestNewCmdCompose(t *testing.T) {
	type O = composecmd.ComposeOptions
	cmdtest.TestArgs(t, composecmd.NewCmdCompose, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "named", Args: []string{"x"}, Want: O{Name: "x"}},
		{Name: "print json", Args: []string{"x", "--print", "--json"}, Want: O{Name: "x", JSON: true}},
		{Name: "no name", Args: []string{"--print"}, WantErr: "needs exactly one loop NAME"},
	})
}
