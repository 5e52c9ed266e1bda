package egress

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The proxy's cost per request, against the same request made straight
// to the upstream (a local TLS stand-in, so the TLS handshake is paid
// once per connection on both sides): go test -bench . ./gitloop/egress
func BenchmarkRequest(b *testing.B) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	home := b.TempDir()
	l, err := Find(Claude, env("ANTHROPIC_BASE_URL", srv.URL, "ANTHROPIC_API_KEY", "k"), home)
	if err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(b.TempDir(), "s")
	ps, err := Listen(sock, NewProxy(l, srv.Client().Transport))
	if err != nil {
		b.Fatal(err)
	}
	defer ps.Close()
	// The relay's hop: the sandbox's loopback to the socket.
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer rl.Close()
	go func() {
		for {
			c, err := rl.Accept()
			if err != nil {
				return
			}
			go pipe(c, sock)
		}
	}()
	body := strings.Repeat("x", 48<<10) // a Claude Code request is ~48 KB
	run := func(b *testing.B, c *http.Client, url string) {
		for i := 0; i < b.N; i++ {
			resp, err := c.Post(url+"/v1/messages", "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, srv.Client(), srv.URL) })
	b.Run("proxy", func(b *testing.B) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
		run(b, c, "http://127.0.0.1")
	})
	b.Run("relay+proxy", func(b *testing.B) { run(b, &http.Client{Timeout: 10 * time.Second}, "http://"+rl.Addr().String()) })
	// A remote loop's relay: HTTP/2 over a pair of pipes standing in for
	// the exec's stdin and stdout (the engine's own hop not counted).
	b.Run("stream-relay+proxy", func(b *testing.B) {
		base, stop := relayPair(b, NewProxy(l, srv.Client().Transport))
		defer stop()
		run(b, &http.Client{Timeout: 10 * time.Second}, base)
	})
}

// What "git loop exec" pays to lend the host's login to a client run by
// hand: find the login (a credential file read), serve a proxy on a
// socket of its own, and close it when the exec ends.
func BenchmarkExecProxy(b *testing.B) {
	home := b.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".claude"), 0o700); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".claude", ".credentials.json"), []byte(`{"claudeAiOauth":{"accessToken":"a","refreshToken":"r","expiresAt":4102444800000}}`), 0o600); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		l, err := Find(Claude, env(), home)
		if err != nil {
			b.Fatal(err)
		}
		s, err := Listen(filepath.Join(dir, "exec-x.sock"), NewProxy(l, nil))
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
