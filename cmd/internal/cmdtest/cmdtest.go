// Package cmdtest runs git loop commands in-process against real
// temporary repositories and captures what they print.
package cmdtest

import (
	"context"
	"os"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/root"
)

// Result is what one command run produced.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Options tweak a run.
type Options struct {
	Env   map[string]string // extra environment seen by git loop's config
	Stdin string
	TTY   bool // stdin, stdout and stderr are terminals
}

// Run runs "git loop args…" in dir.
func Run(t testing.TB, dir string, args ...string) Result {
	t.Helper()
	return RunWith(t, dir, Options{}, args...)
}

// RunWith runs "git loop args…" in dir with options.
func RunWith(t testing.TB, dir string, o Options, args ...string) Result {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(o.Stdin)
	ios.SetStdinTTY(o.TTY)
	ios.SetStdoutTTY(o.TTY)
	ios.SetStderrTTY(o.TTY)
	f := &cmdutil.Factory{IOStreams: ios, Dir: dir, LookupEnv: func(k string) (string, bool) {
		if v, ok := o.Env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}}
	f.Engines = cmdutil.NewEngines(f)
	code := root.Run(context.Background(), f, args)
	return Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// MustRun runs a command that must succeed.
func MustRun(t testing.TB, dir string, args ...string) Result {
	t.Helper()
	r := Run(t, dir, args...)
	if r.Code != 0 {
		t.Fatalf("git loop %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}
