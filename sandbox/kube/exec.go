package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/klog/v2"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// wrapper runs a command with its env and directory, which the exec API
// does not carry: the env arrives on stdin ahead of the process's own
// input, as a count of lines and that many lines of shell (export
// KEY='value'), so that no secret is in argv, a URL or the API server's
// audit log. sh's read takes its input a byte at a time from a pipe, so
// what follows the header is the process's stdin, untouched.
const wrapper = `IFS= read -r n || exit 127
s=
while [ "$n" -gt 0 ]; do IFS= read -r l; s="$s$l
"; n=$((n-1)); done
eval "$s"
cd "$0" || exit 127
exec "$@"`

// ttyWrapper reads the env from a file the exec before wrote (a terminal
// would echo a header), then removes it.
const ttyWrapper = `. "$1" && rm -f "$1" || exit 127
cd "$0" || exit 127
shift
exec "$@"`

// envDir is a memory-backed volume in every pod, for a TTY exec's env.
const envDir = "/run/gitloop-env"

// envKey is compiled on first use: a package-level regexp is built in
// every git-loop process.
var envKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// envScript is the env as shell, and its line count.
func envScript(env []string) (string, int, error) {
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if !envKey().MatchString(k) {
			return "", 0, fmt.Errorf("kubernetes exec: env name %q cannot be passed", k)
		}
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
	}
	return b.String(), strings.Count(b.String(), "\n"), nil
}

// Exec implements sandbox.Engine: it ensures the pod, then runs the
// process through the API server's exec, over WebSocket (v5) or, where an
// upgrade to it fails (an older cluster, a proxy), SPDY.
func (e *Engine) Exec(ctx context.Context, spec sandbox.Spec, x sandbox.Exec) (int, error) {
	if len(x.Cmd) == 0 {
		return 127, errors.New("kubernetes exec: no command")
	}
	if _, err := e.Ensure(ctx, spec); err != nil {
		return 127, err
	}
	dir := x.Dir
	if dir == "" {
		dir = spec.Workdir
	}
	if dir == "" {
		dir = "."
	}
	// HOME is the loop's home on the claim, as docker and bwrap set it:
	// the pod's user has no passwd entry in most images, and the runtime
	// then gives "/", where the loop's .gitconfig is not (seen on a real
	// cluster: commits inside had no author).
	base := map[string]string{}
	if spec.Home != "" {
		base["HOME"] = spec.Home
	}
	for k, v := range spec.Env {
		base[k] = v
	}
	env := sandbox.MergeEnv(base, x.Env)
	sort.Strings(env)
	script, lines, err := envScript(env)
	if err != nil {
		return 127, err
	}
	name := objectName(spec)
	if x.TTY {
		file, err := e.stashEnv(ctx, name, script)
		if err != nil {
			return 127, err
		}
		cmd := append([]string{"sh", "-c", ttyWrapper, dir, file}, x.Cmd...)
		stdin := x.Stdin
		if f, ok := x.Stdin.(*os.File); ok {
			if si := sandbox.NewStoppableInput(f); si != nil {
				defer si.Stop()
				stdin = si
			}
		}
		return e.stream(ctx, name, cmd, stdin, x.Stdout, nil, true, x.Resize)
	}
	header := fmt.Sprintf("%d\n%s", lines, script)
	var in io.Reader = strings.NewReader(header)
	if x.Stdin != nil {
		stdin := x.Stdin
		if f, ok := x.Stdin.(*os.File); ok {
			if si := sandbox.NewStoppableInput(f); si != nil {
				// client-go's copy of stdin outlives the process: stopped
				// here, it leaves what is typed next to the next reader.
				defer si.Stop()
				stdin = si
			}
		}
		in = io.MultiReader(in, stdin)
	}
	cmd := append([]string{"sh", "-c", wrapper, dir}, x.Cmd...)
	return e.stream(ctx, name, cmd, in, x.Stdout, x.Stderr, false, nil)
}

// stashEnv writes the env script to a new file in envDir (umask 077) and
// returns its path.
func (e *Engine) stashEnv(ctx context.Context, pod, script string) (string, error) {
	var out, errb bytes.Buffer
	code, err := e.stream(ctx, pod, []string{"sh", "-c", `umask 077 && f=$(mktemp ` + envDir + `/env.XXXXXX) && cat > "$f" && echo "$f"`},
		strings.NewReader(script), &out, &errb, false, nil)
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("kubernetes exec: env for a terminal: exit %d: %s", code, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// stream runs one exec to its end and returns the exit code.
func (e *Engine) stream(ctx context.Context, pod string, cmd []string, in io.Reader, out, errw io.Writer, tty bool, resize <-chan sandbox.TermSize) (int, error) {
	req := e.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(e.ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container, Command: cmd, TTY: tty,
			Stdin: in != nil, Stdout: out != nil, Stderr: errw != nil && !tty,
		}, core().params)
	ex, err := e.executor(req.URL().String())
	if err != nil {
		return 127, err
	}
	// client-go copies stdout and stderr in two goroutines; callers hand
	// the same writer for both (as docker's single demuxing copy allows),
	// so every write goes through one lock.
	var mu sync.Mutex
	opts := remotecommand.StreamOptions{Stdin: in, Tty: tty}
	if out != nil {
		opts.Stdout = &lockedWriter{mu: &mu, w: out}
	}
	if errw != nil && !tty {
		opts.Stderr = &lockedWriter{mu: &mu, w: errw}
	}
	if tty && resize != nil {
		opts.TerminalSizeQueue = sizeQueue{ctx: ctx, c: resize}
	}
	// client-go logs the ordinary end of a stream ("Copying stdout
	// failed: read stopped", seen on every git fetch on a real cluster)
	// to the process's stderr, the user's terminal: its logger here
	// discards, and what fails comes back as the error.
	err = ex.StreamWithContext(klog.NewContext(ctx, logr.Discard()), opts)
	if err == nil {
		return 0, nil
	}
	var ee utilexec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return ee.ExitStatus(), nil
	}
	if ctx.Err() != nil {
		return 130, ctx.Err()
	}
	return 127, e.wrap("exec in pod "+pod, err)
}

// executor is kubectl's: WebSocket first, SPDY when the upgrade fails.
func (e *Engine) executor(u string) (remotecommand.Executor, error) {
	ws, err := remotecommand.NewWebSocketExecutor(e.cfg, http.MethodGet, u)
	if err != nil {
		return nil, fmt.Errorf("kubernetes exec (websocket): %w", err)
	}
	pu, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	spdy, err := remotecommand.NewSPDYExecutor(e.cfg, http.MethodPost, pu)
	if err != nil {
		return nil, fmt.Errorf("kubernetes exec (spdy): %w", err)
	}
	// The check is client-go's own error type (k8s.io/streaming): the
	// apimachinery one of the same name never matches since v0.37.
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// sizeQueue hands the caller's terminal sizes to the executor.
type sizeQueue struct {
	ctx context.Context
	c   <-chan sandbox.TermSize
}

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case s, ok := <-q.c:
		if !ok {
			return nil
		}
		return &remotecommand.TerminalSize{Width: uint16(s.Width), Height: uint16(s.Height)}
	case <-q.ctx.Done():
		return nil
	}
}
