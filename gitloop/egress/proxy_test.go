package egress

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	hostAccess  = "sk-ant-oat01-HOST-ACCESS-SECRET"
	hostRefresh = "sk-ant-ort01-HOST-REFRESH-SECRET"
)

// seen is what a stand-in upstream received.
type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *seen) add(r *http.Request) { s.mu.Lock(); s.reqs = append(s.reqs, r); s.mu.Unlock() }
func (s *seen) all() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

// standIn is a TLS server standing in for the model API.
func standIn(t *testing.T, h http.HandlerFunc) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.add(r.Clone(context.Background()))
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

func writeClaudeLogin(t *testing.T, home, access string, expires time.Time) {
	t.Helper()
	dir := filepath.Join(home, ".claude")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	body := `{"claudeAiOauth":{"accessToken":"` + access + `","refreshToken":"` + hostRefresh + `","expiresAt":` +
		itoa(expires.UnixMilli()) + `,"scopes":["user:inference"],"subscriptionType":"max"}}`
	if err := os.WriteFile(filepath.Join(dir, ".credentials.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func env(kv ...string) LookupEnv {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// start serves a proxy for l, upstream srv, on a unix socket; it returns
// an HTTP client through the socket.
func start(t *testing.T, l *Login, srv *httptest.Server) (string, *http.Client) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s")
	s, err := Listen(sock, NewProxy(l, srv.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return sock, c
}

func claudeLogin(t *testing.T, srv *httptest.Server, expires time.Time) (*Login, string) {
	t.Helper()
	home := t.TempDir()
	writeClaudeLogin(t, home, hostAccess, expires)
	l, err := Find(Claude, env("ANTHROPIC_BASE_URL", srv.URL), home)
	if err != nil {
		t.Fatal(err)
	}
	return l, home
}

func post(t *testing.T, c *http.Client, path, auth string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://127.0.0.1:47813"+path, strings.NewReader(`{"model":"x"}`))
	req.Header.Set("Authorization", auth)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestClaudeOAuthFileInjected(t *testing.T) {
	srv, got := standIn(t, nil)
	l, home := claudeLogin(t, srv, time.Now().Add(time.Hour))
	if l.SandboxEnv["CLAUDE_CODE_OAUTH_TOKEN"] != Placeholder || strings.Contains(l.Source, hostAccess) {
		t.Fatalf("login = %+v", l)
	}
	_, c := start(t, l, srv)
	resp, body := post(t, c, "/v1/messages?beta=true", "Bearer "+Placeholder)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	r := got.all()[0]
	if r.Header.Get("Authorization") != "Bearer "+hostAccess || r.URL.Path != "/v1/messages" || r.URL.RawQuery != "beta=true" {
		t.Fatalf("upstream got %s %s with Authorization %q", r.Method, r.URL, r.Header.Get("Authorization"))
	}
	if r.Header.Get("X-Forwarded-For") != "" {
		t.Errorf("upstream learns the sandbox: %v", r.Header)
	}

	// The host's client refreshes: the next request carries the new token,
	// with no restart and no refresh of git loop's own.
	writeClaudeLogin(t, home, "sk-ant-oat01-REFRESHED", time.Now().Add(2*time.Hour))
	future := time.Now().Add(time.Second)
	os.Chtimes(filepath.Join(home, ".claude", ".credentials.json"), future, future)
	post(t, c, "/v1/messages", "Bearer "+Placeholder)
	if a := got.all()[1].Header.Get("Authorization"); a != "Bearer sk-ant-oat01-REFRESHED" {
		t.Fatalf("after the host's refresh: %q", a)
	}
}

func TestClaudeExpiredLoginSaysWhatToDo(t *testing.T) {
	srv, got := standIn(t, nil)
	l, _ := claudeLogin(t, srv, time.Now().Add(-time.Minute))
	_, c := start(t, l, srv)
	resp, body := post(t, c, "/v1/messages", "Bearer "+Placeholder)
	if resp.StatusCode != 401 || !strings.Contains(body, `run \"claude\" on the host`) || strings.Contains(body, hostAccess) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if len(got.all()) != 0 {
		t.Fatal("an expired token went upstream")
	}
}

func TestAPIKeyAndSetupToken(t *testing.T) {
	srv, got := standIn(t, nil)
	l, err := Find(Claude, env("ANTHROPIC_BASE_URL", srv.URL, "ANTHROPIC_API_KEY", "sk-ant-api-KEY", "CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-LONG"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, c := start(t, l, srv)
	req, _ := http.NewRequest("POST", "http://x/v1/messages", nil)
	req.Header.Set("X-Api-Key", Placeholder)
	if _, err := c.Do(req); err != nil {
		t.Fatal(err)
	}
	if r := got.all()[0]; r.Header.Get("X-Api-Key") != "sk-ant-api-KEY" || r.Header.Get("Authorization") != "" {
		t.Fatalf("api key: %v", r.Header)
	}

	l, err = Find(Claude, env("ANTHROPIC_BASE_URL", srv.URL, "CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-LONG"), t.TempDir())
	if err != nil || l.SandboxEnv["CLAUDE_CODE_OAUTH_TOKEN"] != Placeholder {
		t.Fatal(l, err)
	}
	_, c = start(t, l, srv)
	post(t, c, "/v1/messages", "Bearer "+Placeholder)
	if r := got.all()[1]; r.Header.Get("Authorization") != "Bearer sk-ant-oat01-LONG" {
		t.Fatalf("setup-token: %v", r.Header)
	}
}

func TestCodexChatGPTLogin(t *testing.T) {
	srv, got := standIn(t, nil)
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".codex"), 0o700)
	os.WriteFile(filepath.Join(home, ".codex", "auth.json"), []byte(`{"OPENAI_API_KEY":null,"tokens":{"id_token":"x","access_token":"CHATGPT-ACCESS","refresh_token":"CHATGPT-REFRESH","account_id":"acct-1"},"last_refresh":"2026-12-01T00:00:00Z"}`), 0o600)
	l, err := Find(Codex, env(), home)
	if err != nil {
		t.Fatal(err)
	}
	if l.Upstream.Host != "chatgpt.com" || l.SandboxEnv["OPENAI_API_KEY"] != Placeholder {
		t.Fatalf("%+v", l)
	}
	u := *l.Upstream
	l.Upstream = mustURL(t, srv.URL+u.Path)
	_, c := start(t, l, srv)
	post(t, c, "/v1/responses", "Bearer "+Placeholder)
	r := got.all()[0]
	if r.URL.Path != "/backend-api/codex/responses" || r.Header.Get("Authorization") != "Bearer CHATGPT-ACCESS" || r.Header.Get("ChatGPT-Account-Id") != "acct-1" {
		t.Fatalf("upstream got %s %v", r.URL, r.Header)
	}
	// The host client's chatgpt_base_url is where its login goes.
	os.WriteFile(filepath.Join(home, ".codex", "config.toml"), []byte("model = \"x\"\nchatgpt_base_url = \"https://backend.example/api/\"\n"), 0o600)
	if l, err := Find(Codex, env(), home); err != nil || l.Upstream.String() != "https://backend.example/api/codex" {
		t.Fatalf("with chatgpt_base_url: %v %v", l.Upstream, err)
	}
}

func TestNotLoggedIn(t *testing.T) {
	for _, kind := range []string{Claude, Codex} {
		if _, err := Find(kind, env(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "not logged in") {
			t.Errorf("%s: %v", kind, err)
		}
	}
}

// The attacks: the sandbox holds the socket and tries to make the proxy
// reach elsewhere, or carry the credential elsewhere.
func TestProxyAttacks(t *testing.T) {
	attacker, stolen := standIn(t, nil)
	srv, got := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/messages/redirect" {
			http.Redirect(w, r, attacker.URL+"/steal", http.StatusTemporaryRedirect)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	})
	l, _ := claudeLogin(t, srv, time.Now().Add(time.Hour))
	sock, c := start(t, l, srv)

	raw := func(reqLine string, headers ...string) string {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, reqLine+"\r\n"+strings.Join(headers, "\r\n")+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(bufio.NewReader(conn))
		return string(b)
	}

	for _, tc := range []struct{ name, line, want string }{
		{"absolute URL", "POST " + attacker.URL + "/v1/messages HTTP/1.1", "403"},
		{"another path on the API host", "POST /api/oauth/claude_cli/create_api_key HTTP/1.1", "403"},
		{"dot segments", "POST /v1/messages/../../api/oauth/profile HTTP/1.1", "403"},
		{"encoded dot segments", "POST /v1/messages/%2e%2e/%2e%2e/api/oauth/profile HTTP/1.1", "403"},
		{"a method the API does not take", "DELETE /v1/messages HTTP/1.1", "403"},
		{"CONNECT", "CONNECT " + strings.TrimPrefix(attacker.URL, "https://") + " HTTP/1.1", "40"},
	} {
		out := raw(tc.line, "Host: x")
		if !strings.Contains(strings.SplitN(out, "\n", 2)[0], tc.want) {
			t.Errorf("%s: %q", tc.name, strings.SplitN(out, "\n", 2)[0])
		}
		if strings.Contains(out, hostAccess) {
			t.Errorf("%s: the response carries the credential", tc.name)
		}
	}

	// The Host header names the attacker: the request still goes to the
	// upstream, which alone sees the credential.
	out := raw("POST /v1/messages HTTP/1.1", "Host: "+strings.TrimPrefix(attacker.URL, "https://"))
	if !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Errorf("Host header: %q", out)
	}

	// A redirect comes back to the sandbox; the proxy does not follow it.
	resp, _ := post(t, c, "/v1/messages/redirect", "Bearer x")
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("redirect: %d", resp.StatusCode)
	}
	// Following it from the sandbox goes around the proxy, with no credential.
	if len(stolen.all()) != 0 {
		t.Fatalf("the attacker's server got %d requests", len(stolen.all()))
	}
	for _, r := range got.all() {
		if r.Host != strings.TrimPrefix(srv.URL, "https://") {
			t.Errorf("upstream request with Host %q", r.Host)
		}
	}

	// The proxy never hands back what it adds: a response echoing the
	// request's headers is the upstream's doing, and it does not.
	out = raw("GET /v1/models HTTP/1.1", "Host: x")
	if strings.Contains(out, hostAccess) || strings.Contains(out, hostRefresh) {
		t.Fatal("credential in a response")
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// On a TCP port (the none driver's), only the session's token is served.
func TestTCPNeedsTheSessionToken(t *testing.T) {
	srv, got := standIn(t, nil)
	l, _ := claudeLogin(t, srv, time.Now().Add(time.Hour))
	p := NewProxy(l, srv.Client().Transport)
	p.RequireToken("session-token")
	s, err := ListenTCP("127.0.0.1:0", p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer " + Placeholder, 401}, {"Bearer session-token", 200}} {
		req, _ := http.NewRequest("POST", "http://"+s.Addr+"/v1/messages", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%q: %d, want %d", tc.auth, resp.StatusCode, tc.want)
		}
	}
	if r := got.all(); len(r) != 1 || r[0].Header.Get("Authorization") != "Bearer "+hostAccess {
		t.Fatalf("upstream got %d requests", len(r))
	}
}

// A Console account's /login keeps its API key in ~/.claude.json.
func TestClaudeLoginManagedKey(t *testing.T) {
	srv, got := standIn(t, nil)
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, ".claude.json"), []byte(`{"primaryApiKey":"sk-ant-api03-MANAGED","hasCompletedOnboarding":true}`), 0o600)
	l, err := Find(Claude, env("ANTHROPIC_BASE_URL", srv.URL), home)
	if err != nil {
		t.Fatal(err)
	}
	if l.SandboxEnv["ANTHROPIC_API_KEY"] != Placeholder {
		t.Fatalf("%+v", l.SandboxEnv)
	}
	_, c := start(t, l, srv)
	req, _ := http.NewRequest("POST", "http://x/v1/messages", nil)
	req.Header.Set("X-Api-Key", Placeholder)
	if _, err := c.Do(req); err != nil {
		t.Fatal(err)
	}
	if k := got.all()[0].Header.Get("X-Api-Key"); k != "sk-ant-api03-MANAGED" {
		t.Fatalf("upstream got %q", k)
	}
}

// A socket path longer than a unix address holds (a deep repository, a
// long loop name) is bound and reached through its directory's fd.
func TestLongSocketPath(t *testing.T) {
	srv, got := standIn(t, nil)
	l, _ := claudeLogin(t, srv, time.Now().Add(time.Hour))
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "proxy.sock")
	s, err := Listen(sock, NewProxy(l, srv.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	go func() {
		c, err := rl.Accept()
		if err == nil {
			pipe(c, sock)
		}
	}()
	req, _ := http.NewRequest("POST", "http://"+rl.Addr().String()+"/v1/messages", nil)
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(got.all()) != 1 {
		t.Fatalf("%s, upstream got %d", resp.Status, len(got.all()))
	}
	s.Close()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}
