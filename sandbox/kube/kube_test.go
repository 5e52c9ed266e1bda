package kube_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/kube"
	"github.com/gitloop-dev/git-loop/sandbox/kube/kubetest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

const ns = "loops"

func engine(t *testing.T, srv *kubetest.Server) *kube.Engine {
	t.Helper()
	e, err := kube.NewForConfig(srv.Config(), ns, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func newSpec(t *testing.T, loop string) sandbox.Spec {
	root := t.TempDir()
	return sandbox.Spec{
		Workspace: "tkube", Loop: loop, Image: "debian:stable",
		Workdir: filepath.Join(root, "work"), Home: filepath.Join(root, "home"),
		Env: map[string]string{"GREETING": "hello", "OVERRIDE": "spec"},
	}
}

func run(t *testing.T, e sandbox.Engine, spec sandbox.Spec, x sandbox.Exec) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	x.Stdout, x.Stderr = &out, &errb
	code, err := e.Exec(t.Context(), spec, x)
	if err != nil {
		t.Fatalf("exec %v: %v\n%s", x.Cmd, err, errb.String())
	}
	return code, out.String(), errb.String()
}

// TestStreams: git's protocol needs of an exec (binary streams, the
// half-close, an exec that ends with its process) over WebSocket v5, and
// over SPDY when the server refuses the WebSocket upgrade.
func TestStreams(t *testing.T) {
	for _, proto := range []string{"websocket", "spdy"} {
		t.Run(proto, func(t *testing.T) {
			srv := kubetest.New(t)
			srv.NoWebSocket.Store(proto == "spdy")
			e := engine(t, srv)
			spec := newSpec(t, "streams-"+proto)
			sandboxtest.RunStreams(t, e, spec)
			// One writer for both streams, as callers of docker's single
			// demuxing copy do: no write may interleave with another.
			var both bytes.Buffer
			script := `i=0; while [ $i -lt 2000 ]; do echo out-line; echo err-line >&2; i=$((i+1)); done`
			if code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", script}, Stdout: &both, Stderr: &both}); err != nil || code != 0 {
				t.Fatalf("exec: %d, %v", code, err)
			}
			if n, m := strings.Count(both.String(), "out-line\n"), strings.Count(both.String(), "err-line\n"); n != 2000 || m != 2000 || both.Len() != 2000*18 {
				t.Errorf("one writer for both streams: %d and %d lines, %d bytes", n, m, both.Len())
			}
			if srv.ExecCount(proto) == 0 {
				t.Errorf("no exec went over %s", proto)
			}
			if proto == "spdy" && srv.ExecCount("websocket") != 0 {
				t.Errorf("%d execs went over websocket, which the server refuses", srv.ExecCount("websocket"))
			}
		})
	}
}

func TestExec(t *testing.T) {
	srv := kubetest.New(t)
	e := engine(t, srv)
	spec := newSpec(t, "exec")
	spec.Env["QUOTED"] = "it's a\nmulti-line $HOME `x`"
	code, out, errs := run(t, e, spec, sandbox.Exec{
		Cmd: []string{"sh", "-c", `echo out; echo err >&2; echo "$GREETING $OVERRIDE $EXTRA"; printf '%s\n' "$QUOTED"; pwd; exit 3`},
		Env: map[string]string{"OVERRIDE": "exec", "EXTRA": "x"},
	})
	want := "out\nhello exec x\nit's a\nmulti-line $HOME `x`\n" + spec.Workdir + "\n"
	if code != 3 || out != want || errs != "err\n" {
		t.Errorf("exec: exit %d, stdout %q, stderr %q; want 3, %q, %q", code, out, errs, want, "err\n")
	}
	sub := filepath.Join(spec.Workdir, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := run(t, e, spec, sandbox.Exec{Cmd: []string{"pwd"}, Dir: sub}); out != sub+"\n" {
		t.Errorf("pwd in Dir: %q", out)
	}
	// HOME is the loop's home, whatever the runtime would give a user
	// without a passwd entry.
	if _, out, _ := run(t, e, spec, sandbox.Exec{Cmd: []string{"sh", "-c", `echo "$HOME"`}}); out != spec.Home+"\n" {
		t.Errorf("HOME in the exec: %q, want %q", out, spec.Home)
	}
	// Stdin after the env header is the process's, byte for byte.
	if _, out, _ := run(t, e, spec, sandbox.Exec{Cmd: []string{"cat"}, Stdin: strings.NewReader("3\nnot a header\n")}); out != "3\nnot a header\n" {
		t.Errorf("stdin: %q", out)
	}
	if _, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", "exit 0"}, Env: map[string]string{"BAD-NAME": "x"}}); err == nil {
		t.Error("an env name the shell cannot take: no error")
	}
	// The env never reaches argv, the URL or the pod.
	if _, out, _ := run(t, e, spec, sandbox.Exec{Cmd: []string{"sh", "-c", `cat /proc/$$/cmdline | tr '\0' ' '`}, Env: map[string]string{"SECRET": "s3cr3t"}}); strings.Contains(out, "s3cr3t") {
		t.Errorf("the secret is in argv: %q", out)
	}
	pod := srv.Pod(ns, kubeName(spec))
	if pod == nil {
		t.Fatal("no pod")
	}
	for _, c := range pod.Spec.Containers {
		if len(c.Env) != 0 {
			t.Errorf("the pod stores env: %v", c.Env)
		}
	}
}

