package kube_test

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/kube"
	"github.com/gitloop-dev/git-loop/sandbox/kube/kubetest"
)

// TestLocalCluster: on a real apiserver, kubelet and containerd, the loop's
// claim and pod are made (labelled, the claim bound), an exec carries env,
// working directory, stdin and exit codes, and a port of the pod is reached
// through the forward. gitloop/transport's TestKubernetesLocal runs git's
// protocol over the same cluster.
func TestLocalCluster(t *testing.T) {
	e, spec := kubetest.LocalCluster(t, "life")
	start := time.Now()
	code, out, errs := run(t, e, spec, sandbox.Exec{Cmd: []string{"sh", "-c", `echo "$GREETING from $(pwd) as $(id -u)"; cat; exit 3`},
		Env: map[string]string{"GREETING": "hello"}, Stdin: strings.NewReader("stdin\n")})
	t.Logf("first exec (pod made, image there): %v", time.Since(start))
	if code != 3 || out != "hello from /loop/clone as 1000\nstdin\n" {
		t.Fatalf("exec: %d %q %q", code, out, errs)
	}
	name := kubetest.Kubectl(t, "", "get", "pods", "-l", sandbox.LabelLoop+"=life", "-o", "jsonpath={.items[0].metadata.name}")
	if phase := kubetest.Kubectl(t, "", "get", "pvc", name, "-o", "jsonpath={.status.phase}"); phase != "Bound" {
		t.Errorf("claim %s is %s, want Bound", name, phase)
	}
	start = time.Now()
	if code, _, _ := run(t, e, spec, sandbox.Exec{Cmd: []string{"true"}}); code != 0 {
		t.Fatal("true failed")
	}
	t.Logf("exec round trip: %v", time.Since(start))

	// A port of the pod through the forward: git daemon in the pod serves
	// the clone, git ls-remote on this side reads it through 127.0.0.1. The
	// kubelet does not end an exec's process when its stream closes:
	// timeout does.
	run(t, e, spec, sandbox.Exec{Cmd: []string{"sh", "-c", `git init -q . && git -c user.name=a -c user.email=a@b commit -q --allow-empty -m one`}})
	port := freePort(t)
	var dout bytes.Buffer
	daemon := sandbox.StartStream(t.Context(), e, spec, sandbox.Exec{Cmd: []string{"timeout", "60", "git", "daemon", "--export-all", "--reuseaddr",
		"--listen=127.0.0.1", "--port=" + strconv.Itoa(port), "--base-path=/loop"}, Stderr: &dout})
	defer func() { _ = daemon.Stdin.Close() }()
	bound := forward(t, e, spec, port)
	url := fmt.Sprintf("git://127.0.0.1:%d/clone", bound)
	var ls []byte
	var err error
	for i := 0; i < 40; i++ { // the daemon takes a moment to listen
		if ls, err = exec.Command("git", "ls-remote", url).CombinedOutput(); err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil || !strings.Contains(string(ls), "refs/heads/") {
		t.Fatalf("git ls-remote through the forward: %v\n%s\ndaemon: %s", err, ls, dout.String())
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

// forward starts a port-forward to the pod's port for the test's life and
// returns the host port.
func forward(t *testing.T, e *kube.Engine, spec sandbox.Spec, port int) int {
	t.Helper()
	ready := make(chan []sandbox.Port, 1)
	done := make(chan error, 1)
	go func() { done <- e.PortForward(t.Context(), spec, []sandbox.Port{{Container: port}}, ready, nil) }()
	select {
	case b := <-ready:
		return b[0].Host
	case err := <-done:
		t.Fatalf("port-forward: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("port-forward never became ready")
	}
	return 0
}
