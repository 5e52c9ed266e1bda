package status_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/status"
)

func TestNewCmdStatus(t *testing.T) {
	type O = status.StatusOptions
	cmdtest.TestArgs(t, status.NewCmdStatus, func(o *O) { o.IO, o.Workspace, o.Now = nil, nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "the loop you are in", Want: O{Dir: cmdtest.ArgsDir}},
		{Name: "named", Args: []string{"x"}, Want: O{Dir: cmdtest.ArgsDir, Name: "x"}},
		{Name: "json", Args: []string{"--json", "x"}, Want: O{Dir: cmdtest.ArgsDir, Name: "x", JSON: true}},
		{Name: "two names", Args: []string{"a", "b"}, WantErr: "accepts at most 1 arg(s)"},
	})
}
