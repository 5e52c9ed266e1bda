package bwrap_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/bwrap"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

const installBwrap = `install bubblewrap ("sudo apt-get install bubblewrap")`

// engine returns a bwrap driver that can build sandboxes here, or skips
// (fails under GIT_LOOP_TEST_REQUIRE) saying what is missing.
func engine(t *testing.T) *bwrap.Engine {
	t.Helper()
	e, err := bwrap.New()
	sandboxtest.Require(t, err, "bwrap", installBwrap)
	sandboxtest.Require(t, e.Probe(context.Background()), "bwrap", installBwrap+" on a kernel that allows user namespaces")
	return e
}

func TestSuite(t *testing.T) {
	engine(t)
	sandboxtest.Run(t, func(t *testing.T) sandbox.Engine { return engine(t) }, sandboxtest.Options{})
}

func newSpec(t *testing.T) sandbox.Spec {
	t.Helper()
	root := t.TempDir()
	spec := sandbox.Spec{
		Workspace: "tbwrap",
		Loop:      "solo",
		Workdir:   filepath.Join(root, "work"),
		Home:      filepath.Join(root, "home"),
	}
	for _, d := range []string{spec.Workdir, spec.Home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return spec
}

// TestHostEnvironmentStaysOut runs alone: it sets a variable in the test
// process's own environment.
func TestHostEnvironmentStaysOut(t *testing.T) {
	e := engine(t)
	t.Setenv("GITLOOP_HOST_ONLY_TOKEN", "host-secret")
	t.Setenv("LC_TIME", "C")
	var out strings.Builder
	code, err := e.Exec(t.Context(), newSpec(t), sandbox.Exec{Cmd: []string{"env"}, Stdout: &out})
	if err != nil || code != 0 {
		t.Fatalf("env: %d, %v", code, err)
	}
	env := out.String()
	if strings.Contains(env, "host-secret") {
		t.Errorf("the caller's environment leaked into the sandbox:\n%s", env)
	}
	for _, want := range []string{"PATH=", "LC_TIME=C", "HOME="} {
		if !strings.Contains(env, want) {
			t.Errorf("sandbox env lacks %s:\n%s", want, env)
		}
	}
}

func TestSetupFailureIsAnError(t *testing.T) {
	t.Parallel()
	e := engine(t)
	spec := newSpec(t)
	missing := filepath.Join(t.TempDir(), "missing")
	spec.Mounts = []sandbox.Mount{{Source: missing, Target: missing}}
	var stderr strings.Builder
	code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"true"}, Stderr: &stderr})
	if err == nil || code != 127 || !strings.Contains(err.Error(), missing) {
		t.Errorf("exec with a missing mount source: %d, %v; want an error naming it", code, err)
	}
}

func TestMissingWorkdir(t *testing.T) {
	t.Parallel()
	e := engine(t)
	spec := newSpec(t)
	spec.Workdir = filepath.Join(t.TempDir(), "gone")
	if _, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"true"}}); !errors.Is(err, sandbox.ErrNotFound) {
		t.Errorf("exec in a missing workdir: %v, want ErrNotFound", err)
	}
	if st, err := e.Status(t.Context(), spec); st.State != sandbox.StateMissing || !errors.Is(err, sandbox.ErrNotFound) {
		t.Errorf("status of a missing workdir: %+v, %v", st, err)
	}
}

func TestSystemIsReadOnly(t *testing.T) {
	t.Parallel()
	e := engine(t)
	marker, err := os.CreateTemp("", "gitloop-host-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	t.Cleanup(func() { os.Remove(marker.Name()) })
	var out strings.Builder
	code, err := e.Exec(t.Context(), newSpec(t), sandbox.Exec{
		Cmd:    []string{"sh", "-c", "touch /usr/gitloop-probe /etc/gitloop-probe 2>/dev/null && echo writable; test -e " + marker.Name() + " && echo host-tmp; hostname"},
		Stdout: &out,
	})
	if err != nil || code != 0 {
		t.Fatalf("%d, %v", code, err)
	}
	if got := out.String(); got != "solo\n" {
		t.Errorf("got %q, want /usr and /etc read-only, a private /tmp, hostname solo", got)
	}
}

func TestNoBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := bwrap.New()
	if !errors.Is(err, sandbox.ErrEngineUnreachable) || !strings.Contains(err.Error(), "bubblewrap") {
		t.Errorf("New without bwrap on PATH: %v", err)
	}
	eng, reason, err := sandbox.Auto(t.Context(), 0, bwrap.Candidate(), sandbox.Candidate{
		Name: "none",
		Open: func(context.Context) (sandbox.Engine, error) { return &sandboxtest.Fake{}, nil },
	})
	if err != nil || eng.Name() != "fake" || !strings.Contains(reason, "bwrap unavailable") {
		t.Errorf("auto without bwrap: %v, %q, %v", eng, reason, err)
	}
}

// BenchmarkExec is the cost of one command in a fresh bwrap sandbox.
func BenchmarkExec(b *testing.B) {
	e, err := bwrap.New()
	sandboxtest.Require(b, err, "bwrap", installBwrap)
	root := b.TempDir()
	spec := sandbox.Spec{Workspace: "tbench", Loop: "bench", Workdir: root, Home: root}
	for b.Loop() {
		if code, err := e.Exec(b.Context(), spec, sandbox.Exec{Cmd: []string{"true"}}); err != nil || code != 0 {
			b.Fatalf("exec: %d, %v", code, err)
		}
	}
}
