// Package cmdtest runs git loop commands in-process against real
// temporary repositories and captures what they print.
//
// It sits outside cmd/internal on purpose: the end-to-end suites under
// the top-level e2e/ cannot import cmd/internal (Go's internal rule), so
// everything they need from the command tree comes through here.
package cmdtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/root"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
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
	f, out, errOut := NewFactory(dir, o)
	code := root.Run(context.Background(), f, args)
	return Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// NewFactory is the Factory a command run in dir with o gets: test
// streams (o.Stdin on stdin, terminals when o.TTY), o.Env over the
// process environment, and the real sandbox engines. It returns the
// buffers stdout and stderr go to.
func NewFactory(dir string, o Options) (f *cmdutil.Factory, stdout, stderr *bytes.Buffer) {
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(o.Stdin)
	ios.SetStdinTTY(o.TTY)
	ios.SetStdoutTTY(o.TTY)
	ios.SetStderrTTY(o.TTY)
	f = &cmdutil.Factory{IOStreams: ios, Dir: dir, LookupEnv: func(k string) (string, bool) {
		if v, ok := o.Env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}}
	f.Engines = cmdutil.NewEngines(f)
	return f, out, errOut
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

// GitLoop is "git loop args…" in dir through git's own dispatch, as a
// user runs it (Main puts the binary first on PATH).
func GitLoop(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", append([]string{"loop"}, args...)...)
	cmd.Dir = dir
	return cmd
}

// Main is the TestMain of packages that run git loop end to end: it makes
// the environment hermetic (gittest.Hermetic), builds a git-loop binary
// once and puts it first on PATH, so "git loop …" goes through git's own
// dispatch to it, runs the tests and exits. setup, when given, runs before
// the tests with the binary's directory.
func Main(m *testing.M, setup func(binDir string)) {
	root, err := os.MkdirTemp("", "gitloop-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir := filepath.Join(root, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(binDir, "git-loop"), module+"/cmd/git-loop")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build git-loop:", err)
		os.Exit(1)
	}
	// The remote helper for gitloop:: URLs, as make install links it.
	if err := os.Symlink("git-loop", filepath.Join(binDir, "git-remote-gitloop")); err != nil {
		fmt.Fprintln(os.Stderr, "link git-remote-gitloop:", err)
		os.Exit(1)
	}
	if err := gittest.Hermetic(root); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	if setup != nil {
		setup(binDir)
	}
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}

const module = "github.com/gitloop-dev/git-loop"
