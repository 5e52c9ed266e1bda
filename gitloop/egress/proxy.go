package egress

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Proxy forwards a sandbox's model API requests to the login's upstream
// with the host's credential on them. Whatever the request says (its Host
// header, an absolute URL, its own credential headers), it goes to the
// upstream's scheme and host, on an allowed path only; a redirect comes
// back to the sandbox as it is and is never followed with the credential.
type Proxy struct {
	login *Login
	rp    *httputil.ReverseProxy
	now   func() time.Time
	token string // see RequireToken
}

// RequireToken makes the proxy serve only requests whose credential (the
// client's Authorization bearer or X-Api-Key) is tok: for a proxy on a
// TCP port, which every local process can reach, unlike a socket in a
// directory only one sandbox sees.
func (p *Proxy) RequireToken(tok string) { p.token = tok }

func (p *Proxy) hasToken(r *http.Request) bool {
	if p.token == "" {
		return true
	}
	for _, got := range []string{strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), r.Header.Get("X-Api-Key")} {
		if subtle.ConstantTimeCompare([]byte(got), []byte(p.token)) == 1 {
			return true
		}
	}
	return false
}

// NewProxy makes the proxy for a login. transport nil is a default
// transport (the host's HTTPS proxy settings, the system's roots).
func NewProxy(l *Login, transport http.RoundTripper) *Proxy {
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ForceAttemptHTTP2 = true
		transport = t
	}
	p := &Proxy{login: l, now: time.Now}
	p.rp = &httputil.ReverseProxy{
		Transport:     transport,
		FlushInterval: -1, // server-sent events, as they come
		Rewrite:       p.rewrite,
		ModifyResponse: func(r *http.Response) error {
			r.Header.Del("Set-Cookie")
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The upstream's address only: the error never carries the
			// request's headers.
			apiError(w, http.StatusBadGateway, fmt.Sprintf("git loop's egress proxy could not reach %s", l.Upstream.Host))
		},
	}
	return p
}

// hopHeaders are the request headers that never go upstream: the
// client's own credentials (the placeholder) and anything that would
// tell the upstream about the sandbox or carry state from it.
var hopHeaders = []string{
	"Authorization", "X-Api-Key", "Proxy-Authorization", "Cookie",
	"ChatGPT-Account-Id", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host",
	"X-Forwarded-Proto", "X-Real-Ip",
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.IsAbs() || r.URL.Host != "" {
		apiError(w, http.StatusForbidden, "git loop's egress proxy forwards to "+p.login.Kind+"'s model API only, not to another host")
		return
	}
	if !p.hasToken(r) {
		apiError(w, http.StatusUnauthorized, "git loop's egress proxy: this request does not carry the session's token")
		return
	}
	if !p.allowed(r) {
		apiError(w, http.StatusForbidden, fmt.Sprintf("git loop's egress proxy forwards only %s's model API (%s), not %s %s", p.login.Kind, strings.Join(p.login.Paths, ", "), r.Method, r.URL.EscapedPath()))
		return
	}
	c, err := p.login.current()
	if err != nil {
		apiError(w, http.StatusUnauthorized, "git loop's egress proxy has no login to use: "+err.Error())
		return
	}
	if !c.expires.IsZero() && p.now().After(c.expires) {
		apiError(w, http.StatusUnauthorized, p.login.expired().Error())
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), credKey{}, c))
	p.rp.ServeHTTP(w, r)
}

type credKey struct{}