// TestStdinLeftForNext: an exec given a file (a terminal) as stdin whose
// process never reads it leaves what is typed after it to the next reader.
func TestStdinLeftForNext(t *testing.T) {
	srv := kubetest.New(t)
	e := engine(t, srv)
	spec := newSpec(t, "stdin-next")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if code, _, errs := run(t, e, spec, sandbox.Exec{Cmd: []string{"true"}, Stdin: pr}); code != 0 {
		t.Fatalf("true: exit %d: %s", code, errs)
	}
	if _, err := pw.Write([]byte("typed after\n")); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "typed after\n" {
			t.Errorf("the next reader got %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the line typed after the exec ended never reached the next reader: the exec's stdin copy took it")
	}
}

// TestTTY: a terminal exec gets its env from a file the exec before wrote,
// removed when read.
func TestTTY(t *testing.T) {
	srv := kubetest.New(t)
	e := engine(t, srv)
	spec := newSpec(t, "tty")
	code, out, _ := run(t, e, spec, sandbox.Exec{Cmd: []string{"sh", "-c", `echo "$GREETING"; ls /run/gitloop-env | wc -l; exit 4`}, TTY: true})
	if code != 4 || !strings.HasPrefix(out, "hello\n") {
		t.Errorf("tty exec: exit %d, stdout %q", code, out)
	}
}

func kubeName(spec sandbox.Spec) string { return spec.Name() }

