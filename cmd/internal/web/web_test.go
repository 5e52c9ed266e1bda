package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/web"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

func TestMain(m *testing.M) {
	cmdtest.Main(m, nil)
}

func TestNewCmdWebFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		listen  string
		open    bool
		actions bool
		wantErr bool
	}{
		{args: nil, listen: "127.0.0.1:0"},
		{args: []string{"--listen", "0.0.0.0:8080", "--open", "--allow-actions"}, listen: "0.0.0.0:8080", open: true, actions: true},
		{args: []string{"extra"}, wantErr: true},
	} {
		ios, _, _, _ := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios}
		var got *web.WebOptions
		cmd := web.NewCmdWeb(f, func(_ context.Context, o *web.WebOptions) error { got = o; return nil })
		cmd.SetArgs(tc.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if tc.wantErr {
			if err == nil {
				t.Errorf("%v: no error", tc.args)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got.Listen != tc.listen || got.Open != tc.open || got.AllowActions != tc.actions {
			t.Errorf("%v: %+v", tc.args, got)
		}
	}
}

func serve(t *testing.T, listen string) (url string, out, errOut string) {
	t.Helper()
	repo := gittest.Repo(t)
	if r := cmdtest.Run(t, repo, "new", "demo", "--driver", "none", "--detach"); r.Code != 0 {
		t.Fatalf("new: %s", r.Stderr)
	}
	ios, _, stdout, stderr := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Dir: repo, LookupEnv: os.LookupEnv}
	f.Engines = cmdutil.NewEngines(f)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	opened := ""
	opts := &web.WebOptions{IO: ios, Workspace: f.Workspace, Listen: listen, Open: true,
		Ready: func(u string) { ready <- u }, Browse: func(u string) error { opened = u; return nil }}
	done := make(chan error, 1)
	go func() { done <- web.Run(ctx, opts) }()
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("web: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("web: %v", err)
		}
		if opened != url {
			t.Errorf("--open opened %q, want %q", opened, url)
		}
	})
	return url, stdout.String(), stderr.String()
}

func TestWebServesLoopback(t *testing.T) {
	t.Parallel()
	u, out, errOut := serve(t, "127.0.0.1:0")
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "http://127.0.0.1:") || len(parsed.Query().Get("token")) < 32 || strings.TrimSpace(out) != u {
		t.Errorf("url %q, stdout %q", u, out)
	}
	if !strings.Contains(errOut, "read-only") || strings.Contains(errOut, "beyond this machine") {
		t.Errorf("stderr %q", errOut)
	}
	base := "http://" + parsed.Host + "/"
	resp, err := http.Get(base + "api/loops")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("loopback without token = %d", resp.StatusCode)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err = c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.String() != base {
		t.Errorf("printed URL = %d at %s", resp.StatusCode, resp.Request.URL)
	}
	resp, err = c.Get(base + "api/loops")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name": "demo"`) {
		t.Errorf("GET /api/loops = %d %s", resp.StatusCode, body)
	}
}

func TestWebTokenOffLoopback(t *testing.T) {
	t.Parallel()
	u, _, errOut := serve(t, "0.0.0.0:0")
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	token := parsed.Query().Get("token")
	if len(token) < 32 || !strings.Contains(errOut, "token") {
		t.Fatalf("url %q, stderr %q", u, errOut)
	}
	base := "http://127.0.0.1:" + parsed.Port()
	resp, err := http.Get(base + "/api/loops")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without token = %d", resp.StatusCode)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err = c.Get(base + "/?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.RawQuery != "" {
		t.Errorf("with token = %d at %s", resp.StatusCode, resp.Request.URL)
	}
	// The cookie carries on.
	resp, err = c.Get(base + "/api/loops/demo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("with cookie = %d", resp.StatusCode)
	}
}

func TestWebBadListen(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	err := web.Run(context.Background(), &web.WebOptions{IO: ios, Listen: "nonsense", Workspace: func(context.Context) (*workspace.Workspace, error) { return nil, nil }})
	if err == nil || !strings.Contains(err.Error(), "HOST:PORT") {
		t.Errorf("err = %v", err)
	}
}
