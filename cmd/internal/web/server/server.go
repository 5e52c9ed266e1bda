// Package server is the HTTP side of "git loop web": a read-only viewer of
// loops, diffs, transcripts, context and composition, served from
// html/template pages and embedded assets. Every request needs the access
// token, whatever address it comes from. It only reads through the gitloop
// packages; the optional actions (stop, start, promote) are POSTs guarded
// by a same-origin check and a CSRF token as well.
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/knowledge"
	"github.com/gitloop-dev/git-loop/gitloop/land"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

//go:embed assets templates
var embedded embed.FS

// CookieName is the cookie that holds the access token after the first
// visit with ?token=. Cookies are shared by every port of a host, so the
// name is the token's own (a hash prefix): two viewers on one machine keep
// their cookies apart, and the name gives nothing of the token away.
func CookieName(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "gitloop_token_" + hex.EncodeToString(sum[:6])
}

// Options configure a Server.
type Options struct {
	Workspace *workspace.Workspace
	// Token is required on every request from every address, loopback
	// included (a bwrap loop shares the host's network): as ?token= (which
	// sets a cookie and redirects to the same URL without it), as the
	// cookie, or as "Authorization: Bearer".
	Token string
	// Loopback says the server listens on loopback only; then the Host
	// header must also name a loopback host, so a DNS-rebinding page is
	// refused before the token is even looked at.
	Loopback bool
	// AllowActions enables the stop, start and promote buttons.
	AllowActions bool
}

// Server serves the viewer.
type Server struct {
	opts   Options
	ws     *workspace.Workspace
	cookie string
	mux    *http.ServeMux
	// csrf is the token every action form carries.
	csrf  string
	pages *pages

	actMu    sync.Mutex
	actCache map[string]activityFile
}

// activityTTL bounds how long a loop's newest transcript file is trusted.
const activityTTL = 10 * time.Second

type activityFile struct {
	path string
	at   time.Time
}

// NewToken returns a random access token.
func NewToken() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// New builds the server.
func New(opts Options) (*Server, error) {
	if opts.Workspace == nil {
		return nil, errors.New("web: no service")
	}
	if len(opts.Token) < 16 {
		return nil, errors.New("web: an access token of at least 16 characters is required")
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, ws: opts.Workspace, mux: http.NewServeMux(), csrf: NewToken(), pages: p, actCache: map[string]activityFile{}, cookie: CookieName(opts.Token)}
	s.routes()
	return s, nil
}

// IsLoopback reports whether a listen address (host:port) only accepts
// connections from this machine.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) routes() {
	static, _ := fs.Sub(embedded, "assets")
	fileServer := http.StripPrefix("/assets/", http.FileServerFS(static))
	s.mux.Handle("GET /assets/", fileServer)

	s.mux.HandleFunc("GET /{$}", s.loopsPage)
	s.mux.HandleFunc("GET /loops/rows", s.loopsRows)
	s.mux.HandleFunc("GET /loops/{name}", s.loopPage)
	s.mux.HandleFunc("GET /loops/{name}/transcript", s.transcriptPage)
	s.mux.HandleFunc("GET /loops/{name}/compose", s.composePage)
	s.mux.HandleFunc("GET /loops/{name}/compose/{path...}", s.composedFilePage)
	s.mux.HandleFunc("POST /loops/{name}/{action}", s.action)
	s.mux.HandleFunc("GET /context", s.contextPage)
	s.mux.HandleFunc("GET /context/{path...}", s.contextPage)
	s.mux.HandleFunc("GET /focus", s.focusPage)

	s.mux.HandleFunc("GET /api/loops", s.apiLoops)
	s.mux.HandleFunc("GET /api/loops/{name}", s.apiLoop)
	s.mux.HandleFunc("GET /api/loops/{name}/diff", s.apiDiff)
	s.mux.HandleFunc("GET /api/loops/{name}/transcript", s.apiTranscript)
	s.mux.HandleFunc("GET /api/loops/{name}/compose", s.apiCompose)
	s.mux.HandleFunc("GET /api/context", s.apiContext)
	s.mux.HandleFunc("GET /api/context/{path...}", s.apiContext)
	s.mux.HandleFunc("GET /api/focus", s.apiFocus)
	s.mux.HandleFunc("GET /api/inbox", s.apiInbox)
}

