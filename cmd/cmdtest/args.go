package cmdtest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// ArgsDir is the directory the commands of an argument table run in.
const ArgsDir = "/nonexistent/repo"

// ArgsCase is one row of a command's flag and argument table.
type ArgsCase[O any] struct {
	Name  string
	Args  []string
	Stdin string
	// Want are the options the command's run gets, with the fields the
	// table's clear function zeroes left zero.
	Want O
	// WantErr, when set, is part of the usage error (exit code 2) the
	// command must refuse Args with, before it runs.
	WantErr string
}

// TestArgs runs each case through the command newCmd builds, with a runF
// that captures the options instead of running, the way gh tests its
// commands' flags. clear zeroes what does not come from the arguments
// (streams, constructors, clocks) before the options are compared.
func TestArgs[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command, clear func(*O), cases []ArgsCase[O]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			f, _, _ := NewFactory(ArgsDir, Options{Stdin: c.Stdin})
			var got *O
			cmd := newCmd(f, func(_ context.Context, o *O) error { got = o; return nil })
			err := Parse(cmd, c.Args...)
			if c.WantErr != "" {
				switch {
				case err == nil:
					t.Fatalf("%q: no error, options %+v", c.Args, got)
				case !IsUsage(err):
					t.Errorf("%q: %v is not a usage error", c.Args, err)
				case !strings.Contains(err.Error(), c.WantErr):
					t.Errorf("%q: error %q, want it to contain %q", c.Args, err, c.WantErr)
				}
				if got != nil {
					t.Errorf("%q: ran despite the error", c.Args)
				}
				return
			}
			if err != nil {
				t.Fatalf("%q: %v", c.Args, err)
			}
			if got == nil {
				t.Fatalf("%q: did not run", c.Args)
			}
			if clear != nil {
				clear(got)
			}
			if !reflect.DeepEqual(*got, c.Want) {
				t.Errorf("%q:\n got %+v\nwant %+v", c.Args, *got, c.Want)
			}
		})
	}
}

// Parse runs cmd on args as the root command would run it: errors
// silenced, flag errors turned into usage errors, output to the
// factory's streams.
func Parse(cmd *cobra.Command, args ...string) error {
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	return cmd.ExecuteContext(context.Background())
}

// IsUsage reports whether git loop's root maps err to the usage exit code
// (2): a FlagError, a UsageError, or one of cobra's own argument errors.
// It mirrors root's handleError, which root's own tests pin through exit
// codes.
func IsUsage(err error) bool {
	var flagErr *cmdutil.FlagError
	var usageErr *workspace.UsageError
	if errors.As(err, &flagErr) || errors.As(err, &usageErr) {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
