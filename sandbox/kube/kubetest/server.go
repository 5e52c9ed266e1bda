// Package kubetest is a small Kubernetes API server for tests: Pod and
// PersistentVolumeClaim CRUD in memory (what the kube driver calls), and
// exec served by the kubelet's own streaming code (k8s.io/cri-streaming's
// ServeExec for SPDY, k8s.io/streaming's wsstream for WebSocket v5, as
// the API server speaks it to clients), backed by processes on this host.
// The real client-go executor talks to it, so git's protocol runs over
// the real exec wire formats.
//
// A pod's filesystem is the host's: its volume mounts are made as host
// directories at their mount paths (tests use temp dirs), a PVC's are
// removed with the claim. Nothing is isolated; that is not what it tests.
package kubetest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	portforwardconst "k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	criportforward "k8s.io/cri-streaming/pkg/streaming/portforward"
	criexec "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilexec "k8s.io/utils/exec"
)

// Server is the fake API server.
type Server struct {
	*httptest.Server
	// NoWebSocket refuses WebSocket upgrades on exec, as an API server
	// before 1.30 or a proxy does: the client must fall back to SPDY.
	NoWebSocket atomic.Bool

	mu     sync.Mutex
	pods   map[string]*corev1.Pod
	claims map[string]*corev1.PersistentVolumeClaim
	// dirs are the host directories standing for each claim's contents.
	dirs map[string][]string
	seq  int
	// sandboxVersion is the agent-sandbox CRD's served version, "" when
	// it is not installed; sandboxes are its objects.
	sandboxVersion string
	sandboxes      map[string]*Sandbox

	// Execs counts execs served, by protocol ("websocket", "spdy").
	Execs sync.Map
}

// New starts a server, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{pods: map[string]*corev1.Pod{}, claims: map[string]*corev1.PersistentVolumeClaim{}, dirs: map[string][]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Config is a client config for the server.
func (s *Server) Config() *rest.Config {
	return &rest.Config{Host: s.URL, ContentConfig: rest.ContentConfig{ContentType: "application/json"}}
}

