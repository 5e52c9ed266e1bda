package server_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/gitloop-dev/git-loop/cmd/internal/web/server"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// chromium finds Debian's chromium (or another Chromium or Chrome).
func chromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on PATH")
}

// outDir is where screenshots go: $GIT_LOOP_TEST_OUT/<test> when set, so
// they outlive the run, else the test's temp dir.
func outDir(t *testing.T) string {
	if d := os.Getenv("GIT_LOOP_TEST_OUT"); d != "" {
		dir := filepath.Join(d, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// browser starts headless Chromium with a fresh profile and no network
// chatter of its own (without those flags it hangs on a closed network).
func browser(t *testing.T) context.Context {
	t.Helper()
	exe, err := chromium()
	sandboxtest.Require(t, err, "chromium", "install it with: sudo apt-get install chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	return ctx
}

func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// TestBrowser opens the viewer in real headless Chromium: the loops page
// lists the three loops, a click leads to a loop with its diff and
// transcript, and the XSS payloads never run.
func TestBrowser(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	fx := newFixture(t)
	srv := httptest.NewServer(fx.handler(t, server.Options{}))
	t.Cleanup(srv.Close)
	dir := outDir(t)

	// Without the token the browser gets the refusal page, nothing else.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`h1`)); err != nil {
		t.Fatal(err)
	}
	if body := text(t, ctx, `body`); !strings.Contains(body, "Access token required") || strings.Contains(body, "alpha") {
		t.Errorf("without the token:\n%s", body)
	}
	// The printed URL sets the cookie and lands on the address without
	// the token.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/?token="+testToken), chromedp.WaitVisible(`tr[data-loop="gamma"]`)); err != nil {
		t.Fatal(err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != srv.URL+"/" {
		t.Errorf("after the token visit: at %q (%v)", loc, err)
	}
	if c, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || c != "" {
		t.Errorf("the page script sees cookie %q (%v): want HttpOnly", c, err)
	}
	rows := text(t, ctx, `#rows`)
	for _, n := range []string{"alpha", "beta", "gamma"} {
		if !strings.Contains(rows, n) {
			t.Errorf("loops page does not list %s:\n%s", n, rows)
		}
	}
	shot(t, ctx, dir, "loops.png")

	// Live: a loop created meanwhile appears without a reload.
	fx.run(t, "new", "delta", "--driver", "none", "--detach")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`tr[data-loop="delta"]`)); err != nil {
		t.Fatalf("new loop never appeared: %v", err)
	}

	if err := chromedp.Do(ctx, chromedp.Click(`a[href="/loops/alpha"]`), chromedp.WaitVisible(`#diff details.file`)); err != nil {
		t.Fatal(err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	diff, convo := text(t, ctx, `#diff`), text(t, ctx, `#transcript`)
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("main script, main img").length`))
	if err != nil {
		t.Fatal(err)
	}
	pwned, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.pwned === true`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(location, "/loops/alpha") {
		t.Errorf("clicked to %s", location)
	}
	for _, w := range []string{"src/hello.go", "func Hello()", "uncommitted line"} {
		if !strings.Contains(diff, w) {
			t.Errorf("diff lacks %q:\n%s", w, diff)
		}
	}
	for _, w := range []string{"Please add a hello function", "<script>window.pwned=true</script>", "I will add it in src/hello.go.", "Done: Hello()"} {
		if !strings.Contains(convo, w) {
			t.Errorf("transcript lacks %q:\n%s", w, convo)
		}
	}
	if strings.Contains(convo, "SECRET-THOUGHT") {
		t.Errorf("thinking shown")
	}
	if scripts != 0 || pwned {
		t.Errorf("payload became live: %d script/img elements in main, pwned=%v", scripts, pwned)
	}
	shot(t, ctx, dir, "loop.png")

	// The other pages, for the record and for a look.
	for _, p := range []struct{ path, wait, file string }{
		{"/context", `.trees`, "context.png"},
		{"/context/knowledge/guides/setup.md", `.markdown`, "markdown.png"},
		{"/focus", `.board`, "focus.png"},
		{"/loops/alpha/compose", `table.prov`, "compose.png"},
		{"/loops/alpha/compose/CLAUDE.md", `article.markdown`, "compose-file.png"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+p.path), chromedp.WaitVisible(p.wait)); err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		shot(t, ctx, dir, p.file)
	}

	// The loop page shows line numbers beside the diff (drawn by CSS, so
	// they are not copied with it) and the loop's commits.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/loops/alpha"), chromedp.WaitVisible(`#diff details.file`)); err != nil {
		t.Fatal(err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#diff .add .ln"), "::after").content`)); err != nil || n == "" || n == "none" || n == `""` {
		t.Errorf("diff line numbers: %q (%v)", n, err)
	}
	if c := text(t, ctx, `#commits`); !strings.Contains(c, "alpha: add hello") {
		t.Errorf("commits section:\n%s", c)
	}
	// At 800 px the loops table fits: no sideways scrolling.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(800, 900), chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`#rows`)); err != nil {
		t.Fatal(err)
	}
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || wide {
		w, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		t.Errorf("the loops page scrolls sideways at 800 px (scrollWidth %d, %v)", w, err)
	}
	shot(t, ctx, dir, "loops-800.png")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}

	// Dark mode follows prefers-color-scheme.
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ path, wait, file string }{
		{"/", `#rows`, "loops-dark.png"},
		{"/loops/alpha", `#diff details.file`, "loop-dark.png"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+p.path), chromedp.WaitVisible(p.wait)); err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		shot(t, ctx, dir, p.file)
	}

	// With --allow-actions, the stop button posts from the page itself and
	// passes the same-origin and token checks.
	act := httptest.NewServer(fx.handler(t, server.Options{AllowActions: true}))
	t.Cleanup(act.Close)
	if err := chromedp.Do(ctx, chromedp.Navigate(act.URL+"/loops/gamma?token="+testToken), chromedp.WaitVisible(`form[action="/loops/gamma/stop"] button`)); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, dir, "actions.png")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.before = true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`form[action="/loops/gamma/stop"] button`)); err != nil {
		t.Fatal(err)
	}
	// A new document has loaded once the marker is gone.
	// (Evaluating during the navigation fails; try again.)
	for deadline := time.Now().Add(20 * time.Second); ; {
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!window.before && document.readyState === "complete"`))
		if err == nil && done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new page after stop: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/loops/gamma") {
		body, _ := chromedp.Run(ctx, chromedp.Text(`body`))
		t.Errorf("after stop: at %s (%v): %s", loc, err, body)
	}
	if title, err := chromedp.Run(ctx, chromedp.Title()); err != nil || strings.Contains(title, "Error") {
		t.Errorf("stop failed: %q %v", title, err)
	}
}
