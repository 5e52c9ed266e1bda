// Package none is the sandbox driver that runs processes directly on the
// host, in the loop's worktree. It isolates nothing; git loop uses it when
// asked to (--driver none) or, with a warning, when no other driver exists.
package none

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// Engine is the none driver. The zero value is ready to use.
type Engine struct{}

// New returns the none driver.
func New() *Engine { return &Engine{} }

func (*Engine) Name() string { return "none" }

func (e *Engine) Ensure(ctx context.Context, spec sandbox.Spec) (sandbox.Status, error) {
	return e.Status(ctx, spec)
}

// Status reports a host "sandbox" as running whenever its workdir exists:
// there is nothing else to start or stop.
func (*Engine) Status(_ context.Context, spec sandbox.Spec) (sandbox.Status, error) {
	st := sandbox.Status{Driver: "none", State: sandbox.StateRunning, ConfigHash: spec.ConfigHash()}
	if _, err := os.Stat(spec.Workdir); err != nil {
		st.State = sandbox.StateMissing
	}
	return st, nil
}

func (*Engine) Exec(ctx context.Context, spec sandbox.Spec, x sandbox.Exec) (int, error) {
	if len(x.Cmd) == 0 {
		return 0, errors.New("exec: no command given")
	}
	dir := x.Dir
	if dir == "" {
		dir = spec.Workdir
	}
	cmd := exec.CommandContext(ctx, x.Cmd[0], x.Cmd[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), sandbox.MergeEnv(spec.Env, x.Env)...)
	cmd.Stdout, cmd.Stderr = x.Stdout, x.Stderr
	var stdin io.WriteCloser
	switch in := x.Stdin.(type) {
	case nil:
	case *os.File:
		cmd.Stdin = in
	default:
		// Copy it ourselves: exec.Cmd's own copy would hold Wait until the
		// reader ends, and a stream's reader may end only after the
		// process has (git's protocol, an interactive caller).
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return 127, fmt.Errorf("run %s: %w", x.Cmd[0], err)
		}
	}
	err := cmd.Start()
	if err == nil {
		if stdin != nil {
			go func() {
				_, _ = io.Copy(stdin, x.Stdin)
				_ = stdin.Close() // the half-close: the process sees EOF
			}()
		}
		err = cmd.Wait()
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exitErr):
		if code := exitErr.ExitCode(); code >= 0 {
			return code, nil
		}
		return 128 + 9, nil // killed by a signal
	default:
		return 127, fmt.Errorf("run %s: %w", x.Cmd[0], err)
	}
}

func (*Engine) Stop(context.Context, sandbox.Spec) error   { return nil }
func (*Engine) Remove(context.Context, sandbox.Spec) error { return nil }

// List has nothing to report: host processes carry no labels.
func (*Engine) List(context.Context, map[string]string) ([]sandbox.Status, error) { return nil, nil }

// Capabilities: the host itself, so every host path is there, and nothing
// is isolated.
func (*Engine) Capabilities() sandbox.Capabilities {
	return sandbox.Capabilities{HostPaths: true}
}
