package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
)

// A remote loop's sandbox is on an engine that cannot see this host: no
// socket of the host's can be shown to it. Its relay reaches the proxy
// through the one thing both sides have, an exec's stdin and stdout: the
// relay (git-loop, copied into the loop's home) listens on a free port of
// the sandbox's loopback and sends each request it gets as one HTTP/2
// stream over that exec; the host serves the proxy on the other end. The
// proxy stays the host's: its allow-list, its token and the login are
// applied here, to whatever the relay (as hostile as the agent) sends.

// readyPrefix starts the line the relay writes once it listens, before
// the HTTP/2 connection: "git-loop relay ready PORT".
const readyPrefix = "git-loop relay ready "

// RelayStream runs inside a remote loop's sandbox: it listens on a free
// port of the sandbox's loopback, says which on out, then carries each
// HTTP request it gets to the host over in and out (HTTP/2), until in
// ends (the host closed the exec's stdin, or the exec is gone).
func RelayStream(in io.Reader, out io.WriteCloser) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("egress relay: %w", err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if _, err := fmt.Fprintf(out, "%s%d\n", readyPrefix, port); err != nil {
		return fmt.Errorf("egress relay: %w", err)
	}
	conn := newStreamConn(in, out)
	cc, err := (&http2.Transport{AllowHTTP: true}).NewClientConn(conn)
	if err != nil {
		return fmt.Errorf("egress relay: %w", err)
	}
	rp := &httputil.ReverseProxy{
		Transport:     cc,
		FlushInterval: -1, // server-sent events, as they come
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "egress.git-loop"
			pr.Out.Host = "egress.git-loop"
			// HTTP/2 carries no upgrade (a client's WebSocket try): the
			// request goes as a plain one, which the upstream refuses
			// as it would a client without WebSocket.
			pr.Out.Header.Del("Upgrade")
			pr.Out.Header.Del("Connection")
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			apiError(w, http.StatusBadGateway, "git loop's egress relay lost the host: "+err.Error())
		},
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-conn.closed
		_ = srv.Close()
	}()
	// Ctrl-C and the like reach the relay with the exec's other
	// processes: it ends when the host closes its stdin, not before.
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("egress relay: %w", err)
	}
	return nil
}

// ServeStream serves p to a relay (RelayStream) at the other end of r and
// w (the exec's stdout and stdin): it reads the relay's ready line and
// returns the port the relay listens on, then serves in the background
// until the stream ends or ctx is cancelled. done is closed when serving
// has ended.
func ServeStream(ctx context.Context, p *Proxy, r io.Reader, w io.WriteCloser) (port int, done <-chan struct{}, err error) {
	br := bufio.NewReaderSize(r, 4096)
	line, err := readLine(br, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("egress relay: %w", err)
	}
	rest, ok := strings.CutPrefix(line, readyPrefix)
	if port, err = strconv.Atoi(rest); !ok || err != nil || port < 1 || port > 65535 {
		return 0, nil, fmt.Errorf("egress relay: it said %q, not that it is ready", line)
	}
	conn := newStreamConn(br, w)
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		(&http2.Server{MaxConcurrentStreams: 64, MaxReadFrameSize: 1 << 20}).ServeConn(conn, &http2.ServeConnOpts{Context: ctx, Handler: p})
		_ = conn.Close()
	}()
	return port, ch, nil
}

// readLine reads one line of at most max bytes, without its newline.
func readLine(br *bufio.Reader, max int) (string, error) {
	var b []byte
	for len(b) <= max {
		c, err := br.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return string(b), err
		}
		if c == '\n' {
			return string(b), nil
		}
		b = append(b, c)
	}
	return "", errors.New("a line too long")
}

// streamConn is a net.Conn over a reader and a writer (an exec's two
// streams). Deadlines are not kept: the ends are the exec's.
type streamConn struct {
	r      io.Reader
	w      io.WriteCloser
	once   sync.Once
	closed chan struct{}
}

func newStreamConn(r io.Reader, w io.WriteCloser) *streamConn {
	return &streamConn{r: r, w: w, closed: make(chan struct{})}
}

func (c *streamConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil {
		c.once.Do(func() { close(c.closed) })
	}
	return n, err
}

func (c *streamConn) Write(p []byte) (int, error) { return c.w.Write(p) }

func (c *streamConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.w.Close()
}

type stdioAddr struct{}

func (stdioAddr) Network() string { return "stdio" }
func (stdioAddr) String() string  { return "stdio" }

func (c *streamConn) LocalAddr() net.Addr                { return stdioAddr{} }
func (c *streamConn) RemoteAddr() net.Addr               { return stdioAddr{} }
func (c *streamConn) SetDeadline(t time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(t time.Time) error { return nil }

// Stdio is the relay's own stdin and stdout as RelayStream takes them.
func Stdio() (io.Reader, io.WriteCloser) { return os.Stdin, os.Stdout }
