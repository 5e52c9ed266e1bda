package session

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/agent"
	"github.com/gitloop-dev/git-loop/gitloop/egress"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// A remote loop's engine sees nothing of this host: no proxy socket can
// be mounted, and no git-loop either. So the relay is this host's
// git-loop (a static binary), copied once into the loop's home on the
// engine (again only when the binary changes), and run there as
// "git-loop relay --stdio" in an exec of its own beside the agent's: it
// listens on a free port of the sandbox's loopback and carries each
// request over that exec's stdin and stdout (HTTP/2) to the proxy, which
// runs here, in this process. The proxy always requires the session's
// token: the relay's port is on the sandbox's loopback, which on a
// remote engine may be shared (a pod's containers, a host network).

// relayNotThere is the relay exec's exit code when the relay binary is
// not in the loop's home yet (or no longer: the agent can remove it).
const relayNotThere = 125

// relayWrongArch is the copy's exit code when the engine's machine is
// not this one's architecture: this host's git-loop cannot run there.
const relayWrongArch = 124

// relayReadyTimeout bounds the wait for the relay to listen.
const relayReadyTimeout = 30 * time.Second

// relayPutTimeout bounds the copy of the relay into the sandbox: the
// copy runs the sandbox's sh and tar (a tar first on its PATH may never
// read or exit), and a run or shell waits on it.
const relayPutTimeout = 3 * time.Minute

// relayRun runs the relay binary $1 when it is there, else exits 125.
const relayRun = `b=$1; shift; [ -x "$b" ] || exit 125; exec "$b" "$@"`

// relayPut unpacks the relay (the tar stream on stdin) into $1, after
// checking the machine is $2 (uname -m) and removing older copies.
const relayPut = `[ -z "$2" ] || [ "$(uname -m)" = "$2" ] || { uname -m >&2; exit 124; }
mkdir -p "$1" && rm -f "$1"/git-loop-* && exec tar -x -f - -C "$1" --no-same-owner`

// remoteEgress is withEgress for a remote loop: the proxy served here
// over the relay's exec (see above), the client pointed at the relay's
// port with the session's token as its credential. The returned stop ends
// the relay and the proxy.
func remoteEgress(ctx context.Context, s *workspace.Workspace, m *state.Meta, login *egress.Login, eng sandbox.Engine, spec sandbox.Spec, x *sandbox.Exec, point func(base, cred string)) (stop func(), err error) {
	stop = func() {}
	if runtime.GOOS != "linux" {
		s.Reporter().Warn(fmt.Sprintf("loop %s: the host's model login is not relayed: this git-loop is built for %s, not linux; give the agent an API key in the loop's vault instead", m.Name, runtime.GOOS))
		return stop, nil
	}
	bin, err := s.HookBinary()
	if err != nil {
		s.Reporter().Warn(fmt.Sprintf("loop %s: no git-loop binary to relay the host's model login with (%v): the agent runs without it", m.Name, err))
		return stop, nil
	}
	p := egress.NewProxy(login, nil)
	tok, err := requireSessionToken(p)
	if err != nil {
		return stop, err
	}
	inside, err := relayPath(s, m, bin)
	if err != nil {
		return stop, fmt.Errorf("loop %s: egress relay: %w", m.Name, err)
	}
	port, stop, err := startRelay(ctx, eng, spec, p, inside)
	if errors.Is(err, errRelayNotThere) {
		if err = putRelay(ctx, eng, spec, bin, inside); err == nil {
			port, stop, err = startRelay(ctx, eng, spec, p, inside)
		}
	}
	var arch *wrongArchError
	if errors.As(err, &arch) {
		s.Reporter().Warn(fmt.Sprintf("loop %s: the host's model login is not relayed: %v; give the agent an API key in the loop's vault instead", m.Name, err))
		return func() {}, nil
	}
	if err != nil {
		return func() {}, fmt.Errorf("loop %s: %w", m.Name, err)
	}
	point(fmt.Sprintf("http://127.0.0.1:%d", port), tok)
	return stop, nil
}

var errRelayNotThere = errors.New("the relay is not in the loop's home")

type wrongArchError struct{ engine, host string }

func (e *wrongArchError) Error() string {
	return fmt.Sprintf("the engine's machine is %s and this git-loop is built for %s", e.engine, e.host)
}

// relayPath is where the relay lives in the loop's home on the engine:
// named by the binary's size and time, so a new git-loop is copied again.
func relayPath(s *workspace.Workspace, m *state.Meta, bin string) (string, error) {
	fi, err := os.Stat(bin)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%d %d", fi.Size(), fi.ModTime().UnixNano()))
	return path.Join(filepath.ToSlash(s.HomeDir(m.Name)), ".cache", "git-loop", "relay", "git-loop-"+hex.EncodeToString(h[:6])), nil
}

