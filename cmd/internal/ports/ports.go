// Package ports implements "git loop ports".
package ports

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/kube"
)

// PortsOptions are the inputs of "git loop ports".
type PortsOptions struct {
	IO        *iostreams.IOStreams
	Workspace func(context.Context) (*workspace.Workspace, error)
	Name      string
}

// NewCmdPorts builds the command; runF replaces portsRun in tests.
func NewCmdPorts(f *cmdutil.Factory, runF func(context.Context, *PortsOptions) error) *cobra.Command {
	opts := &PortsOptions{IO: f.IOStreams, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "ports NAME",
		Short: "Reach a loop's declared ports on this machine's loopback",
		Long: `Reach the ports a loop declares (setting ports: "3000" or "HOST:CONTAINER") on
127.0.0.1 of this machine, and print where each one is.

On docker the engine publishes them when it makes the sandbox: this prints
them and returns. On kubernetes nothing publishes a pod's port: this forwards
each one through the API server (as kubectl port-forward does) until it is
interrupted (Ctrl-C). A HOST of 0 takes a free port.`,
		Example:           `  git loop ports web-ui`,
		Args:              cmdutil.ExactLoopName,
		ValidArgsFunction: cmdutil.CompleteLoopNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return portsRun(cmd.Context(), opts)
		},
	}
	return cmd
}

// Forwarder is a driver that forwards a sandbox's ports itself, for as
// long as the call runs (kubernetes).
type Forwarder interface {
	PortForward(ctx context.Context, spec sandbox.Spec, ports []sandbox.Port, ready chan<- []sandbox.Port, errOut io.Writer) error
}

func portsRun(ctx context.Context, opts *PortsOptions) error {
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	m, err := ws.Get(opts.Name)
	if err != nil {
		return err
	}
	spec, err := sandboxspec.Spec(ws, m)
	if err != nil {
		return err
	}
	if len(spec.Ports) == 0 {
		return fmt.Errorf("ports %s: the loop declares no ports (setting ports, \"3000\" or \"HOST:CONTAINER\", recorded when a loop is made)", m.Name)
	}
	eng, err := ws.OpenEngine(ctx, m.Sandbox.Driver)
	if err != nil {
		return err
	}
	return Forward(ctx, eng, spec, opts.IO.Out, opts.IO.ErrOut)
}

// Forward prints where each of spec's ports is reached on this machine:
// a Forwarder's forwards, kept until ctx ends; another driver's
// published ports, as its sandbox reports them.
func Forward(ctx context.Context, eng sandbox.Engine, spec sandbox.Spec, out, errOut io.Writer) error {
	fw, ok := eng.(Forwarder)
	if !ok {
		st, err := eng.Status(ctx, spec)
		if errors.Is(err, sandbox.ErrNotFound) || err == nil && st.State != sandbox.StateRunning {
			return fmt.Errorf("ports %s: its sandbox is not running (git loop start %s)", spec.Loop, spec.Loop)
		}
		if err != nil {
			return fmt.Errorf("ports %s: %w", spec.Loop, err)
		}
		if len(st.Ports) == 0 {
			return fmt.Errorf("ports %s: the %s sandbox publishes none of them (it was made before they were declared: git loop stop %s, then start)", spec.Loop, eng.Name(), spec.Loop)
		}
		printPorts(out, st.Ports)
		return nil
	}
	ready := make(chan []sandbox.Port, 1)
	done := make(chan error, 1)
	go func() { done <- fw.PortForward(ctx, spec, spec.Ports, ready, errOut) }()
	select {
	case bound := <-ready:
		printPorts(out, bound)
		fmt.Fprintf(errOut, "forwarding through the %s API until interrupted (Ctrl-C)\n", eng.Name())
	case err := <-done:
		return fmt.Errorf("ports %s: %w", spec.Loop, err)
	}
	if err := <-done; err != nil {
		return fmt.Errorf("ports %s: %w", spec.Loop, err)
	}
	return nil
}

func printPorts(out io.Writer, ports []sandbox.Port) {
	for _, p := range ports {
		fmt.Fprintf(out, "127.0.0.1:%d -> %d\n", p.Host, p.Container)
	}
}

// Keep forwards a loop's declared ports in the background while a
// command that uses them runs (attach): on a Forwarder only, for a loop
// that declares ports; anything else is a no-op. Where the ports are is
// said on errOut, as is a forward that fails: the command goes on
// without it. stop ends the forwards.
func Keep(ctx context.Context, ws *workspace.Workspace, name string, errOut io.Writer) (stop func()) {
	m, err := ws.Get(name)
	// Only a cluster's ports need a forward: docker publishes its own,
	// and opening another engine would slow every attach.
	if err != nil || len(m.Sandbox.Ports) == 0 || m.Sandbox.Driver != kube.Name {
		return func() {}
	}
	spec, err := sandboxspec.Spec(ws, m)
	if err != nil {
		return func() {}
	}
	eng, err := ws.OpenEngine(ctx, m.Sandbox.Driver)
	if err != nil {
		return func() {}
	}
	return KeepEngine(ctx, eng, spec, errOut)
}

// KeepEngine is Keep for an engine and spec at hand.
func KeepEngine(ctx context.Context, eng sandbox.Engine, spec sandbox.Spec, errOut io.Writer) (stop func()) {
	fw, ok := eng.(Forwarder)
	if !ok || len(spec.Ports) == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan []sandbox.Port, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fw.PortForward(ctx, spec, spec.Ports, ready, errOut); err != nil && ctx.Err() == nil {
			fmt.Fprintf(errOut, "warning: ports of loop %s not forwarded: %v\n", spec.Loop, err)
		}
	}()
	go func() {
		select {
		case bound := <-ready:
			for _, p := range bound {
				fmt.Fprintf(errOut, "loop %s: port %d on 127.0.0.1:%d while this runs\n", spec.Loop, p.Container, p.Host)
			}
		case <-done:
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
