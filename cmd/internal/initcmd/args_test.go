package initcmd_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/initcmd"
	"github.com/gitloop-dev/git-loop/gitloop"
)

func TestNewCmdInit(t *testing.T) {
	type O = initcmd.InitOptions
	cmdtest.TestArgs(t, initcmd.NewCmdInit, func(o *O) { o.IO, o.Service = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "solo", Want: O{URLs: map[gitloop.Layer]string{}}},
		{Name: "every flag", Args: []string{"--knowledge", "git@h:k.git", "--notes", "git@h:n.git", "--personal", "git@h:p.git", "--no-hooks", "--json"},
			Want: O{URLs: map[gitloop.Layer]string{gitloop.Knowledge: "git@h:k.git", gitloop.Notes: "git@h:n.git", gitloop.Personal: "git@h:p.git"}, NoHooks: true, JSON: true}},
		{Name: "one remote", Args: []string{"--notes", "git@h:n.git"}, Want: O{URLs: map[gitloop.Layer]string{gitloop.Notes: "git@h:n.git"}}},
		{Name: "an argument", Args: []string{"x"}, WantErr: `unknown command "x"`},
	})
}
