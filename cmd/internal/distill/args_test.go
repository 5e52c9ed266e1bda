package distill_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/distill"
)

func TestNewCmdDistill(t *testing.T) {
	type O = distill.DistillOptions
	cmdtest.TestArgs(t, distill.NewCmdDistill, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "source", Args: []string{"x"}, Want: O{Source: "x"}},
		{Name: "name and driver", Args: []string{"x", "--name", "d", "--driver", "none"}, Want: O{Source: "x", Name: "d", Driver: "none"}},
		{Name: "no source", WantErr: "needs exactly one loop NAME"},
		{Name: "two sources", Args: []string{"a", "b"}, WantErr: "needs exactly one loop NAME"},
	})
}
