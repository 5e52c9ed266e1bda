// Package transport carries commits between the host and a loop's
// sandbox as git packs through git's own protocol, and nothing else: the
// remote helper git-remote-gitloop (the git-loop binary, chosen by argv[0])
// serves URLs gitloop::NAME with the connect capability, running
// git-upload-pack or git-receive-pack inside the loop's sandbox over the
// engine's exec stream; Fetch brings a loop's branch into quarantine refs
// with fsck, a size cap and a timeout, then fast-forwards loop/NAME.
//
// The untrusted side's git runs inside the sandbox, so the host never runs
// git in a repository the agent can write (git's own rule, docs/security.md).
package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// Scheme is the URL scheme: git fetch gitloop::NAME runs
// git-remote-gitloop, and HelperName is what argv[0] is then.
const (
	Scheme     = "gitloop"
	HelperName = "git-remote-gitloop"
)

// The limits reach the helper from the host's fetch through git, in the
// environment (git hands its own on to the helpers it runs); a sandbox
// cannot set them.
const (
	EnvMaxBytes = "GIT_LOOP_TRANSPORT_MAX_BYTES"
	EnvTimeout  = "GIT_LOOP_TRANSPORT_TIMEOUT"
)

// Limits bound one connection.
type Limits struct {
	// MaxBytes is the most the sandbox may send back (the pack and the
	// protocol around it); the connection is cut beyond it. 0: no cap.
	MaxBytes int64
	// Timeout ends the connection, whatever it is doing. 0: none.
	Timeout time.Duration
}

// DefaultLimits are a fetch's limits unless the caller says otherwise:
// room for a large repository's first fetch, and no hang.
var DefaultLimits = Limits{MaxBytes: 2 << 30, Timeout: 10 * time.Minute}

// Env is the limits as EnvMaxBytes and EnvTimeout.
func (l Limits) Env() []string {
	return []string{
		EnvMaxBytes + "=" + strconv.FormatInt(l.MaxBytes, 10),
		EnvTimeout + "=" + l.Timeout.String(),
	}
}

// LimitsFromEnv reads what Env wrote; what is missing or malformed is
// DefaultLimits'.
func LimitsFromEnv() Limits {
	l := DefaultLimits
	if n, err := strconv.ParseInt(os.Getenv(EnvMaxBytes), 10, 64); err == nil && n >= 0 {
		l.MaxBytes = n
	}
	if d, err := time.ParseDuration(os.Getenv(EnvTimeout)); err == nil && d >= 0 {
		l.Timeout = d
	}
	return l
}

// Target is where a connection's service runs: the loop's engine and
// spec, and the repository inside the sandbox (the loop's clone).
type Target struct {
	Engine sandbox.Engine
	Spec   sandbox.Spec
	Dir    string
}

// ErrTooLarge is wrapped when the sandbox sent more than Limits.MaxBytes.
var ErrTooLarge = errors.New("the sandbox sent more than the transport's size cap")

// services are the only commands git may ask the helper to connect to.
var services = map[string]string{
	"git-upload-pack":  "upload-pack",
	"git-receive-pack": "receive-pack",
}

