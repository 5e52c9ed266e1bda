package hookscmd_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/hookscmd"
	"github.com/gitloop-dev/git-loop/gitloop/githooks"
)

func TestNewCmdHooks(t *testing.T) {
	type O = hookscmd.HooksOptions
	cmdtest.TestArgs(t, hookscmd.NewCmdHooks, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "install", Args: []string{"install"}, Want: O{Action: "install", Scope: githooks.HooksAll}},
		{Name: "install repo", Args: []string{"install", "--repo"}, Want: O{Action: "install", Scope: githooks.HooksRepo}},
		{Name: "uninstall context json", Args: []string{"uninstall", "--context", "--json"}, Want: O{Action: "uninstall", Scope: githooks.HooksContext, JSON: true}},
		{Name: "status all", Args: []string{"status", "--all"}, Want: O{Action: "status", Scope: githooks.HooksAll}},
		{Name: "repo and context", Args: []string{"install", "--repo", "--context"}, WantErr: "--repo, --context and --all cannot be combined"},
		{Name: "all and repo", Args: []string{"status", "--all", "--repo"}, WantErr: "--repo, --context and --all cannot be combined"},
		{Name: "an argument", Args: []string{"install", "x"}, WantErr: `unknown command "x"`},
	})
}

func TestNewCmdHook(t *testing.T) {
	type O = hookscmd.HookOptions
	cmdtest.TestArgs(t, hookscmd.NewCmdHook, nil, []cmdtest.ArgsCase[O]{
		{Name: "post-checkout", Args: []string{"post-checkout", "0000", "abcd", "1"}, Want: O{Event: "post-checkout", Args: []string{"0000", "abcd", "1"}}},
		{Name: "flags are git's", Args: []string{"pre-push", "origin", "--help", "-q"}, Want: O{Event: "pre-push", Args: []string{"origin", "--help", "-q"}}},
		{Name: "no arguments", Args: []string{"post-merge"}, Want: O{Event: "post-merge", Args: []string{}}},
		{Name: "no event", WantErr: "requires at least 1 arg(s)"},
	})
}