// csp forbids everything but this origin's own scripts, styles and images:
// no inline script, no framing, forms post only here.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP checks the host and token, sets the security headers, and
// routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	if s.opts.Loopback {
		// Refuse other host names, so a DNS-rebinding page cannot even
		// try a token.
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		if !IsLoopback(net.JoinHostPort(host, "0")) {
			http.Error(w, "git loop web: unexpected Host header "+r.Host+"; open the printed URL", http.StatusMisdirectedRequest)
			return
		}
	}
	if !s.authorized(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// authorized lets a request through when it carries the token: in the
// query (then a cookie is set and a GET is redirected to the same URL
// without it, so the token leaves the address bar and history), in the
// cookie, or as a bearer token. Nothing else counts: not the address it
// comes from, not a Referer. Comparisons are constant-time.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	same := func(got string) bool {
		return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) == 1
	}
	if q := r.URL.Query().Get("token"); q != "" {
		if !same(q) {
			refuse(w, http.StatusUnauthorized, "The access token in this address is wrong.")
			return false
		}
		http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: s.opts.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			u := *r.URL
			q := u.Query()
			q.Del("token")
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return false
		}
		return true
	}
	if c, err := r.Cookie(s.cookie); err == nil && same(c.Value) {
		return true
	}
	if a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && same(a) {
		return true
	}
	refuse(w, http.StatusUnauthorized, "This viewer needs its access token.")
	return false
}

// refusal is the whole page a request without the token gets: it says
// what to do and shows nothing of the workspace.
const refusal = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>git loop web: access token required</title></head>
<body><h1>Access token required</h1><p>%s Open the URL that <code>git loop web</code> printed
(it carries the token); a cookie then keeps it for this browser.</p></body></html>
`

func refuse(w http.ResponseWriter, code int, why string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, refusal, why)
}

// sameOrigin accepts a state-changing request only from this server's own
// pages: Sec-Fetch-Site (when sent) must be same-origin, and Origin or
// Referer (one is required) must name this host.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return false
	}
	u, err := url.Parse(src)
	return err == nil && u.Host == r.Host
}

func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	if !s.opts.AllowActions {
		http.Error(w, "actions are disabled; start git loop web with --allow-actions", http.StatusForbidden)
		return
	}
	if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	name, ok := s.loopName(w, r)
	if !ok {
		return
	}
	var err error
	switch r.PathValue("action") {
	case "stop":
		err = lifecycle.Stop(r.Context(), s.ws, name)
	case "start":
		_, err = lifecycle.Start(r.Context(), s.ws, name)
	case "promote":
		var landed []land.Landed
		landed, err = land.Promote(r.Context(), s.ws, land.PromoteOptions{Name: name})
		if err == nil {
			s.page(w, r, "promoted", name+" · promoted", "loops", map[string]any{"Name": name, "Landed": landed})
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/loops/"+url.PathEscape(name), http.StatusSeeOther)
}

// loopName is the {name} path value, checked to be a loop name (so it can
// never reach the file system as a path).
func (s *Server) loopName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if err := workspace.ValidateName(name, ""); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return "", false
	}
	return name, true
}

// loopMeta is the record of the loop the request names; on a bad name or
// a missing loop it has answered the request and returns false.
func (s *Server) loopMeta(w http.ResponseWriter, r *http.Request) (*state.Meta, bool) {
	name, ok := s.loopName(w, r)
	if !ok {
		return nil, false
	}
	m, err := s.ws.Get(name)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return m, true
}

// httpStatus maps a domain error to an HTTP status.
func httpStatus(err error) int {
	var nf *workspace.NotFoundError
	var lnf *knowledge.LinkNotFoundError
	var ue *workspace.UsageError
	switch {
	case errors.As(err, &nf), errors.As(err, &lnf), errors.Is(err, fs.ErrNotExist), errors.Is(err, workspace.ErrNoContext):
		return http.StatusNotFound
	case errors.As(err, &ue):
		return http.StatusBadRequest
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusInternalServerError
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := httpStatus(err)
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = s.pages.render(w, "error", s.base(r, "Error", ""), map[string]any{"Code": code, "Status": http.StatusText(code), "Err": err.Error()})
}
