package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/web/server"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/status"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

func TestPagesAndEndpoints(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	h := fx.handler(t, server.Options{})

	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/", []string{"alpha", "beta", "gamma", `href="/loops/alpha"`, "uncommitted", `<span class="badge layer">code</span>`}},
		{"/loops/rows", []string{`data-loop="alpha"`, `data-loop="gamma"`}},
		{"/loops/alpha", []string{"src/hello.go", `class="add"`, `<span class="add"><i class="ln" data-o="" data-n="4"></i>&#43;func Hello()`, "I will add it in src/hello.go.", "tool call", "Write", "uncommitted line", "loop/alpha", `id="commits"`, "alpha: add hello"}},
		{"/loops/alpha?dpage=0", []string{"src/hello.go"}},
		{"/loops/alpha/transcript", []string{"Please add a hello function", "Done: Hello()"}},
		{"/loops/beta", []string{"No changes against the base", "No transcript yet"}},
		{"/loops/alpha/compose", []string{"CLAUDE.md", "doctrine", `href="/loops/alpha/compose/CLAUDE.md"`}},
		{"/loops/alpha/compose/CLAUDE.md", []string{"<article class=\"markdown card\">", "doctrine"}},
		{"/context", []string{"knowledge", "notes", "personal", "guides/setup.md", "vaults/work"}},
		{"/context/knowledge", []string{"guides/setup.md", "style.md"}},
		{"/context/knowledge/guides", []string{"guides/setup.md"}},
		{"/context/knowledge/guides/setup.md", []string{"<h1>Setup</h1>", `href="/context/knowledge/style.md"`, "wikilink missing"}},
		{"/context/knowledge/style.md", []string{"<strong>simple</strong>", "the setup guide", `href="/context/knowledge/guides/setup.md"`}},
		{"/focus", []string{"alpha hello function", `href="/loops/alpha"`, "beta cleanup", "look at gamma"}},
	} {
		r := get(t, h, tc.path)
		if r.code != http.StatusOK {
			t.Errorf("GET %s = %d\n%s", tc.path, r.code, r.body)
			continue
		}
		if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type %q", tc.path, ct)
		}
		csp := r.hdr.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("GET %s: no %q in\n%s", tc.path, w, r.body)
			}
		}
		// Nothing rendered ever runs: no live script tag, no handler
		// attribute, no inline script, no vault value, no thinking.
		if strings.Contains(r.body, "<script>") || strings.Contains(r.body, "<img src=x") || strings.Contains(r.body, "javascript:") {
			t.Errorf("GET %s: live payload in\n%s", tc.path, r.body)
		}
		if tc.path != "/loops/rows" && (strings.Count(r.body, "<script") != 1 || !strings.Contains(r.body, `<script src="/assets/app.js" defer></script>`)) {
			t.Errorf("GET %s: a script other than /assets/app.js", tc.path)
		}
		if strings.Contains(r.body, "VAULT-SECRET-VALUE") || strings.Contains(r.body, "SECRET-THOUGHT") {
			t.Errorf("GET %s: shows a vault value or thinking", tc.path)
		}
	}
	// The payloads are there, as text.
	for _, p := range []string{"/loops/alpha/transcript", "/context/knowledge/guides/setup.md", "/focus", "/loops/alpha"} {
		if r := get(t, h, p); !strings.Contains(r.body, "&lt;script&gt;") && !strings.Contains(r.body, "raw HTML omitted") {
			t.Errorf("GET %s: payload not shown as text\n%s", p, r.body)
		}
	}

	// Assets.
	for _, p := range []string{"/assets/app.js", "/assets/style.css", "/assets/favicon.svg"} {
		if r := get(t, h, p); r.code != http.StatusOK || r.body == "" {
			t.Errorf("GET %s = %d", p, r.code)
		}
	}

	// JSON endpoints.
	var loops []status.LoopStatus
	r := get(t, h, "/api/loops")
	if err := json.Unmarshal([]byte(r.body), &loops); err != nil || len(loops) != 3 || loops[0].Name != "alpha" || !loops[0].Dirty || loops[0].Ahead != 1 {
		t.Errorf("/api/loops: %v %+v", err, loops)
	}
	ls := fx.run(t, "ls", "--json")
	var fromLs []status.LoopStatus
	_ = json.Unmarshal([]byte(ls), &fromLs)
	a, _ := json.Marshal(loops)
	b, _ := json.Marshal(fromLs)
	if string(a) != string(b) {
		t.Errorf("/api/loops differs from ls --json:\n%s\n%s", a, b)
	}
	var one status.LoopStatus
	if r := get(t, h, "/api/loops/beta"); json.Unmarshal([]byte(r.body), &one) != nil || one.Name != "beta" {
		t.Errorf("/api/loops/beta: %s", r.body)
	}
	if r := get(t, h, "/api/loops/alpha/diff"); !strings.Contains(r.body, "diff --git a/src/hello.go b/src/hello.go") {
		t.Errorf("/api/loops/alpha/diff: %s", r.body)
	}
	r = get(t, h, "/api/loops/alpha/transcript")
	lines := strings.Split(strings.TrimSpace(r.body), "\n")
	if len(lines) < 4 || !strings.Contains(lines[0], `"role":"user"`) {
		t.Errorf("/api/loops/alpha/transcript: %s", r.body)
	}
	if r := get(t, h, "/api/loops/alpha/transcript?offset=1&limit=1"); strings.Count(strings.TrimSpace(r.body), "\n") != 0 || !strings.Contains(r.body, "I will add it") {
		t.Errorf("transcript window: %s", r.body)
	}
	if r := get(t, h, "/api/loops/alpha/compose"); !strings.Contains(r.body, `"files"`) {
		t.Errorf("/api/loops/alpha/compose: %s", r.body)
	}
	if r := get(t, h, "/api/context"); !strings.Contains(r.body, `"knowledge"`) || strings.Contains(r.body, "VAULT-SECRET") {
		t.Errorf("/api/context: %s", r.body)
	}
	if r := get(t, h, "/api/context/knowledge/guides/setup.md"); !strings.Contains(r.body, `"backlinks"`) || !strings.Contains(r.body, `"target": "knowledge/style.md"`) {
		t.Errorf("/api/context/knowledge/guides/setup.md: %s", r.body)
	}
	if r := get(t, h, "/api/focus"); !strings.Contains(r.body, `"pinned"`) {
		t.Errorf("/api/focus: %s", r.body)
	}
	if r := get(t, h, "/api/inbox"); !strings.Contains(r.body, "look at gamma") {
		t.Errorf("/api/inbox: %s", r.body)
	}

	// Not found, bad names and traversal.
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/loops/nope", 404},
		{"/api/loops/nope", 404},
		{"/loops/nope/transcript", 404},
		{"/nope", 404},
		{"/loops/..%2F..%2Fetc", 400},
		{"/loops/.hidden", 400},
		{"/api/loops/%2E%2E/diff", 400},
		{"/context/knowledge/..%2F..%2F..%2Fetc%2Fpasswd", 400},
		{"/context/knowledge/%2E%2E/notes/inbox.md", 400},
		{"/context/notes/.git/config", 400},
		{"/context/etc/passwd", 400},
		{"/context/personal/vaults/work/envs/API_TOKEN", 400},
		{"/api/context/personal/vaults/work/envs/API_TOKEN", 400},
		{"/context/knowledge/missing.md", 404},
	} {
		r := get(t, h, tc.path)
		if r.code != tc.code {
			t.Errorf("GET %s = %d, want %d\n%s", tc.path, r.code, tc.code, r.body)
		}
		if strings.Contains(r.body, "root:") || strings.Contains(r.body, "VAULT-SECRET") || strings.Contains(r.body, "[core]") {
			t.Errorf("GET %s leaked a file", tc.path)
		}
	}
	// A cleaned path redirects, and then finds nothing.
	if r := get(t, h, "/assets/../server.go"); r.code != http.StatusTemporaryRedirect && r.code != http.StatusNotFound {
		t.Errorf("GET /assets/../server.go = %d", r.code)
	}
	// Another Host on the loopback server (DNS rebinding) is refused.
	if r := get(t, h, "/", func(r *http.Request) { r.Host = "evil.example:8080" }); r.code != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host = %d", r.code)
	}
	// Read-only: actions are refused.
	if r := post(t, h, "/loops/alpha/stop", url.Values{}, nil); r.code != http.StatusForbidden {
		t.Errorf("POST stop read-only = %d", r.code)
	}
}

