package ls_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/ls"
)

func TestNewCmdLs(t *testing.T) {
	type O = ls.LsOptions
	cmdtest.TestArgs(t, ls.NewCmdLs, func(o *O) { o.IO, o.Workspace, o.Now = nil, nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "plain", Want: O{}},
		{Name: "json", Args: []string{"--json"}, Want: O{JSON: true}},
		{Name: "an argument", Args: []string{"x"}, WantErr: `unknown command "x"`},
	})
}
