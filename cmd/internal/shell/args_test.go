package shell_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/shell"
)

func TestNewCmdShell(t *testing.T) {
	type O = shell.ShellOptions
	cmdtest.TestArgs(t, shell.NewCmdShell, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "named", Args: []string{"x"}, Want: O{Name: "x"}},
		{Name: "no name", WantErr: "needs exactly one loop NAME"},
		{Name: "a command", Args: []string{"x", "ls"}, WantErr: "needs exactly one loop NAME"},
	})
}