// A symlink out of a layer is refused.
func TestContextSymlinkEscape(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	know, _ := fx.ws.LayerClone(workspace.Knowledge)
	if err := symlink("/etc", know+"/etc"); err != nil {
		t.Fatal(err)
	}
	h := fx.handler(t, server.Options{})
	for _, p := range []string{"/context/knowledge/etc/passwd", "/context/knowledge/etc", "/api/context/knowledge/etc/passwd"} {
		r := get(t, h, p)
		if r.code != 400 && r.code != 404 {
			t.Errorf("GET %s = %d", p, r.code)
		}
		if strings.Contains(r.body, "root:") {
			t.Errorf("GET %s leaked /etc/passwd", p)
		}
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	token := server.NewToken()
	name := server.CookieName(token)
	if strings.Contains(name, token[:8]) || name == server.CookieName(testToken) {
		t.Errorf("cookie name %q: shows the token or is shared", name)
	}
	for _, loopback := range []bool{true, false} {
		h := fx.handler(t, server.Options{Token: token, Loopback: loopback})
		for _, p := range []string{"/", "/api/loops", "/loops/alpha", "/assets/app.js", "/context", "/api/loops/alpha/diff"} {
			r := getBare(t, h, p)
			if r.code != http.StatusUnauthorized || !strings.Contains(r.body, "git loop web</code> printed") || strings.Contains(r.body, "alpha") {
				t.Errorf("loopback=%v: GET %s without token = %d\n%s", loopback, p, r.code, r.body)
			}
		}
		for _, mod := range []func(*http.Request){
			func(r *http.Request) { r.URL.RawQuery = "token=wrong" },
			func(r *http.Request) { r.URL.RawQuery = "token=" + token[:len(token)-1] },
			func(r *http.Request) { r.Header.Set("Referer", "http://127.0.0.1:8080/?token="+token) },
			func(r *http.Request) { r.AddCookie(&http.Cookie{Name: name, Value: "x" + token}) },
			func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "gitloop_token", Value: token}) },
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer x"+token) },
			authCookie, // another server's cookie
		} {
			if r := getBare(t, h, "/api/loops", mod); r.code != http.StatusUnauthorized {
				t.Errorf("loopback=%v: forged credential = %d", loopback, r.code)
			}
		}
		r := getBare(t, h, "/loops/alpha?token="+token)
		if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/loops/alpha" {
			t.Fatalf("token visit = %d %q", r.code, r.hdr.Get("Location"))
		}
		cookie := r.hdr.Get("Set-Cookie")
		if !strings.Contains(cookie, name+"="+token) || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") || !strings.Contains(cookie, "Path=/") || strings.Contains(cookie, "Domain") {
			t.Errorf("cookie %q", cookie)
		}
		withCookie := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: name, Value: token}) }
		for _, p := range []string{"/", "/api/loops", "/loops/alpha"} {
			if r := getBare(t, h, p, withCookie); r.code != http.StatusOK {
				t.Errorf("GET %s with cookie = %d", p, r.code)
			}
		}
		if r := getBare(t, h, "/api/loops", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }); r.code != http.StatusOK {
			t.Errorf("bearer = %d", r.code)
		}
		// A loopback server refuses other Host names even with the cookie
		// (DNS rebinding); a server listening beyond this machine is
		// reached by name or address.
		want := http.StatusOK
		if loopback {
			want = http.StatusMisdirectedRequest
		}
		if r := getBare(t, h, "/", withCookie, func(r *http.Request) { r.Host = "devbox:8080" }); r.code != want {
			t.Errorf("loopback=%v: other Host = %d, want %d", loopback, r.code, want)
		}
	}
	if _, err := server.New(server.Options{Workspace: fx.ws}); err == nil {
		t.Errorf("a server without a token")
	}
}

