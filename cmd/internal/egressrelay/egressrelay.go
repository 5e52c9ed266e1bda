// Package egressrelay implements "git loop relay", which runs
// inside a loop's sandbox: the agent's door to the host's egress proxy.
package egressrelay

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/gitloop/agent"
	"github.com/gitloop-dev/git-loop/gitloop/egress"
)

// RelayOptions are the inputs of "git loop relay".
type RelayOptions struct {
	Listen string
	Socket string
	// Client and At: a client run by hand (egress.RelayHand); the socket
	// and the placeholder's variables then come from the exec's env.
	Client string
	At     int
	// Stdio: a remote loop's relay (egress.RelayStream), which reaches
	// the host over its own stdin and stdout and runs no command.
	Stdio  bool
	Cmd    []string
	Stderr io.Writer
}

// NewCmdEgressRelay builds the command; runF replaces relayRun in tests.
func NewCmdEgressRelay(f *cmdutil.Factory, runF func(context.Context, *RelayOptions) error) *cobra.Command {
	opts := &RelayOptions{Stderr: f.IOStreams.ErrOut}
	cmd := &cobra.Command{
		Use:    "relay (--listen ADDR --socket PATH | --client claude|codex --at N) -- CMD [ARGS...] | relay --stdio",
		Short:  "Run CMD with the host's egress proxy reachable on the sandbox's loopback",
		Hidden: true, // git loop runs it in the sandbox, around the agent
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.Stdio {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.MinimumNArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Stdio && (opts.Client != "" || opts.Listen != "" || opts.Socket != "") {
				return cmdutil.FlagErrorf("--stdio takes no other flag")
			}
			if !opts.Stdio && opts.Client == "" && (opts.Listen == "" || opts.Socket == "") {
				return cmdutil.FlagErrorf("relay needs --listen and --socket, or --client")
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
	cmd.Flags().StringVar(&opts.Client, "client", "", "the client run by hand (claude, codex): a free port, and the socket in $"+agent.HandEgressEnv)
	cmd.Flags().BoolVar(&opts.Stdio, "stdio", false, "a remote loop's relay: reach the host's proxy over stdin and stdout")
	cmd.Flags().IntVar(&opts.At, "at", 1, "with --client: where the program's words end in CMD")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func relayRun(opts *RelayOptions) error {
	var code int
	var err error
	if opts.Stdio {
		return egress.RelayStream(egress.Stdio())
	}
	if opts.Client != "" {
		socket := opts.Socket
		if socket == "" {
			socket = os.Getenv(agent.HandEgressEnv)
		}
		code, err = egress.RelayHand(opts.Client, opts.At, socket, strings.Split(os.Getenv(agent.HandEgressCredEnv), ","), opts.Cmd)
	} else {
		code, err = egress.Relay(opts.Listen, opts.Socket, opts.Cmd)
	}
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
