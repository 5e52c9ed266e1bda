package uninstall_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/uninstall"
)

func TestNewCmdUninstall(t *testing.T) {
	type O = uninstall.UninstallOptions
	cmdtest.TestArgs(t, uninstall.NewCmdUninstall, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "ask", Want: O{Drivers: []string{"docker"}}},
		{Name: "every flag", Args: []string{"-y", "-f", "--json"}, Want: O{Drivers: []string{"docker"}, Yes: true, Force: true, JSON: true}},
		{Name: "long flags", Args: []string{"--yes", "--force"}, Want: O{Drivers: []string{"docker"}, Yes: true, Force: true}},
		{Name: "an argument", Args: []string{"x"}, WantErr: `unknown command "x"`},
	})
}
