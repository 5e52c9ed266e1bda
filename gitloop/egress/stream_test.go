package egress

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// relayPair runs RelayStream and ServeStream on two ends of a pair of
// pipes (the exec's stdin and stdout) and returns the relay's base URL.
func relayPair(t testing.TB, p *Proxy) (base string, stop func()) {
	t.Helper()
	inR, inW := io.Pipe()   // host -> relay (the exec's stdin)
	outR, outW := io.Pipe() // relay -> host (its stdout)
	relayDone := make(chan error, 1)
	go func() { relayDone <- RelayStream(inR, outW); outW.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	port, done, err := ServeStream(ctx, p, outR, inW)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port), func() {
		inW.Close() // the host closes the exec's stdin: the relay ends
		select {
		case err := <-relayDone:
			if err != nil {
				t.Errorf("relay: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the relay did not end when its stdin did")
		}
		cancel()
		<-done
	}
}

// TestRelayStream: requests made to the relay's port reach the upstream
// through the host's proxy, with the host's credential and only with the
// session's token; several at once, and streamed answers as they come.
func TestRelayStream(t *testing.T) {
	gate := make(chan struct{})
	srv, seen := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("stream") == "1" {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: one\n\n")
			w.(http.Flusher).Flush()
			<-gate
			io.WriteString(w, "event: two\n\n")
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, `{"len":%d}`, len(body))
	})
	l, err := Find(Claude, env("ANTHROPIC_BASE_URL", srv.URL), t.TempDir())
	if err == nil {
		t.Fatal("a login without a credential was found")
	}
	home := t.TempDir()
	writeClaudeLogin(t, home, hostAccess, time.Now().Add(time.Hour))
	if l, err = Find(Claude, env("ANTHROPIC_BASE_URL", srv.URL), home); err != nil {
		t.Fatal(err)
	}
	p := NewProxy(l, srv.Client().Transport)
	p.RequireToken("tok")
	base, stop := relayPair(t, p)
	defer stop()

	post := func(tok, body string) (int, string) {
		req, _ := http.NewRequest("POST", base+"/v1/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("wrong", "x"); code != http.StatusUnauthorized {
		t.Errorf("a request without the token: %d %s", code, body)
	}
	big := strings.Repeat("x", 3<<20)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, body := post("tok", big); code != 200 || body != fmt.Sprintf(`{"len":%d}`, len(big)) {
				t.Errorf("a request through the relay: %d %.200s", code, body)
			}
		}()
	}
	wg.Wait()
	for _, r := range seen.all() {
		if got := r.Header.Get("Authorization"); got != "Bearer "+hostAccess {
			t.Errorf("the upstream got %q", got)
		}
	}
	if n := len(seen.all()); n != 8 {
		t.Errorf("the upstream got %d requests, want 8 (the refused one never leaves)", n)
	}

	// A streamed answer's first event arrives before the second is sent.
	req, _ := http.NewRequest("POST", base+"/v1/messages?stream=1", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(resp.Body, buf, len("event: one\n\n"))
	if err != nil || string(buf[:n]) != "event: one\n\n" {
		t.Errorf("the first event: %q %v", buf[:n], err)
	}
	close(gate)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(rest) != "event: two\n\n" {
		t.Errorf("the second event: %q", rest)
	}
}

// A relay that does not say it is ready is not served.
func TestServeStreamNotReady(t *testing.T) {
	for _, said := range []string{"", "hello\n", readyPrefix + "0\n", readyPrefix + "99999\n", strings.Repeat("x", 200)} {
		inR, inW := io.Pipe()
		go io.Copy(io.Discard, inR)
		if _, _, err := ServeStream(context.Background(), &Proxy{}, strings.NewReader(said), inW); err == nil {
			t.Errorf("served a relay that said %q", said)
		}
	}
}

// TestHostileRelay: what runs inside is as hostile as the agent, so the
// host serves a relay's HTTP/2 stream the proxy's rules alone: a request
// for another host, a path off the API, or without the session's token
// is refused and never reaches the upstream; garbage ends the stream.
func TestHostileRelay(t *testing.T) {
	srv, seen := standIn(t, nil)
	home := t.TempDir()
	writeClaudeLogin(t, home, hostAccess, time.Now().Add(time.Hour))
	l, err := Find(Claude, env("ANTHROPIC_BASE_URL", srv.URL), home)
	if err != nil {
		t.Fatal(err)
	}
	p := NewProxy(l, srv.Client().Transport)
	p.RequireToken("tok")
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go fmt.Fprintf(outW, "%s%d\n", readyPrefix, 1)
	_, done, err := ServeStream(ctx, p, outR, inW)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := (&http2.Transport{AllowHTTP: true}).NewClientConn(newStreamConn(inR, outW))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url, tok string
		want     int
	}{
		{"http://evil.example/v1/messages", "tok", 200}, // the host is the upstream's, whatever it says
		{"http://x/api/oauth/claude_cli/create_api_key", "tok", 403},
		{"http://x/v1/messages/../../api/oauth/profile", "tok", 403},
		{"http://x/v1/messages", "", 401},
		{"http://x/v1/messages", Placeholder, 401},
	} {
		req, _ := http.NewRequest("POST", c.url, strings.NewReader("{}"))
		if c.tok != "" {
			req.Header.Set("X-Api-Key", c.tok)
		}
		resp, err := cc.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s with %q: %d, want %d", c.url, c.tok, resp.StatusCode, c.want)
		}
	}
	reqs := seen.all()
	if len(reqs) != 1 || reqs[0].URL.Path != "/v1/messages" {
		t.Errorf("the upstream got %d requests, want the one allowed", len(reqs))
	}
	// Garbage on the stream ends it, and the host's side with it.
	cc.Close()
	go outW.Write([]byte("this is not HTTP/2 at all"))
	outW.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("the host's side did not end with the stream")
	}
}