// TestPodAndClaim: one pod and one PVC per loop, labelled, hardened; stop
// keeps the PVC, exec brings the pod back, a config change recreates it,
// remove deletes both.
func TestPodAndClaim(t *testing.T) {
	srv := kubetest.New(t)
	e := engine(t, srv)
	spec := newSpec(t, "life")
	spec.Limits = sandbox.Limits{Memory: 512 << 20, NanoCPUs: 1_500_000_000, Pids: 256}
	spec.Mounts = []sandbox.Mount{{Source: spec.Workdir, Target: spec.Workdir}, {Target: "/tmp/hidden", Tmpfs: true}}
	ctx := t.Context()
	st, err := e.Ensure(ctx, spec)
	if err != nil || st.State != sandbox.StateRunning {
		t.Fatalf("ensure: %+v, %v", st, err)
	}
	name := spec.Name()
	pod, pvc := srv.Pod(ns, name), srv.Claim(ns, name)
	if pod == nil || pvc == nil {
		t.Fatalf("pod %v, claim %v", pod != nil, pvc != nil)
	}
	for _, labels := range []map[string]string{pod.Labels, pvc.Labels} {
		if labels[sandbox.LabelWorkspace] != "tkube" || labels[sandbox.LabelLoop] != "life" || labels[sandbox.LabelConfigHash] != spec.ConfigHash() {
			t.Errorf("labels %v", labels)
		}
	}
	c := pod.Spec.Containers[0]
	if c.Image != spec.Image || strings.Join(c.Command, " ") != "sleep infinity" {
		t.Errorf("container %s %v", c.Image, c.Command)
	}
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("container security context %+v", sc)
	}
	if psc := pod.Spec.SecurityContext; psc == nil || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod runs as root: %+v", psc)
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("the pod gets a service account token")
	}
	if m, cpu := c.Resources.Limits[corev1.ResourceMemory], c.Resources.Limits[corev1.ResourceCPU]; m.Value() != 512<<20 || cpu.MilliValue() != 1500 {
		t.Errorf("limits %v", c.Resources.Limits)
	}
	var onClaim []string
	for _, m := range c.VolumeMounts {
		if m.Name == "data" {
			onClaim = append(onClaim, m.MountPath+":"+m.SubPath)
		}
	}
	if strings.Join(onClaim, " ") != spec.Workdir+":work "+spec.Home+":home" {
		t.Errorf("on the claim: %v", onClaim)
	}

	list, err := e.List(ctx, map[string]string{sandbox.LabelWorkspace: "tkube"})
	if err != nil || len(list) != 1 || list[0].State != sandbox.StateRunning || list[0].Labels[sandbox.LabelLoop] != "life" {
		t.Errorf("list: %+v, %v", list, err)
	}

	// Stop: the pod goes, the claim (clone, home) stays.
	if err := os.WriteFile(filepath.Join(spec.Workdir, "kept"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if st, err := e.Status(ctx, spec); err != nil || st.State != sandbox.StateStopped {
		t.Errorf("status after stop: %+v, %v", st, err)
	}
	if code, out, _ := run(t, e, spec, sandbox.Exec{Cmd: []string{"cat", "kept"}}); code != 0 || out != "x" {
		t.Errorf("after stop, exec: %d %q", code, out)
	}
	uid := srv.Pod(ns, name).UID
	if _, err := e.Ensure(ctx, spec); err != nil || srv.Pod(ns, name).UID != uid {
		t.Errorf("ensure with the same config made a new pod (%v)", err)
	}
	spec.Limits.Memory = 1 << 30
	if _, err := e.Ensure(ctx, spec); err != nil || srv.Pod(ns, name).UID == uid {
		t.Errorf("a config change kept the pod (%v)", err)
	}

	// Uninstall by label removes exactly this workspace's pods and claims.
	other := newSpec(t, "other")
	other.Workspace = "tother"
	if _, err := e.Ensure(ctx, other); err != nil {
		t.Fatal(err)
	}
	res, err := e.Resources(ctx, map[string]string{sandbox.LabelWorkspace: "tkube"})
	if err != nil || strings.Join(res.Containers, " ") != "pod/"+name+" pvc/"+name {
		t.Errorf("resources: %+v, %v", res, err)
	}
	if _, err := e.Purge(ctx, map[string]string{sandbox.LabelWorkspace: "tkube"}); err != nil {
		t.Fatal(err)
	}
	if srv.Pod(ns, name) != nil || srv.Claim(ns, name) != nil {
		t.Error("purge left the pod or the claim")
	}
	if srv.Pod(ns, other.Name()) == nil {
		t.Error("purge removed another workspace's pod")
	}
	if _, err := e.Status(ctx, spec); !errors.Is(err, sandbox.ErrNotFound) {
		t.Errorf("status after purge: %v", err)
	}
	if err := e.Remove(ctx, other); err != nil || srv.Claim(ns, other.Name()) != nil {
		t.Errorf("remove: %v", err)
	}
	if err := e.Remove(ctx, other); err != nil {
		t.Errorf("remove twice: %v", err)
	}
}

// TestHostPathRefused: a cluster never sees this host's files, so a
// host bind is an error, never an empty directory.
func TestHostPathRefused(t *testing.T) {
	srv := kubetest.New(t)
	e := engine(t, srv)
	if e.Capabilities().HostPaths {
		t.Error("kubernetes claims host paths")
	}
	spec := newSpec(t, "hostpath")
	spec.Mounts = []sandbox.Mount{{Source: "/etc", Target: "/host-etc", ReadOnly: true}}
	if _, err := e.Ensure(t.Context(), spec); err == nil || !strings.Contains(err.Error(), "cannot see") {
		t.Errorf("ensure with a host path: %v", err)
	}
}

// TestKubeconfig: the cluster, context and namespace are read as kubectl
// reads them, and the settings override them.
func TestKubeconfig(t *testing.T) {
	srv := kubetest.New(t)
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "team"))
	e, err := kube.New(kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Namespace() != "team" || e.Context() != "fake" || e.Host() != srv.URL {
		t.Errorf("namespace %q context %q host %q", e.Namespace(), e.Context(), e.Host())
	}
	if err := e.Ping(t.Context()); err != nil {
		t.Errorf("ping: %v", err)
	}
	e, err = kube.New(kube.Options{Namespace: "mine"})
	if err != nil || e.Namespace() != "mine" {
		t.Errorf("namespace override: %v, %v", e, err)
	}
	if _, err := kube.New(kube.Options{Context: "nope"}); err == nil {
		t.Error("a context that does not exist: no error")
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	if _, err := kube.New(kube.Options{}); !errors.Is(err, sandbox.ErrEngineUnreachable) {
		t.Errorf("no kubeconfig: %v", err)
	}
}

// TestUnreachable: a cluster that does not answer is reported as
// unreachable, naming it.
func TestUnreachable(t *testing.T) {
	srv := kubetest.New(t)
	cfg := srv.Config()
	srv.Close()
	e, err := kube.NewForConfig(cfg, ns, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = e.Status(ctx, newSpec(t, "gone"))
	if !errors.Is(err, sandbox.ErrEngineUnreachable) || !strings.Contains(err.Error(), cfg.Host) {
		t.Errorf("status on a closed server: %v", err)
	}
}

// BenchmarkExec is one exec's round trip (true, no input) through the real
// client-go executor and the fake API server, per protocol.
func BenchmarkExec(b *testing.B) {
	for _, proto := range []string{"websocket", "spdy"} {
		b.Run(proto, func(b *testing.B) {
			srv := kubetest.New(b)
			srv.NoWebSocket.Store(proto == "spdy")
			e, err := kube.NewForConfig(srv.Config(), ns, kube.Options{})
			if err != nil {
				b.Fatal(err)
			}
			root := b.TempDir()
			spec := sandbox.Spec{Workspace: "tkube", Loop: "bench", Image: "debian:stable", Workdir: filepath.Join(root, "work")}
			if _, err := e.Ensure(b.Context(), spec); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if code, err := e.Exec(b.Context(), spec, sandbox.Exec{Cmd: []string{"true"}}); err != nil || code != 0 {
					b.Fatalf("exec: %d, %v", code, err)
				}
			}
		})
	}
}

// TestPortForward: a port of the pod is reached on the host's loopback,
// through the real client-go port-forwarder, until the context ends: over
// SPDY tunnelled in WebSocket, and over SPDY when the tunnel is refused.
func TestPortForward(t *testing.T) {
	for _, proto := range []string{"websocket", "spdy"} {
		t.Run(proto, func(t *testing.T) { testPortForward(t, proto) })
	}
}

func testPortForward(t *testing.T, proto string) {
	srv := kubetest.New(t)
	srv.NoWebSocket.Store(proto == "spdy")
	e := engine(t, srv)
	spec := newSpec(t, "ports")
	// The pod's server: on the fake, the pod's network is the host's.
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
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				_, _ = c.Write([]byte("pod says " + line))
			}()
		}
	}()
	podPort := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan []sandbox.Port, 1)
	done := make(chan error, 1)
	go func() { done <- e.PortForward(ctx, spec, []sandbox.Port{{Container: podPort}}, ready, nil) }()
	var bound []sandbox.Port
	select {
	case bound = <-ready:
	case err := <-done:
		t.Fatalf("port-forward: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("port-forward never became ready")
	}
	if len(bound) != 1 || bound[0].Container != podPort || bound[0].Host == 0 {
		t.Fatalf("bound %+v", bound)
	}
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(bound[0].Host)))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("hi\n"))
		got, _ := io.ReadAll(c)
		c.Close()
		if string(got) != "pod says hi\n" {
			t.Errorf("connection %d through the forward: %q", i, got)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("port-forward after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("port-forward did not end with its context")
	}
	served := map[string]string{"websocket": "portforward-websocket", "spdy": "portforward"}[proto]
	if srv.ExecCount(served) == 0 {
		t.Errorf("no port-forward over %s reached the server", proto)
	}
}