// startRelay runs the relay in the sandbox and serves p to it; it returns
// the relay's port once it listens, and stop, which closes its stdin (it
// ends then) and waits for it.
func startRelay(ctx context.Context, eng sandbox.Engine, spec sandbox.Spec, p *egress.Proxy, inside string) (port int, stop func(), err error) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var errb limitedBuffer
	st := sandbox.StartStream(rctx, eng, spec, sandbox.Exec{
		Cmd: []string{"sh", "-c", relayRun, "sh", inside, "relay", "--stdio"}, Dir: "/", Stderr: &errb,
	})
	timer := time.AfterFunc(relayReadyTimeout, cancel)
	port, done, err := egress.ServeStream(rctx, p, st.Stdout, st.Stdin)
	timer.Stop()
	if err != nil {
		// A relay that said something else may not end when its stdin
		// does, and rctx is cut from the caller's: it gets a moment to
		// exit (125 says the binary is not there), then is ended.
		_ = st.Stdin.Close()
		end := time.AfterFunc(5*time.Second, cancel)
		code, werr := st.Wait()
		end.Stop()
		cancel()
		switch {
		case code == relayNotThere:
			return 0, nil, errRelayNotThere
		case werr != nil:
			return 0, nil, fmt.Errorf("egress relay: %w", werr)
		}
		return 0, nil, fmt.Errorf("egress relay: exit %d: %s: %w", code, strings.TrimSpace(errb.String()), err)
	}
	return port, func() {
		_ = st.Stdin.Close()
		waited := make(chan struct{})
		go func() { _, _ = st.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
		}
		cancel()
		<-done
	}, nil
}

// putRelay copies bin into the sandbox at inside, as a tar stream of one
// file on an exec's stdin.
func putRelay(ctx context.Context, eng sandbox.Engine, spec sandbox.Spec, bin, inside string) error {
	f, err := os.Open(bin)
	if err != nil {
		return fmt.Errorf("egress relay: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("egress relay: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, relayPutTimeout)
	defer cancel()
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: path.Base(inside), Mode: 0o700, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg})
		if err == nil {
			_, err = io.Copy(tw, io.LimitReader(f, fi.Size()))
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	var errb limitedBuffer
	code, err := eng.Exec(ctx, spec, sandbox.Exec{
		Cmd: []string{"sh", "-c", relayPut, "sh", path.Dir(inside), unameOf(runtime.GOARCH)}, Dir: "/", Offline: true, Stdin: pr, Stderr: &errb,
	})
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("egress relay: copy into the sandbox: no end after %s", relayPutTimeout)
	case err != nil:
		return fmt.Errorf("egress relay: copy into the sandbox: %w", err)
	case code == relayWrongArch:
		return &wrongArchError{engine: strings.TrimSpace(errb.String()), host: runtime.GOARCH}
	case code != 0:
		return fmt.Errorf("egress relay: copy into the sandbox: exit %d: %s", code, strings.TrimSpace(errb.String()))
	}
	return nil
}

// unameOf is "uname -m" of a machine of GOARCH arch, or "" when not known
// (the check is then skipped).
func unameOf(arch string) string {
	return map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}[arch]
}

// limitedBuffer keeps the first 4 KiB written to it: a hostile process's
// stderr is read for a message, never kept whole, and what it keeps goes
// into messages on the user's terminal, so a control character (an
// escape sequence) is kept as "?".
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - b.Len(); room > 0 {
		for _, c := range p[:min(len(p), room)] {
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
				c = '?'
			}
			b.Buffer.WriteByte(c)
		}
	}
	return len(p), nil
}

// handRemote is egressByHand for a remote loop. There is no wrapper on
// the sandbox's PATH to find a client run by hand, and a relay costs an
// exec of its own, so it is started for the clients this exec names: a
// terminal (shell, exec -t) or a command "claude" for Claude Code, which
// takes its base URL from the env; a command "codex" for Codex, which
// takes it as a "-c" override after the program.
func handRemote(ctx context.Context, s *workspace.Workspace, m *state.Meta, kind agent.Kind, login *egress.Login, eng sandbox.Engine, spec sandbox.Spec, x *sandbox.Exec) (stop func(), err error) {
	prog := ""
	if len(x.Cmd) > 0 {
		prog = path.Base(x.Cmd[0])
	}
	switch {
	case kind == agent.Claude && (x.TTY || prog == egress.Claude):
	case kind == agent.Codex && prog == egress.Codex:
	default:
		return func() {}, nil
	}
	if x.Env == nil {
		x.Env = map[string]string{}
	}
	return remoteEgress(ctx, s, m, login, eng, spec, x, func(base, cred string) {
		for k := range login.SandboxEnv {
			x.Env[k] = cred
		}
		if kind == agent.Claude {
			x.Env["ANTHROPIC_BASE_URL"] = base
			return
		}
		x.Env["CODEX_API_KEY"] = cred
		x.Cmd = slices.Insert(slices.Clone(x.Cmd), 1, "-c", fmt.Sprintf("openai_base_url=%q", base+"/v1"))
	})
}