func post(t testing.TB, h http.Handler, target string, form url.Values, mod func(*http.Request)) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080"+target, strings.NewReader(form.Encode()))
	req.Host = "127.0.0.1:8080"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	authCookie(req)
	if mod != nil {
		mod(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Body.String(), rec.Header()}
}

func TestActions(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	h := fx.handler(t, server.Options{AllowActions: true})
	page := get(t, h, "/loops/alpha").body
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		t.Fatalf("no action form on the loop page:\n%s", page)
	}
	csrf := page[i+len(`name="csrf" value="`):]
	csrf = csrf[:strings.Index(csrf, `"`)]
	same := func(r *http.Request) {
		r.Header.Set("Origin", "http://127.0.0.1:8080")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for _, tc := range []struct {
		name string
		form url.Values
		mod  func(*http.Request)
		code int
	}{
		{"no cookie", url.Values{"csrf": {csrf}}, func(r *http.Request) { same(r); r.Header.Del("Cookie") }, 401},
		{"token in Referer only", url.Values{"csrf": {csrf}}, func(r *http.Request) {
			same(r)
			r.Header.Del("Cookie")
			r.Header.Set("Referer", "http://127.0.0.1:8080/loops/alpha?token="+testToken)
		}, 401},
		{"no origin", url.Values{"csrf": {csrf}}, nil, 403},
		{"cross-site origin", url.Values{"csrf": {csrf}}, func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") }, 403},
		{"cross-site fetch", url.Values{"csrf": {csrf}}, func(r *http.Request) { same(r); r.Header.Set("Sec-Fetch-Site", "cross-site") }, 403},
		{"no csrf token", url.Values{}, same, 403},
		{"wrong csrf token", url.Values{"csrf": {"x"}}, same, 403},
		{"stop", url.Values{"csrf": {csrf}}, same, 303},
		{"start", url.Values{"csrf": {csrf}}, same, 303},
	} {
		target := "/loops/alpha/stop"
		if tc.name == "start" {
			target = "/loops/alpha/start"
		}
		if r := post(t, h, target, tc.form, tc.mod); r.code != tc.code {
			t.Errorf("%s: POST %s = %d, want %d\n%s", tc.name, target, r.code, tc.code, r.body)
		}
	}
	r := post(t, h, "/loops/alpha/promote", url.Values{"csrf": {csrf}}, same)
	if r.code != 200 || !strings.Contains(r.body, `<span class="badge layer">code</span></td><td>proposed</td>`) || !strings.Contains(r.body, "<code>loop/alpha</code>") {
		t.Errorf("promote = %d\n%s", r.code, r.body)
	}
	if r := post(t, h, "/loops/alpha/explode", url.Values{"csrf": {csrf}}, same); r.code != 404 {
		t.Errorf("unknown action = %d", r.code)
	}
}

func TestPaging(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	m, err := fx.ws.Get("beta")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		gittest.WriteFile(t, m.Worktree, fmt.Sprintf("gen/f%02d.txt", i), fmt.Sprintf("file %d\n", i))
	}
	var big strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&big, "line %d\n", i)
	}
	gittest.WriteFile(t, m.Worktree, "gen/zz-big.txt", big.String())
	gittest.Commit(t, m.Worktree, "beta: many files")
	var lines []string
	for i := range 250 {
		lines = append(lines, claudeLine("user", fmt.Sprintf(`"turn %03d"`, i)))
	}
	gittest.WriteFile(t, filepath.Join(fx.ws.AgentDir("beta"), "projects", "-work"), "s.jsonl", strings.Join(lines, "\n")+"\n")
	h := fx.handler(t, server.Options{})

	r := get(t, h, "/loops/beta")
	if n := strings.Count(r.body, `<details class="file"`); n != 25 {
		t.Errorf("page 1 shows %d files, want 25", n)
	}
	if n := strings.Count(r.body, `<li><a href="?dpage=`); n != 61 {
		t.Errorf("files list has %d entries, want 61", n)
	}
	if !strings.Contains(r.body, `href="?dpage=2#diff"`) || !strings.Contains(r.body, "turn 029") || strings.Contains(r.body, "turn 030") {
		t.Errorf("page 1: no pager or wrong transcript preview")
	}
	r = get(t, h, "/loops/beta?dpage=2")
	if n := strings.Count(r.body, `<details class="file"`); n != 11 || !strings.Contains(r.body, `id="f60"`) || strings.Contains(r.body, `id="f0"`) {
		t.Errorf("page 3 shows %d files", n)
	}
	if !strings.Contains(r.body, "2002 more lines not shown") || strings.Contains(r.body, "line 4999") {
		t.Errorf("the big file is not cut")
	}
	r = get(t, h, "/loops/beta/transcript")
	if !strings.Contains(r.body, "turn 099") || strings.Contains(r.body, "turn 100") || !strings.Contains(r.body, `href="?page=1"`) || strings.Contains(r.body, "Earlier") {
		t.Errorf("transcript page 1 wrong")
	}
	for _, p := range []string{"?page=2", "?page=last"} {
		r = get(t, h, "/loops/beta/transcript"+p)
		if !strings.Contains(r.body, "turn 200") || !strings.Contains(r.body, "turn 249") || strings.Contains(r.body, "turn 199") || strings.Contains(r.body, "Later") || !strings.Contains(r.body, "Earlier") || !strings.Contains(r.body, "page 3") {
			t.Errorf("transcript %s wrong", p)
		}
	}
	r = get(t, h, "/loops/beta/transcript?page=2")
	if !strings.Contains(r.body, "turn 200") || !strings.Contains(r.body, "turn 249") || strings.Contains(r.body, "turn 199") || strings.Contains(r.body, "Later") || !strings.Contains(r.body, "Earlier") {
		t.Errorf("transcript page 3 wrong")
	}
}