// Kubeconfig writes a kubeconfig file naming the server as context
// "fake", namespace ns, and returns its path.
func (s *Server) Kubeconfig(t testing.TB, ns string) string {
	p := t.TempDir() + "/kubeconfig"
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: %s
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
    namespace: %s
current-context: fake
users:
- name: fake
  user: {}
`, s.URL, ns)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Pod returns a copy of a pod as stored, or nil.
func (s *Server) Pod(ns, name string) *corev1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pods[ns+"/"+name]; p != nil {
		return p.DeepCopy()
	}
	return nil
}

// Count is how many pods and claims the server holds, in every namespace.
func (s *Server) Count() (pods, claims int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pods), len(s.claims)
}

// Claim returns a copy of a PVC as stored, or nil.
func (s *Server) Claim(ns, name string) *corev1.PersistentVolumeClaim {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.claims[ns+"/"+name]; c != nil {
		return c.DeepCopy()
	}
	return nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/version" {
		writeJSON(w, http.StatusOK, version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2-kubetest"})
		return
	}
	// /api/v1/namespaces/NS/RESOURCE[/NAME[/SUB]]
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) >= 2 && parts[0] == "apis" && parts[1] == sandboxGroup {
		s.serveSandboxes(w, r, parts)
		return
	}
	if len(parts) < 5 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces" {
		status(w, http.StatusNotFound, metav1.StatusReasonNotFound, "no route "+r.URL.Path)
		return
	}
	ns, res := parts[3], parts[4]
	name, sub := "", ""
	if len(parts) > 5 {
		name = parts[5]
	}
	if len(parts) > 6 {
		sub = parts[6]
	}
	switch {
	case res == "pods" && sub == "exec":
		s.exec(w, r, ns, name)
	case res == "pods" && sub == "portforward":
		s.portForward(w, r, ns, name)
	case res == "pods" && sub == "":
		s.crudPods(w, r, ns, name)
	case res == "persistentvolumeclaims" && sub == "":
		s.crudClaims(w, r, ns, name)
	default:
		status(w, http.StatusNotFound, metav1.StatusReasonNotFound, "no route "+r.URL.Path)
	}
}

func (s *Server) crudPods(w http.ResponseWriter, r *http.Request, ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method != http.MethodPost || name != "" {
		serveObjects(w, r, ns, name, "pods", s.pods, func(ps []*corev1.Pod) any {
			list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
			for _, p := range ps {
				list.Items = append(list.Items, *p)
			}
			return &list
		}, nil)
		return
	}
	var p corev1.Pod
	if err := decode(r, &p); err != nil {
		status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	if code, reason, msg := s.addPod(ns, &p); code != 0 {
		status(w, code, reason, msg)
		return
	}
	writeJSON(w, http.StatusCreated, &p)
}

// serveObjects answers what the kinds of object share: the list of those
// of namespace ns in objs whose labels match the request's selector, made
// into the kind's list object by list; a get; a delete (gone, when not
// nil, takes what the object's deletion takes with it); and 405 for other
// methods. res names the resource in messages. The caller holds s.mu.
func serveObjects[T interface{ GetLabels() map[string]string }](w http.ResponseWriter, r *http.Request, ns, name, res string,
	objs map[string]T, list func([]T) any, gone func(key string)) {
	key := ns + "/" + name
	o, found := objs[key]
	switch {
	case r.Method == http.MethodGet && name == "":
		sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
		if err != nil {
			status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
			return
		}
		var items []T
		for k, o := range objs {
			if strings.HasPrefix(k, ns+"/") && sel.Matches(labels.Set(o.GetLabels())) {
				items = append(items, o)
			}
		}
		writeJSON(w, http.StatusOK, list(items))
	case r.Method != http.MethodGet && r.Method != http.MethodDelete:
		status(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, r.Method)
	case !found:
		status(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("%s %q not found", res, name))
	case r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, o)
	default:
		if gone != nil {
			gone(key)
		}
		delete(objs, key)
		writeJSON(w, http.StatusOK, o)
	}
}

// addPod stores a pod as the API server and the kubelet would, its volume
// mounts made as host directories; the caller holds s.mu. A failure is an
// HTTP status, reason and message.
func (s *Server) addPod(ns string, p *corev1.Pod) (int, metav1.StatusReason, string) {
	key := ns + "/" + p.Name
	if s.pods[key] != nil {
		return http.StatusConflict, metav1.StatusReasonAlreadyExists, fmt.Sprintf("pods %q already exists", p.Name)
	}
	for _, v := range p.Spec.Volumes {
		if c := v.PersistentVolumeClaim; c != nil && s.claims[ns+"/"+c.ClaimName] == nil {
			return http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "claim " + c.ClaimName + " not found"
		}
	}
	// Volume mounts become host directories at their paths.
	for _, c := range p.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if err := os.MkdirAll(m.MountPath, 0o755); err != nil {
				return http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error()
			}
			for _, v := range p.Spec.Volumes {
				if v.Name == m.Name && v.PersistentVolumeClaim != nil {
					ck := ns + "/" + v.PersistentVolumeClaim.ClaimName
					s.dirs[ck] = appendNew(s.dirs[ck], m.MountPath)
				}
			}
		}
	}
	s.seq++
	p.Namespace, p.UID, p.ResourceVersion = ns, types.UID(fmt.Sprintf("pod-%d", s.seq)), strconv.Itoa(s.seq)
	p.CreationTimestamp = metav1.Now()
	p.Status.Phase = corev1.PodRunning
	s.pods[key] = p
	return 0, "", ""
}

func (s *Server) crudClaims(w http.ResponseWriter, r *http.Request, ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method != http.MethodPost || name != "" {
		serveObjects(w, r, ns, name, "persistentvolumeclaims", s.claims, func(cs []*corev1.PersistentVolumeClaim) any {
			list := corev1.PersistentVolumeClaimList{TypeMeta: metav1.TypeMeta{Kind: "PersistentVolumeClaimList", APIVersion: "v1"}}
			for _, c := range cs {
				list.Items = append(list.Items, *c)
			}
			return &list
		}, func(key string) {
			// The claim's contents go with it.
			for _, d := range s.dirs[key] {
				_ = os.RemoveAll(d)
			}
			delete(s.dirs, key)
		})
		return
	}
	var c corev1.PersistentVolumeClaim
	if err := decode(r, &c); err != nil {
		status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	key := ns + "/" + c.Name
	if s.claims[key] != nil {
		status(w, http.StatusConflict, metav1.StatusReasonAlreadyExists, fmt.Sprintf("persistentvolumeclaims %q already exists", c.Name))
		return
	}
	s.seq++
	c.Namespace, c.UID, c.ResourceVersion = ns, types.UID(fmt.Sprintf("pvc-%d", s.seq)), strconv.Itoa(s.seq)
	c.Status.Phase = corev1.ClaimBound
	s.claims[key] = &c
	writeJSON(w, http.StatusCreated, &c)
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request, ns, name string) {
	s.mu.Lock()
	p := s.pods[ns+"/"+name]
	var dir string
	if p != nil && len(p.Spec.Containers) > 0 {
		dir = p.Spec.Containers[0].WorkingDir
	}
	s.mu.Unlock()
	if p == nil {
		status(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("pods %q not found", name))
		return
	}
	q := r.URL.Query()
	cmd := q["command"]
	// The API server's parameters (stdin=true), as the kubelet's.
	flag := func(k string) bool { return q.Get(k) == "true" || q.Get(k) == "1" }
	opts := &criexec.Options{Stdin: flag("stdin"), Stdout: flag("stdout"), Stderr: flag("stderr"), TTY: flag("tty")}
	if !opts.Stdin && !opts.Stdout && !opts.Stderr {
		status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "you must specify at least 1 of stdin, stdout, stderr")
		return
	}
	ex := &hostExecutor{dir: dir}
	if wsstream.IsWebSocketRequest(r) {
		if s.NoWebSocket.Load() {
			status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "websocket upgrade refused (kubetest.NoWebSocket)")
			return
		}
		s.count("websocket")
		serveWebSocketV5(w, r, ex, cmd, opts)
		return
	}
	s.count("spdy")
	criexec.ServeExec(w, r, ex, name, string(p.UID), q.Get("container"), cmd, opts, time.Minute, 30*time.Second, criexec.SupportedStreamingProtocols)
}

// portForward serves SPDY port-forwarding with the kubelet's code, each
// stream dialled to the port on this host's loopback (the pod's network is
// the host's). A WebSocket request (client-go's SPDY-over-WebSocket
// tunnel, which the API server translates) is refused, so clients fall
// back to SPDY: the tunnel itself is not served here.
func (s *Server) portForward(w http.ResponseWriter, r *http.Request, ns, name string) {
	s.mu.Lock()
	p := s.pods[ns+"/"+name]
	s.mu.Unlock()
	if p == nil {
		status(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("pods %q not found", name))
		return
	}
	if wsstream.IsWebSocketRequest(r) {
		if s.NoWebSocket.Load() {
			status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "websocket upgrade refused (kubetest.NoWebSocket)")
			return
		}
		s.tunnelPortForward(w, r, name, string(p.UID))
		return
	}
	s.count("portforward")
	criportforward.ServePortForward(w, r, hostForwarder{}, name, string(p.UID), &criportforward.V4Options{}, time.Minute, 30*time.Second, criportforward.SupportedProtocols)
}

// tunnelPortForward serves kubectl's port-forward over WebSocket, as the
// API server does since 1.30: the WebSocket carries SPDY, which the
// kubelet's port-forward code serves as if it had upgraded an HTTP
// connection itself (the API server's tunnelling handler does the same).
func (s *Server) tunnelPortForward(w http.ResponseWriter, r *http.Request, pod, uid string) {
	up := gwebsocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true },
		Subprotocols: []string{portforwardconst.WebsocketsSPDYTunnelingPortForwardV1}}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	defer conn.Close()
	s.count("portforward-websocket")
	tunnel := portforward.NewTunnelingConnection("kubetest", conn)
	req := r.Clone(r.Context())
	req.Header = http.Header{}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	req.Header.Set("X-Stream-Protocol-Version", portforwardconst.PortForwardV1Name)
	criportforward.ServePortForward(&hijacked{conn: tunnel, header: http.Header{}}, req, hostForwarder{}, pod, uid,
		&criportforward.V4Options{}, time.Minute, 30*time.Second, []string{portforwardconst.PortForwardV1Name})
}

// hijacked is the response writer of a connection upgraded already: what
// an upgrade writes (its 101) goes nowhere, and Hijack hands the tunnel.
type hijacked struct {
	conn   net.Conn
	header http.Header
}

func (h *hijacked) Header() http.Header         { return h.header }
func (h *hijacked) Write(p []byte) (int, error) { return len(p), nil }
func (h *hijacked) WriteHeader(int)             {}
func (h *hijacked) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// hostForwarder connects a forwarded stream to the port on loopback.
type hostForwarder struct{}

func (hostForwarder) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return err
	}
	defer c.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(c, stream); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stream, c); done <- struct{}{} }()
	<-done
	return nil
}

func (s *Server) count(proto string) {
	v, _ := s.Execs.LoadOrStore(proto, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// ExecCount is how many execs were served over proto.
func (s *Server) ExecCount(proto string) int64 {
	v, ok := s.Execs.Load(proto)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// hostExecutor runs a pod's command as a process on this host.
type hostExecutor struct{ dir string }

func (h *hostExecutor) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan criexec.TerminalSize, _ time.Duration) error {
	if len(cmd) == 0 {
		return fmt.Errorf("no command")
	}
	go func() {
		for range resize {
		}
	}()
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Dir = h.dir
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if out != nil {
		c.Stdout = out
	}
	if errw != nil {
		c.Stderr = errw
	} else if tty {
		c.Stderr = out
	}
	var stdin io.WriteCloser
	if in != nil {
		var err error
		if stdin, err = c.StdinPipe(); err != nil {
			return err
		}
	}
	if err := c.Start(); err != nil {
		return err
	}
	if in != nil {
		// Not waited for: a client that never closes its stdin must not
		// hold the exec open once the process has ended. The end of in
		// (the client's half-close) closes the process's stdin.
		go func() {
			_, _ = io.Copy(stdin, in)
			_ = stdin.Close()
		}()
	}
	err := c.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return utilexec.CodeExitError{Err: err, Code: ee.ExitCode()}
	}
	return err
}

// serveWebSocketV5 serves an exec over the v5 channel protocol, as the
// API server does for clients since 1.30: channel 255 closes a stream
// (stdin's half-close), the error channel ends with a Status.
func serveWebSocketV5(w http.ResponseWriter, r *http.Request, ex *hostExecutor, cmd []string, opts *criexec.Options) {
	rd := func(b bool) wsstream.ChannelType {
		if b {
			return wsstream.ReadChannel
		}
		return wsstream.IgnoreChannel
	}
	wr := func(b bool) wsstream.ChannelType {
		if b {
			return wsstream.WriteChannel
		}
		return wsstream.IgnoreChannel
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		"v5.channel.k8s.io": {Binary: true, Channels: []wsstream.ChannelType{
			rd(opts.Stdin), wr(opts.Stdout), wr(opts.Stderr), wsstream.WriteChannel, wsstream.ReadChannel,
		}},
	})
	conn.SetIdleTimeout(time.Minute)
	_, streams, err := conn.Open(w, r)
	if err != nil {
		return
	}
	defer conn.Close()
	var in io.Reader
	var out, errw io.WriteCloser
	if opts.Stdin {
		in = streams[0]
	}
	if opts.Stdout {
		out = streams[1]
	}
	if opts.Stderr {
		errw = streams[2]
	}
	st := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess}
	if err := ex.ExecInContainer(r.Context(), "", "", "", cmd, in, out, errw, opts.TTY, nil, 0); err != nil {
		st.Status = metav1.StatusFailure
		st.Message = err.Error()
		if ce, ok := err.(utilexec.CodeExitError); ok {
			st.Reason = "NonZeroExitCode"
			st.Details = &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(ce.Code)}}}
		}
	}
	b, _ := json.Marshal(st)
	_, _ = streams[3].Write(b)
}

// decode reads an object as client-go sends it: protobuf by default,
// JSON when the config asks for it.
func decode(r *http.Request, into runtime.Object) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	_, _, err = scheme.Codecs.UniversalDeserializer().Decode(b, nil, into)
	return err
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func status(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	writeJSON(w, code, metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code),
	})
}
