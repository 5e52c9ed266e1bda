package image_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/image"
)

func TestNewCmdImage(t *testing.T) {
	type O = image.BuildOptions
	cmdtest.TestArgs(t, image.NewCmdImage, func(o *O) { o.IO, o.Factory = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "build", Args: []string{"build"}, Want: O{}},
		{Name: "every flag", Args: []string{"build", "-t", "team/sandbox:1", "--dir", "./sandbox", "--build-arg", "BASE=debian:trixie-slim", "--build-arg", "PACKAGES=git make", "--no-cache"},
			Want: O{Tag: "team/sandbox:1", Dir: "./sandbox", BuildArgs: []string{"BASE=debian:trixie-slim", "PACKAGES=git make"}, NoCache: true}},
		{Name: "build arg without a value", Args: []string{"build", "--build-arg", "BASE"}, WantErr: `--build-arg "BASE": want KEY=VALUE`},
		{Name: "an argument", Args: []string{"build", "x"}, WantErr: `unknown command "x"`},
	})
}
