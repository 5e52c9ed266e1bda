package configcmd_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/configcmd"
)

func TestNewCmdConfig(t *testing.T) {
	type O = configcmd.ConfigOptions
	cmdtest.TestArgs(t, configcmd.NewCmdConfig, func(o *O) { o.IO, o.Config, o.Repo = nil, nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "list", Want: O{Action: "list", Scope: "local"}},
		{Name: "list explicitly", Args: []string{"list", "--show-origin", "--json"}, Want: O{Action: "list", Scope: "local", ShowOrigin: true, JSON: true}},
		{Name: "get", Args: []string{"get", "sandbox.driver"}, Want: O{Action: "get", Key: "sandbox.driver", Scope: "local"}},
		{Name: "set global", Args: []string{"set", "agent", "codex", "--global"}, Want: O{Action: "set", Key: "agent", Value: "codex", Scope: "global"}},
		{Name: "unset worktree", Args: []string{"unset", "agent", "--worktree"}, Want: O{Action: "unset", Key: "agent", Scope: "worktree"}},
		{Name: "get without a key", Args: []string{"get"}, WantErr: "usage: git loop config get KEY"},
		{Name: "set without a value", Args: []string{"set", "agent"}, WantErr: "usage: git loop config set KEY VALUE"},
		{Name: "list with a key", Args: []string{"list", "agent"}, WantErr: "usage: git loop config list"},
		{Name: "unknown action", Args: []string{"add", "agent"}, WantErr: `unknown config action "add": use get, set, unset or list`},
		{Name: "global and worktree", Args: []string{"set", "a", "b", "--global", "--worktree"}, WantErr: "--global and --worktree cannot be used together"},
	})
}
