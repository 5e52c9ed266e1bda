// Package egressrelay implements "git loop relay", which runs
// inside a loop's sandbox: the agent's door to the host's egress proxy.
package egressrelay

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/gitloop/egress"
)

// RelayOptions are the inputs of "git loop relay".
type RelayOptions struct {
	Listen string
	Socket string
	Cmd    []string
	Stderr io.Writer
}

// NewCmdEgressRelay builds the command; runF replaces relayRun in tests.
func NewCmdEgressRelay(f *cmdutil.Factory, runF func(context.Context, *RelayOptions) error) *cobra.Command {
	opts := &RelayOptions{Stderr: f.IOStreams.ErrOut}
	cmd := &cobra.Command{
		Use:    "relay --listen ADDR --socket PATH -- CMD [ARGS...]",
		Short:  "Run CMD with the host's egress proxy reachable on the sandbox's loopback",
		Hidden: true, // git loop runs it in the sandbox, around the agent
		Args:   cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Listen == "" || opts.Socket == "" {
				return cmdutil.FlagErrorf("relay needs --listen and --socket")
			}
			opts.Cmd = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return relayRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", "", "loopback address to listen on")
	cmd.Flags().StringVar(&opts.Socket, "socket", "", "the proxy's unix socket")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func relayRun(opts *RelayOptions) error {
	code, err := egress.Relay(opts.Listen, opts.Socket, opts.Cmd)
	if err != nil && code != 0 {
		// 127 when the agent is not there: the caller's "missing agent".
		fmt.Fprintln(opts.Stderr, err)
		return &cmdutil.ExitCodeError{Code: code}
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &cmdutil.ExitCodeError{Code: code}
	}
	return nil
}
