package attach_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/attach"
)

func TestNewCmdAttach(t *testing.T) {
	type O = attach.AttachOptions
	cmdtest.TestArgs(t, attach.NewCmdAttach, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "named", Args: []string{"x"}, Want: O{Name: "x"}},
		{Name: "another agent, new session", Args: []string{"x", "--agent", "codex", "--new"}, Want: O{Name: "x", Agent: "codex", New: true}},
		{Name: "no name", WantErr: "needs exactly one loop NAME"},
		{Name: "a prompt", Args: []string{"x", "fix it"}, WantErr: "needs exactly one loop NAME"},
	})
}
