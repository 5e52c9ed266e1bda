// Package version implements "git loop version".
package version

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
)

// Version is set at build time with -ldflags "-X …/version.Version=v1.2.3".
var Version = ""

// String is the version line.
func String() string {
	v := Version
	if v == "" {
		v = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return fmt.Sprintf("git loop version %s (%s, %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// VersionOptions are the inputs of "git loop version".
type VersionOptions struct {
	IO *iostreams.IOStreams
}

// NewCmdVersion builds the command; runF replaces versionRun in tests.
func NewCmdVersion(f *cmdutil.Factory, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of git loop",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return versionRun(opts)
		},
	}
}

func versionRun(opts *VersionOptions) error {
	_, err := fmt.Fprintln(opts.IO.Out, String())
	return err
}
