package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// Exec runs one process in the loop's container, ensuring it first so that
// a stopped container, or one removed behind git loop's back, comes back.
//
// The process gets the image's environment, then HOME (spec.Home), USER and
// LOGNAME (named as the passwd entry create adds when the image has none
// for the uid), then spec.Env, then x.Env. All of
// it goes in the exec request only, never the container config, so docker
// inspect shows none of it.
//
// With x.TTY the engine allocates the terminal: the caller puts its own in
// raw mode and sends sizes on x.Resize. Without it, stdout and stderr come
// back separately. Cancelling ctx detaches and returns; the engine has no
// way to signal an exec, so the process runs on until the container stops.
// Exec returns when the process's output ends, without waiting for Stdin:
// a file (the terminal) is read only when it has input and no longer once
// Exec returns, so nothing typed after the process ends is lost; the copy
// from any other reader may outlive Exec until its next read returns.
// The returned code is the process's exit status; it is 127 with an error
// when the process could not be run at all.
func (e *Engine) Exec(ctx context.Context, spec sandbox.Spec, x sandbox.Exec) (int, error) {
	if len(x.Cmd) == 0 {
		return 127, errors.New("docker exec: no command given")
	}
	if _, err := e.Ensure(ctx, spec); err != nil {
		return 127, err
	}
	opts := execOptions(spec, x)
	created, err := e.cli.ExecCreate(ctx, spec.Name(), opts)
	if cerrdefs.IsConflict(err) || cerrdefs.IsNotFound(err) {
		// Stopped or removed between Ensure and now: once more.
		if _, err := e.Ensure(ctx, spec); err != nil {
			return 127, err
		}
		created, err = e.cli.ExecCreate(ctx, spec.Name(), opts)
	}
	if err != nil {
		return 127, e.wrap(fmt.Sprintf("docker exec %s in %s", x.Cmd[0], spec.Name()), err)
	}
	return e.run(ctx, spec, x, created.ID, opts.ConsoleSize)
}

func execOptions(spec sandbox.Spec, x sandbox.Exec) client.ExecCreateOptions {
	usr := spec.User
	if usr == "" {
		usr = defaultUser()
	}
	name := loginName(usr)
	base := map[string]string{"USER": name, "LOGNAME": name}
	if spec.Home != "" {
		base["HOME"] = spec.Home
	}
	for k, v := range spec.Env {
		base[k] = v
	}
	dir := x.Dir
	if dir == "" {
		dir = spec.Workdir
	}
	opts := client.ExecCreateOptions{
		User:         usr,
		TTY:          x.TTY,
		AttachStdin:  x.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
		Env:          sandbox.MergeEnv(base, x.Env),
		WorkingDir:   dir,
		Cmd:          x.Cmd,
	}
	if x.TTY && x.Resize != nil {
		select {
		case sz := <-x.Resize:
			opts.ConsoleSize = client.ConsoleSize{Height: sz.Height, Width: sz.Width}
		default:
		}
	}
	return opts
}

func (e *Engine) run(ctx context.Context, spec sandbox.Spec, x sandbox.Exec, id string, size client.ConsoleSize) (int, error) {
	what := fmt.Sprintf("docker exec %s in %s", x.Cmd[0], spec.Name())
	att, err := e.cli.ExecAttach(ctx, id, client.ExecAttachOptions{TTY: x.TTY, ConsoleSize: size})
	if err != nil {
		return 127, e.wrap(what, err)
	}
	defer att.Close()

	if size != (client.ConsoleSize{}) {
		// Engines before API 1.42 ignore the size given at create; resize
		// before any input flows, so a process that reads first sees it.
		e.resize(ctx, id, size)
	}
	outF, errF := &startFilter{w: orDiscard(x.Stdout)}, &startFilter{w: orDiscard(x.Stderr)}
	stdout, stderr := io.Writer(outF), io.Writer(errF)
	if x.Stdin != nil {
		in := x.Stdin
		if f, ok := in.(*os.File); ok {
			if si := sandbox.NewStoppableInput(f); si != nil {
				in = si
				defer si.Stop()
			}
		}
		go func() {
			_, _ = io.Copy(att.Conn, in)
			// Without a TTY the process sees EOF only when we half-close
			// the connection. With one, a half-close makes the engine drop
			// the rest of the output; the terminal's own ^D is the EOF.
			if !x.TTY {
				_ = att.CloseWrite()
			}
		}()
	}
	outDone := make(chan error, 1)
	go func() {
		var err error
		if x.TTY {
			_, err = io.Copy(stdout, att.Reader)
		} else {
			_, err = stdcopy.StdCopy(stdout, stderr, att.Reader)
		}
		outDone <- err
	}()
	if x.TTY && x.Resize != nil {
		stop := make(chan struct{})
		defer close(stop)
		go e.forwardResizes(ctx, id, x.Resize, stop)
	}

	select {
	case err := <-outDone:
		if err != nil && ctx.Err() == nil {
			return 127, fmt.Errorf("%s: read output: %w", what, err)
		}
	case <-ctx.Done():
		return 130, fmt.Errorf("%s: %w", what, ctx.Err())
	}
	code, err := e.exitCode(ctx, id, what)
	if err == nil && (code == 126 || code == 127) {
		for _, f := range []*startFilter{outF, errF} {
			if pe := f.programError(x.Cmd[0]); pe != nil {
				return pe.Code(), pe
			}
		}
	}
	outF.release()
	errF.release()
	return code, err
}

func (e *Engine) forwardResizes(ctx context.Context, id string, sizes <-chan sandbox.TermSize, stop <-chan struct{}) {
	for {
		select {
		case sz, ok := <-sizes:
			if !ok {
				return
			}
			e.resize(ctx, id, client.ConsoleSize{Height: sz.Height, Width: sz.Width})
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// resize sets the exec's terminal size. Right after the start the engine
// may not have the terminal yet, so a failure is retried briefly; one
// racing the process's exit fails harmlessly.
func (e *Engine) resize(ctx context.Context, id string, size client.ConsoleSize) {
	for i := range 5 {
		_, err := e.cli.ExecResize(ctx, id, client.ExecResizeOptions(size))
		if err == nil || ctx.Err() != nil {
			return
		}
		time.Sleep(time.Duration(i+1) * 10 * time.Millisecond)
	}
}

// exitCode waits briefly for the engine to record the exit: the output
// stream can close a moment before the exec is marked finished.
func (e *Engine) exitCode(ctx context.Context, id, what string) (int, error) {
	for wait := 5 * time.Millisecond; ; wait *= 2 {
		res, err := e.cli.ExecInspect(ctx, id, client.ExecInspectOptions{})
		if err != nil {
			return 127, e.wrap(what, err)
		}
		if !res.Running {
			return res.ExitCode, nil
		}
		if wait > time.Second {
			return 127, fmt.Errorf("%s: output ended but the process is still running", what)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return 130, fmt.Errorf("%s: %w", what, ctx.Err())
		}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// AllocatesTTY: the engine owns a TTY exec's terminal, so the caller puts
// its own in raw mode and forwards resizes.
func (*Engine) AllocatesTTY() bool { return true }
