package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/web"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// victimSecret is in the victim loop's diff: whoever can read that diff
// through the viewer prints it.
const victimSecret = "VICTIM-DIFF-MARKER-5f2c"

// TestWebRefusesWithoutToken is the attack of issue 14: a bwrap loop
// with the host network (sandbox.network = host, an opt-in; the default
// isolated network reaches no loopback service, see the end) has anything
// on loopback in its reach. The viewer, actions enabled, serves on
// 127.0.0.1; from loopback (this test process, and a bwrap loop through
// curl, wget and busybox wget) nothing is readable and no action runs
// without the printed URL's token.
func TestWebRefusesWithoutToken(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	cmdtest.BwrapDriver.Prepare(t, repo)
	gittest.Git(t, repo, "config", "loop.sandbox.network", "host")
	cmdtest.MustRun(t, repo, "new", "victim", "--driver", "none", "--detach")
	cmdtest.MustRun(t, repo, "new", "attacker", "--driver", "bwrap", "--detach")
	victim := cmdtest.ReadMeta(t, repo, "victim").Worktree
	gittest.WriteFile(t, victim, "secret.txt", victimSecret+"\n")
	gittest.Commit(t, victim, "victim: work in progress")

	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Dir: repo, LookupEnv: os.LookupEnv}
	f.Engines = cmdutil.NewEngines(f)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- web.Run(ctx, &web.WebOptions{IO: ios, Workspace: f.Workspace, Listen: "127.0.0.1:0", AllowActions: true,
			Ready: func(u string) { ready <- u }})
	}()
	var printed string
	select {
	case printed = <-ready:
	case err := <-done:
		t.Fatalf("web: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })
	pu, err := url.Parse(printed)
	if err != nil {
		t.Fatal(err)
	}
	token := pu.Query().Get("token")
	base := "http://127.0.0.1:" + pu.Port()

	refused := func(what string, req *http.Request) {
		t.Helper()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s %s = %d, want 401 or 403", what, req.Method, req.URL, resp.StatusCode)
		}
		if strings.Contains(string(body), victimSecret) || strings.Contains(string(body), "victim") {
			t.Errorf("%s: the answer shows the victim loop:\n%s", what, body)
		}
	}
	for _, p := range []string{"/", "/api/loops", "/api/loops/victim/diff", "/loops/victim", "/loops/rows"} {
		req, _ := http.NewRequest(http.MethodGet, base+p, nil)
		refused("no token", req)
		req, _ = http.NewRequest(http.MethodGet, base+p+"?token=0123456789abcdef0123456789abcdef01234567", nil)
		refused("wrong token", req)
		req, _ = http.NewRequest(http.MethodGet, base+p, nil)
		req.Header.Set("Referer", printed)
		refused("token in Referer only", req)
	}
	// An action without the cookie, even dressed as the viewer's own page.
	for _, act := range []string{"stop", "promote"} {
		req, _ := http.NewRequest(http.MethodPost, base+"/loops/victim/"+act, strings.NewReader("csrf=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		req.Header.Set("Referer", printed)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		refused("action without cookie", req)
	}
	if b := gittest.Git(t, repo, "branch", "--list", "loop/victim"); !strings.Contains(b, "loop/victim") {
		t.Errorf("victim branch gone: %q", b)
	}

	// From inside the bwrap loop, every HTTP client it has.
	script := `for p in / /api/loops /api/loops/victim/diff /loops/victim; do
  curl -s --max-time 5 "$1$p"; echo
  wget -q -T 5 -O - "$1$p"; echo
  busybox wget -q -T 5 -O - "$1$p"; echo
done
# The action forms carry a CSRF token: scrape it as a page would, then post
# as the page would.
csrf=$(curl -s --max-time 5 "$1/loops/victim" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)
curl -s --max-time 30 -X POST -H "Origin: $1" -H "Referer: $1/loops/victim" -H "Sec-Fetch-Site: same-origin" -d "csrf=$csrf" "$1/loops/victim/promote"; echo`
	r := cmdtest.Run(t, repo, "exec", "attacker", "--", "sh", "-c", script, "sh", base)
	if strings.Contains(r.Stdout+r.Stderr, victimSecret) || strings.Contains(r.Stdout, `"name": "victim"`) || strings.Contains(r.Stdout, "promoted") {
		t.Errorf("the bwrap loop read the viewer:\n%s\n%s", r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "printed") {
		t.Errorf("the bwrap loop did not reach the viewer (the attack proves nothing):\n%s\n%s", r.Stdout, r.Stderr)
	}

	// With the default network the loop does not even reach the viewer.
	gittest.Git(t, repo, "config", "--unset", "loop.sandbox.network")
	r = cmdtest.Run(t, repo, "exec", "attacker", "--", "sh", "-c", `curl -s --max-time 5 "$1/" && echo reached`, "sh", base)
	if strings.Contains(r.Stdout, "reached") || strings.Contains(r.Stdout, "printed") {
		t.Errorf("a bwrap loop with the isolated network reached the viewer:\n%s\n%s", r.Stdout, r.Stderr)
	}

	// The owner, with the printed URL, still gets in.
	if token == "" {
		t.Fatalf("printed URL %q carries no token", printed)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/loops/victim/diff", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), victimSecret) {
		t.Errorf("with the token = %d\n%s", resp.StatusCode, body)
	}
}