// TestAgentSandbox: where the agent-sandbox CRD is served (either
// version), a loop is a Sandbox object with the loop's labels; its
// controller's pod (named as the Sandbox) runs the execs and its claim
// (data-NAME) holds the clone. Stop suspends it and keeps the claim,
// a config change remakes the pod on the same claim, Remove and the purge
// by label delete it all. The fake refuses any field the CRD lacks.
func TestAgentSandbox(t *testing.T) {
	for _, version := range []string{"v1alpha1", "v1beta1"} {
		t.Run(version, func(t *testing.T) {
			srv := kubetest.New(t)
			srv.InstallAgentSandbox(version)
			e := engine(t, srv)
			spec := newSpec(t, "sb")
			code, out, errs := run(t, e, spec, sandbox.Exec{Cmd: []string{"sh", "-c", `echo "$GREETING" > file && pwd`}})
			if code != 0 || strings.TrimSpace(out) != spec.Workdir {
				t.Fatalf("exec: %d %q %q", code, out, errs)
			}
			name := "gitloop-tkube-sb"
			sb := srv.Sandbox(ns, name)
			if sb == nil {
				t.Fatalf("no Sandbox %s", name)
			}
			if sb.Labels[sandbox.LabelLoop] != "sb" || sb.Spec.PodTemplate.Metadata.Labels[sandbox.LabelWorkspace] != "tkube" {
				t.Errorf("Sandbox labels %v, pod template labels %v", sb.Labels, sb.Spec.PodTemplate.Metadata.Labels)
			}
			if pods, claims := srv.Count(); pods != 1 || claims != 1 || srv.Claim(ns, "data-"+name) == nil || srv.Pod(ns, name) == nil {
				t.Fatalf("%d pods, %d claims; want the pod %s and the claim data-%s", pods, claims, name, name)
			}
			if c := srv.Claim(ns, "data-"+name); c.Labels[sandbox.LabelLoop] != "sb" {
				t.Errorf("claim labels %v", c.Labels)
			}

			if err := e.Stop(t.Context(), spec); err != nil {
				t.Fatal(err)
			}
			if st, err := e.Status(t.Context(), spec); err != nil || st.State != sandbox.StateStopped {
				t.Fatalf("after stop: %+v, %v", st, err)
			}
			if srv.Pod(ns, name) != nil || srv.Claim(ns, "data-"+name) == nil {
				t.Fatal("stop: want the pod gone and the claim kept")
			}
			if l, err := e.List(t.Context(), map[string]string{sandbox.LabelWorkspace: "tkube"}); err != nil || len(l) != 1 || l[0].ID != name || l[0].State != sandbox.StateStopped {
				t.Fatalf("list after stop: %+v, %v", l, err)
			}
			// Back on the same claim, and after a config change too.
			spec.Limits.Memory = 256 << 20
			if _, out, _ := run(t, e, spec, sandbox.Exec{Cmd: []string{"cat", "file"}}); out != "hello\n" {
				t.Fatalf("after resume and a config change: %q", out)
			}
			if p := srv.Pod(ns, name); p == nil || p.Spec.Containers[0].Resources.Limits.Memory().Value() != 256<<20 {
				t.Fatalf("pod after the config change: %+v", p)
			}

			spec2 := newSpec(t, "sb2")
			run(t, e, spec2, sandbox.Exec{Cmd: []string{"true"}})
			if err := e.Remove(t.Context(), spec); err != nil {
				t.Fatal(err)
			}
			if srv.Sandbox(ns, name) != nil || srv.Pod(ns, name) != nil || srv.Claim(ns, "data-"+name) != nil {
				t.Fatal("remove left something")
			}
			res, err := e.Purge(t.Context(), map[string]string{sandbox.LabelWorkspace: "tkube"})
			if err != nil || len(res.Containers) == 0 || res.Containers[0] != "sandbox/gitloop-tkube-sb2" {
				t.Fatalf("purge: %v, %v", res, err)
			}
			if pods, claims := srv.Count(); pods != 0 || claims != 0 || srv.Sandbox(ns, "gitloop-tkube-sb2") != nil {
				t.Fatalf("after purge: %d pods, %d claims", pods, claims)
			}
		})
	}
}