// protocolRe is the one form of GIT_PROTOCOL passed on to the service.
// It is compiled on first use, not in every git-loop process.
var protocolRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^version=[0-9]$`) })

// Serve speaks the remote-helper protocol (gitremote-helpers(7)) with git
// on in and out for one connection: it answers capabilities with connect,
// and on "connect SERVICE" replies a blank line and splices the rest of
// the conversation to SERVICE run inside the target's sandbox. The
// service's stderr reaches errOut with control characters made visible,
// since it is the sandbox's text on the user's terminal.
func Serve(ctx context.Context, in io.Reader, out, errOut io.Writer, t Target, lim Limits) error {
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lim.Timeout)
		defer cancel()
	}
	br := bufio.NewReader(in)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && line == "" {
				return nil // git is done with us
			}
			return fmt.Errorf("%s: read command: %w", HelperName, err)
		}
		cmd := strings.TrimSuffix(line, "\n")
		switch {
		case cmd == "capabilities":
			if _, err := io.WriteString(out, "connect\n\n"); err != nil {
				return err
			}
		case strings.HasPrefix(cmd, "connect "):
			svc, ok := services[strings.TrimPrefix(cmd, "connect ")]
			if !ok {
				return fmt.Errorf("%s: refusing to connect to %q: only git-upload-pack and git-receive-pack", HelperName, strings.TrimPrefix(cmd, "connect "))
			}
			return connect(ctx, br, out, errOut, t, lim, svc)
		case cmd == "":
			return nil
		default:
			return fmt.Errorf("%s: unsupported command %q", HelperName, cmd)
		}
	}
}

func connect(ctx context.Context, in io.Reader, out, errOut io.Writer, t Target, lim Limits, svc string) error {
	env := map[string]string{}
	if p := os.Getenv("GIT_PROTOCOL"); protocolRe().MatchString(p) {
		env["GIT_PROTOCOL"] = p
	}
	var cmd []string
	if svc == "upload-pack" && os.Getenv(EnvSnapshot) == "1" {
		cmd = uploadCmd(t.Dir, nil)
	}
	return splice(ctx, in, out, errOut, t, lim, svc, env, cmd, func() error {
		_, err := io.WriteString(out, "\n") // the helper protocol's "connected"
		return err
	})
}

// splice runs svc inside t's sandbox, with in copied to its stdin (its
// end closes the service's stdin) and its stdout copied to out up to the
// size cap, until it ends. ready, when set, is called once the service
// has started and before any of its output is copied. cmd, when set, is
// what runs for svc (uploadCmd: the snapshot, or more, in the same exec).
func splice(ctx context.Context, in io.Reader, out, errOut io.Writer, t Target, lim Limits, svc string, env map[string]string, cmd []string, ready func() error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stderr := &visible{w: errOut, left: 64 << 10}
	switch {
	case cmd != nil:
	case svc == "receive-pack":
		// A host push (sync's new base) is a few commits: no gc after it
		// in the sandbox's clone, which only the sandbox maintains.
		cmd = []string{"git", "-c", "receive.autogc=false", svc, t.Dir}
	default:
		cmd = []string{"git", svc, t.Dir}
	}
	st := sandbox.StartStream(ctx, t.Engine, t.Spec, sandbox.Exec{
		Cmd:    cmd,
		Env:    env,
		Dir:    t.Dir,
		Stderr: stderr,
		// git's protocol runs over the exec's own streams: no network,
		// so bwrap starts no pasta for it (~44 ms a fetch).
		Offline: true,
	})
	if ready != nil {
		if err := ready(); err != nil {
			cancel()
			_, _ = st.Wait()
			return err
		}
	}
	go func() {
		_, _ = io.Copy(st.Stdin, in)
		_ = st.Stdin.Close() // git closed its side: the service sees EOF
	}()
	var sent atomic.Int64
	_, copyErr := io.Copy(&capped{w: out, n: &sent, max: lim.MaxBytes}, st.Stdout)
	if copyErr != nil {
		cancel() // the cap, or git went away: stop the service
	}
	code, err := st.Wait()
	switch {
	case errors.Is(copyErr, ErrTooLarge):
		return fmt.Errorf("%s: %s in %s: %w (%d bytes)", HelperName, svc, t.Spec.Name(), ErrTooLarge, lim.MaxBytes)
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		return fmt.Errorf("%s: %s in %s: no end after %s", HelperName, svc, t.Spec.Name(), lim.Timeout)
	case copyErr != nil:
		return fmt.Errorf("%s: %s in %s: %w", HelperName, svc, t.Spec.Name(), copyErr)
	case err != nil:
		return fmt.Errorf("%s: %s in %s: %w", HelperName, svc, t.Spec.Name(), err)
	case code != 0:
		return &serviceExit{msg: fmt.Sprintf("%s: git %s in %s exited %d", HelperName, svc, t.Spec.Name(), code), code: code}
	}
	return nil
}

// serviceExit is a service inside that ended with a non-zero code.
type serviceExit struct {
	msg  string
	code int
}

func (e *serviceExit) Error() string { return e.msg }

// capped writes through to w until max bytes (0: no cap), then fails.
type capped struct {
	w   io.Writer
	n   *atomic.Int64
	max int64
}

func (c *capped) Write(p []byte) (int, error) {
	if c.max > 0 && c.n.Add(int64(len(p))) > c.max {
		return 0, ErrTooLarge
	}
	return c.w.Write(p)
}

// visible passes text on with control characters other than newline and
// tab shown as '?', up to left bytes, so the sandbox's stderr cannot drive
// the user's terminal or flood it.
type visible struct {
	w    io.Writer
	left int
}

func (v *visible) Write(p []byte) (int, error) {
	n := len(p)
	if v.w == nil || v.left <= 0 {
		return n, nil
	}
	if len(p) > v.left {
		p = p[:v.left]
	}
	v.left -= len(p)
	b := make([]byte, len(p))
	for i, c := range p {
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			c = '?'
		}
		b[i] = c
	}
	_, _ = v.w.Write(b)
	return n, nil
}
