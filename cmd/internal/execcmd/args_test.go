package execcmd_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/execcmd"
)

func TestNewCmdExec(t *testing.T) {
	type O = execcmd.ExecOptions
	cmdtest.TestArgs(t, execcmd.NewCmdExec, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "command after --", Args: []string{"x", "--", "make", "test"}, Want: O{Name: "x", Cmd: []string{"make", "test"}}},
		{Name: "command without --", Args: []string{"x", "ls", "-la"}, Want: O{Name: "x", Cmd: []string{"ls", "-la"}}},
		{Name: "command flags are its own", Args: []string{"x", "--", "sh", "-t", "--no-tty"}, Want: O{Name: "x", Cmd: []string{"sh", "-t", "--no-tty"}}},
		{Name: "tty", Args: []string{"-t", "x", "--", "sh"}, Want: O{Name: "x", Cmd: []string{"sh"}, TTY: true}},
		{Name: "no tty", Args: []string{"--no-tty", "x", "--", "sh"}, Want: O{Name: "x", Cmd: []string{"sh"}, NoTTY: true}},
		{Name: "no name", WantErr: "exec needs a loop NAME, then -- and a command"},
		{Name: "no name before --", Args: []string{"--", "sh"}, WantErr: "exec needs a loop NAME, then -- and a command"},
		{Name: "no command", Args: []string{"x"}, WantErr: "exec needs a command after the loop name: git loop exec x -- CMD"},
		{Name: "nothing after --", Args: []string{"x", "--"}, WantErr: "exec needs a command after the loop name: git loop exec x -- CMD"},
		{Name: "tty both ways", Args: []string{"-t", "-T", "x", "--", "sh"}, WantErr: "-t and -T cannot be used together"},
	})
}
