package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/web/server"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

func TestMain(m *testing.M) {
	cmdtest.Main(m, nil)
}

// xss is a payload that must come out inert wherever it is shown.
const xss = `<script>window.pwned=true</script><img src=x onerror="window.pwned=true">`

type fixture struct {
	repo string
	env  cmdtest.Options
	ws   *workspace.Workspace
}

func (fx *fixture) run(t testing.TB, args ...string) string {
	t.Helper()
	r := cmdtest.RunWith(t, fx.repo, fx.env, args...)
	if r.Code != 0 {
		t.Fatalf("git loop %v: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

func service(t testing.TB, repo string, env map[string]string) *workspace.Workspace {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Dir: repo, LookupEnv: func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}}
	f.Engines = cmdutil.NewEngines(f)
	ws, err := f.Workspace(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// claudeLine is one line of a Claude Code session file.
func claudeLine(typ, content string) string {
	return fmt.Sprintf(`{"type":%q,"timestamp":"2026-01-02T03:04:05Z","message":{"role":%q,"content":%s}}`, typ, typ, content)
}

// newFixture is a repository with context layers and three loops: alpha
// (a commit, an uncommitted change and a Claude transcript with an XSS
// payload), beta and gamma; the knowledge layer holds linked markdown
// files, one with an XSS payload.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	fx := &fixture{repo: gittest.Repo(t), env: cmdtest.Options{Env: map[string]string{"GIT_LOOP_HOME": t.TempDir()}}}
	fx.run(t, "init")
	for _, n := range []string{"alpha", "beta", "gamma"} {
		fx.run(t, "new", n, "--driver", "none", "--detach")
	}
	fx.ws = service(t, fx.repo, fx.env.Env)
	m, err := fx.ws.Get("alpha")
	if err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, m.Worktree, "src/hello.go", "package src\n\n// Hello greets.\nfunc Hello() string { return \"hello, loop\" }\n")
	gittest.WriteFile(t, m.Worktree, "README.md", "# demo\n\nchanged by the loop "+xss+"\n")
	gittest.Commit(t, m.Worktree, "alpha: add hello")
	gittest.WriteFile(t, m.Worktree, "README.md", "# demo\n\nchanged by the loop "+xss+"\n\nuncommitted line\n")

	session := filepath.Join(fx.ws.AgentDir("alpha"), "projects", "-work", "s1.jsonl")
	lines := []string{
		claudeLine("user", `"Please add a hello function `+strings.ReplaceAll(xss, `"`, `\"`)+`"`),
		claudeLine("assistant", `[{"type":"thinking","thinking":"SECRET-THOUGHT"},{"type":"text","text":"I will add it in src/hello.go."},{"type":"tool_use","id":"t1","name":"Write","input":{"file_path":"src/hello.go"}}]`),
		claudeLine("user", `[{"type":"tool_result","tool_use_id":"t1","content":"wrote src/hello.go"}]`),
		claudeLine("assistant", `[{"type":"text","text":"Done: Hello() returns \"hello, loop\"."}]`),
	}
	gittest.WriteFile(t, filepath.Dir(session), filepath.Base(session), strings.Join(lines, "\n")+"\n")

	know, err := fx.ws.LayerClone(workspace.Knowledge)
	if err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, know, "guides/setup.md", "# Setup\n\nSee [[style]] and [[nowhere]].\n\n"+xss+"\n\n[click](javascript:alert(1))\n")
	gittest.WriteFile(t, know, "style.md", "# Style\n\nKeep it **simple**. Back to [[setup|the setup guide]].\n")
	notes, err := fx.ws.LayerClone(workspace.Notes)
	if err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, notes, "focus.md", "# Focus\n\n## pinned\n\n- alpha hello function\n\n## listed\n\n- beta cleanup\n")
	gittest.WriteFile(t, notes, "inbox.md", "- look at gamma "+xss+"\n")
	personal, err := fx.ws.LayerClone(workspace.Personal)
	if err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, personal, "vaults/work/envs/API_TOKEN", "VAULT-SECRET-VALUE\n")
	return fx
}

// testToken is the access token of the fixture's servers; get and post
// carry its cookie, as a browser does after the first visit.
const testToken = "test-token-0123456789abcdef"

// authCookie is what a browser sends after visiting the printed URL.
func authCookie(r *http.Request) {
	r.AddCookie(&http.Cookie{Name: server.CookieName(testToken), Value: testToken})
}

// handler serves the fixture as "git loop web" does on loopback (with
// testToken unless opts names another).
func (fx *fixture) handler(t testing.TB, opts server.Options) http.Handler {
	t.Helper()
	if opts.Token == "" {
		opts.Token, opts.Loopback = testToken, true
	}
	opts.Workspace = fx.ws
	h, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type response struct {
	code int
	body string
	hdr  http.Header
}

// get is a GET with the test token's cookie; mod may change anything.
func get(t testing.TB, h http.Handler, target string, mod ...func(*http.Request)) response {
	t.Helper()
	return getBare(t, h, target, append([]func(*http.Request){authCookie}, mod...)...)
}

// getBare is a GET with no cookie.
func getBare(t testing.TB, h http.Handler, target string, mod ...func(*http.Request)) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+target, nil)
	req.Host = "127.0.0.1:8080"
	for _, m := range mod {
		m(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Body.String(), rec.Header()}
}
