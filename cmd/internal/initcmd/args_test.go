package initcmd_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/initcmd"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

func TestNewCmdInit(t *testing.T) {
	type O = initcmd.InitOptions
	cmdtest.TestArgs(t, initcmd.NewCmdInit, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "solo", Want: O{URLs: map[workspace.Layer]string{}}},
		{Name: "every flag", Args: []string{"--knowledge", "git@h:k.git", "--notes", "git@h:n.git", "--personal", "git@h:p.git", "--no-hooks", "--json"},
			Want: O{URLs: map[workspace.Layer]string{workspace.Knowledge: "git@h:k.git", workspace.Notes: "git@h:n.git", workspace.Personal: "git@h:p.git"}, NoHooks: true, JSON: true}},
		{Name: "one remote", Args: []string{"--notes", "git@h:n.git"}, Want: O{URLs: map[workspace.Layer]string{workspace.Notes: "git@h:n.git"}}},
		{Name: "an argument", Args: []string{"x"}, WantErr: `unknown command "x"`},
	})
}
