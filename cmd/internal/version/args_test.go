package version_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/version"
)

func TestNewCmdVersion(t *testing.T) {
	type O = version.VersionOptions
	cmdtest.TestArgs(t, version.NewCmdVersion, func(o *O) { o.IO = nil }, []cmdtest.ArgsCase[O]{
		{Name: "plain", Want: O{}},
		{Name: "an argument", Args: []string{"x"}, WantErr: `unknown command "x"`},
		{Name: "a flag", Args: []string{"--short"}, WantErr: "unknown flag: --short"},
	})
}
