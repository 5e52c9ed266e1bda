package path_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/path"
)

func TestNewCmdPath(t *testing.T) {
	type O = path.PathOptions
	cmdtest.TestArgs(t, path.NewCmdPath, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "named", Args: []string{"x"}, Want: O{Name: "x"}},
		{Name: "no name", WantErr: "needs exactly one loop NAME"},
		{Name: "two names", Args: []string{"a", "b"}, WantErr: "needs exactly one loop NAME"},
	})
}