// TestAgentSandboxOff: sandbox.kube.agentSandbox = off makes new loops a
// bare Pod and claim where the CRD is served, and leaves a loop that is a
// Sandbox object already as one (its clone is on that Sandbox's claim).
func TestAgentSandboxOff(t *testing.T) {
	srv := kubetest.New(t)
	srv.InstallAgentSandbox("v1beta1")
	auto := engine(t, srv)
	old := newSpec(t, "was")
	run(t, auto, old, sandbox.Exec{Cmd: []string{"sh", "-c", "echo kept > file"}})

	off, err := kube.NewForConfig(srv.Config(), ns, kube.Options{NoAgentSandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	spec := newSpec(t, "bare")
	if code, _, errs := run(t, off, spec, sandbox.Exec{Cmd: []string{"true"}}); code != 0 {
		t.Fatalf("exec: %d %q", code, errs)
	}
	name := "gitloop-tkube-bare"
	if srv.Sandbox(ns, name) != nil || srv.Pod(ns, name) == nil || srv.Claim(ns, name) == nil {
		t.Fatalf("off: want a bare pod and claim %s and no Sandbox", name)
	}
	// The loop made as a Sandbox: stopped, then resumed by the off engine.
	if err := off.Stop(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := run(t, off, old, sandbox.Exec{Cmd: []string{"cat", "file"}}); out != "kept\n" {
		t.Fatalf("the Sandbox loop under off: %q", out)
	}
	if srv.Sandbox(ns, "gitloop-tkube-was") == nil || srv.Claim(ns, "gitloop-tkube-was") != nil {
		t.Fatal("the Sandbox loop under off: want it still a Sandbox, with no bare claim")
	}
}