// allowed: a clean origin-form path under one of the login's paths. An
// absolute-form request line ("POST http://elsewhere/…") is refused too,
// though its host would be ignored anyway.
func (p *Proxy) allowed(r *http.Request) bool {
	if r.URL.IsAbs() || r.URL.Host != "" || r.URL.User != nil {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodHead:
	default:
		return false
	}
	ep := r.URL.EscapedPath()
	if ep != r.URL.Path || path.Clean(ep) != ep || strings.Contains(ep, "//") {
		return false // encoded or dot segments: the upstream might read them otherwise
	}
	for _, a := range p.login.Paths {
		if ep == a || strings.HasPrefix(ep, a+"/") {
			return true
		}
	}
	return false
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	up := p.login.Upstream
	out := pr.Out
	out.URL.Scheme = up.Scheme
	out.URL.Host = up.Host
	out.URL.User = nil
	out.URL.Path = up.Path + strings.TrimPrefix(pr.In.URL.Path, p.login.Strip)
	out.URL.RawPath = ""
	out.URL.RawQuery = pr.In.URL.RawQuery
	out.Host = up.Host
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	c, _ := pr.In.Context().Value(credKey{}).(credential)
	p.login.inject(out.Header, c)
}

func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"type":"error","error":{"type":"git_loop_egress","message":%q}}`+"\n", msg)
}

// Server is a running proxy on a unix socket (Socket) or a TCP port
// (Addr).
type Server struct {
	Socket string
	Addr   string
	srv    *http.Server
	done   chan struct{}
}

// ListenTCP serves p on addr ("127.0.0.1:0"): for the none driver, whose
// agent runs on the host. Give p a token first (RequireToken).
func ListenTCP(addr string, p *Proxy) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	return serve(l, p, "", l.Addr().String()), nil
}

func serve(l net.Listener, p *Proxy, socket, addr string) *Server {
	s := &Server{Socket: socket, Addr: addr, done: make(chan struct{}),
		srv: &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(l)
	}()
	return s
}

// Listen serves p on a unix socket at socket (replacing a stale one), mode
// 0600: only the user (the sandbox's uid) connects.
func Listen(socket string, p *Proxy) (*Server, error) {
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("egress socket: %w", err)
	}
	short, done, err := shortPath(socket)
	if err != nil {
		return nil, fmt.Errorf("egress socket: %w", err)
	}
	l, err := net.Listen("unix", short)
	done()
	if err != nil {
		return nil, fmt.Errorf("egress socket: %w", err)
	}
	if ul, ok := l.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // Close removes it by its real path
	}
	if err := os.Chmod(socket, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("egress socket: %w", err)
	}
	return serve(l, p, socket, ""), nil
}

// Close stops the proxy, cutting open streams, and removes its socket.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	if s.Socket != "" {
		_ = os.Remove(s.Socket)
	}
	return err
}

// SelfTest serves a proxy for l on a socket in dir and asks it for a path
// it must refuse: it shows the proxy can listen and answer there, without
// a request leaving the machine.
func SelfTest(l *Login, dir string) error {
	srv, err := Listen(filepath.Join(dir, "selftest.sock"), NewProxy(l, nil))
	if err != nil {
		return err
	}
	defer srv.Close()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", srv.Socket)
		}}}
	resp, err := c.Get("http://127.0.0.1/git-loop/selftest")
	if err != nil {
		return fmt.Errorf("egress proxy: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		return fmt.Errorf("egress proxy: answered %s to a path it must refuse", resp.Status)
	}
	return nil
}

// KindOf is the client an agent program is, by its base name (Claude,
// Codex), or "".
func KindOf(program string) string {
	switch filepath.Base(program) {
	case Claude:
		return Claude
	case Codex:
		return Codex
	}
	return ""
}

// shortPath is a name for path that fits a unix socket address (107
// bytes): path itself, or else its name under /proc/self/fd/N, N an open
// descriptor of its directory. Deep repositories and long loop names
// make long paths. done closes the descriptor once bound or connected.
func shortPath(path string) (short string, done func(), err error) {
	if len(path) < 108 {
		return path, func() {}, nil
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return "", nil, err
	}
	short = fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path))
	if len(short) >= 108 {
		dir.Close()
		return "", nil, fmt.Errorf("%s: name too long for a unix socket", path)
	}
	return short, func() { dir.Close() }, nil
}
