package kube

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// PortForward forwards each port's Host port on 127.0.0.1 (0: one the
// system picks) to its Container port in the loop's pod, until ctx ends,
// as kubectl port-forward does: SPDY tunnelled over WebSocket, else SPDY.
// ready, when not nil, receives the ports as bound once they listen.
// Loopback only: a loop's dev server is for this machine, not the LAN.
func (e *Engine) PortForward(ctx context.Context, spec sandbox.Spec, ports []sandbox.Port, ready chan<- []sandbox.Port, errOut io.Writer) error {
	if len(ports) == 0 {
		return nil
	}
	if _, err := e.Ensure(ctx, spec); err != nil {
		return err
	}
	name := objectName(spec)
	u := e.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(e.ns).Name(name).SubResource("portforward").URL()
	rt, upgrader, err := spdy.RoundTripperFor(e.cfg)
	if err != nil {
		return fmt.Errorf("kubernetes port-forward: %w", err)
	}
	dialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, e.cfg)
	if err != nil {
		return fmt.Errorf("kubernetes port-forward: %w", err)
	}
	dialer = portforward.NewFallbackDialerForStreaming(tunnel, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	specs := make([]string, len(ports))
	for i, p := range ports {
		if p.Container <= 0 || p.Container > 65535 || p.Host < 0 || p.Host > 65535 {
			return fmt.Errorf("kubernetes port-forward: invalid port mapping %d:%d", p.Host, p.Container)
		}
		specs[i] = strconv.Itoa(p.Host) + ":" + strconv.Itoa(p.Container)
		if p.Host == 0 {
			specs[i] = ":" + strconv.Itoa(p.Container)
		}
	}
	if errOut == nil {
		errOut = io.Discard
	}
	// client-go's forwarder ends at the first connection the pod refuses
	// (a browser or a test tool trying before the loop's server listens,
	// seen on a real cluster): the forward is then made again on the
	// same host ports, so it lasts as long as the caller wants it. One that
	// does not come up again is an error.
	first := true
	for {
		up := make(chan struct{})
		fw, err := portforward.NewOnAddressesForStreamingWithContext(ctx, dialer, []string{"127.0.0.1"}, specs, up, io.Discard, errOut)
		if err != nil {
			return fmt.Errorf("kubernetes port-forward: %w", err)
		}
		done := make(chan error, 1)
		go func() { done <- fw.ForwardPorts() }()
		select {
		case <-up:
			bound, _ := fw.GetPorts()
			for i, b := range bound {
				specs[i] = strconv.Itoa(int(b.Local)) + ":" + strconv.Itoa(int(b.Remote))
			}
			if first && ready != nil {
				out := make([]sandbox.Port, len(bound))
				for i, b := range bound {
					out[i] = sandbox.Port{Host: int(b.Local), Container: int(b.Remote)}
				}
				ready <- out
			}
			first = false
		case err := <-done:
			return e.wrap("port-forward to pod "+name, err)
		}
		err = <-done
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond): // a forward that came up: no backoff needed
		}
	}
}
