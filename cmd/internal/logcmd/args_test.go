package logcmd_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/logcmd"
)

func TestNewCmdLog(t *testing.T) {
	type O = logcmd.LogOptions
	cmdtest.TestArgs(t, logcmd.NewCmdLog, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "named", Args: []string{"x"}, Want: O{Name: "x"}},
		{Name: "every flag", Args: []string{"x", "-n", "20", "--all", "--json"}, Want: O{Name: "x", Limit: 20, All: true, JSON: true}},
		{Name: "lines long", Args: []string{"x", "--lines", "0"}, Want: O{Name: "x"}},
		{Name: "negative lines", Args: []string{"x", "-n", "-1"}, WantErr: "-n must be at least 0"},
		{Name: "lines not a number", Args: []string{"x", "-n", "many"}, WantErr: `invalid argument "many"`},
		{Name: "no name", WantErr: "needs exactly one loop NAME"},
	})
}
