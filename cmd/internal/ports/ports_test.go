package ports_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/ports"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/kube"
	"github.com/gitloop-dev/git-loop/sandbox/kube/kubetest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

func TestNewCmdPorts(t *testing.T) {
	type O = ports.PortsOptions
	cmdtest.TestArgs(t, ports.NewCmdPorts, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "named", Args: []string{"x"}, Want: O{Name: "x"}},
		{Name: "no name", WantErr: "needs exactly one loop NAME"},
	})
}

// syncBuffer is a buffer the forward's goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestForwardKubernetes: on the fake cluster, each declared port of the
// loop's pod is forwarded to 127.0.0.1 (a fixed host port and a free one),
// printed, reached, and kept until the context ends.
func TestForwardKubernetes(t *testing.T) {
	srv := kubetest.New(t)
	eng, err := kube.New(kube.Options{Kubeconfig: srv.Kubeconfig(t, "loops")})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	// The pod's servers: on the fake, a pod's network is the host's.
	var pod []int
	for i := 0; i < 2; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func(n int) {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "server %d: %s", n, line)
				c.Close()
			}
		}(i)
		pod = append(pod, ln.Addr().(*net.TCPAddr).Port)
	}
	fixed := freePort(t)
	spec := sandbox.Spec{Workspace: "tports", Loop: "web", Image: "debian:stable",
		Workdir: filepath.Join(root, "work"), Home: filepath.Join(root, "home"),
		Ports: []sandbox.Port{{Host: fixed, Container: pod[0]}, {Host: 0, Container: pod[1]}}}
	t.Cleanup(func() { _ = eng.Remove(context.Background(), spec) })

	ctx, cancel := context.WithCancel(t.Context())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- ports.Forward(ctx, eng, spec, &out, &errOut) }()
	line := regexp.MustCompile(`(?m)^127\.0\.0\.1:(\d+) -> (\d+)$`)
	deadline := time.Now().Add(10 * time.Second)
	for len(line.FindAllString(out.String(), -1)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no forwards printed: %q %q", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := line.FindAllStringSubmatch(out.String(), -1)
	if got[0][1] != fmt.Sprint(fixed) || got[0][2] != fmt.Sprint(pod[0]) || got[1][2] != fmt.Sprint(pod[1]) || got[1][1] == "0" {
		t.Fatalf("printed %q", out.String())
	}
	for i, g := range got {
		c, err := net.Dial("tcp", "127.0.0.1:"+g[1])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(c, "hi")
		b, _ := io.ReadAll(c)
		c.Close()
		if want := fmt.Sprintf("server %d: hi\n", i); string(b) != want {
			t.Errorf("through 127.0.0.1:%s: %q, want %q", g[1], b, want)
		}
	}
	if !strings.Contains(errOut.String(), "until interrupted") {
		t.Errorf("stderr: %q", errOut.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after interrupt: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the forward outlived its context")
	}
	if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", fixed)); err == nil {
		t.Error("still listening after the interrupt")
	}
}

// TestForwardPublished: a driver that publishes ports itself (docker's
// sandbox reports them) gets them printed, with nothing kept running; one
// whose sandbox is stopped is told to start it.
func TestForwardPublished(t *testing.T) {
	spec := sandbox.Spec{Workspace: "tports", Loop: "web", Ports: []sandbox.Port{{Host: 8080, Container: 3000}}}
	state := sandbox.StateRunning
	eng := &sandboxtest.Fake{StatusFunc: func(context.Context, sandbox.Spec) (sandbox.Status, error) {
		return sandbox.Status{State: state, Ports: []sandbox.Port{{Host: 8080, Container: 3000}}}, nil
	}}
	var out bytes.Buffer
	err := ports.Forward(t.Context(), eng, spec, &out, io.Discard)
	if err != nil || out.String() != "127.0.0.1:8080 -> 3000\n" {
		t.Fatalf("%q, %v", out.String(), err)
	}
	state = sandbox.StateStopped
	if err := ports.Forward(t.Context(), eng, spec, &out, io.Discard); err == nil || !strings.Contains(err.Error(), "git loop start web") {
		t.Errorf("stopped: %v", err)
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestKeepEngine: attach's forwards on the fake cluster live until stop.
func TestKeepEngine(t *testing.T) {
	srv := kubetest.New(t)
	eng, err := kube.New(kube.Options{Kubeconfig: srv.Kubeconfig(t, "loops")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "pod")
			c.Close()
		}
	}()
	host := freePort(t)
	root := t.TempDir()
	spec := sandbox.Spec{Workspace: "tports", Loop: "keep", Image: "debian:stable",
		Workdir: filepath.Join(root, "work"), Home: filepath.Join(root, "home"),
		Ports: []sandbox.Port{{Host: host, Container: ln.Addr().(*net.TCPAddr).Port}}}
	t.Cleanup(func() { _ = eng.Remove(context.Background(), spec) })
	var errOut syncBuffer
	stop := ports.KeepEngine(t.Context(), eng, spec, &errOut)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errOut.String(), fmt.Sprintf("127.0.0.1:%d while this runs", host)) {
		if time.Now().After(deadline) {
			t.Fatalf("no forward said: %q", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", host))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "pod\n" {
		t.Errorf("through the forward: %q", b)
	}
	stop()
	if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", host)); err == nil {
		t.Error("still forwarding after stop")
	}
	// Another driver: nothing, at once.
	ports.KeepEngine(t.Context(), &sandboxtest.Fake{}, spec, &errOut)()
}
