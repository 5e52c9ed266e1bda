package bwrap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// TestNoSetIDFiles: nothing the sandbox writes into its binds is setuid,
// setgid, a device or carries a capability, checked from the host; as root
// and as an unprivileged user.
func TestNoSetIDFiles(t *testing.T) {
	t.Run("invoking-user", func(t *testing.T) { testNoSetIDFiles(t) })
	t.Run("unprivileged", func(t *testing.T) {
		if !sandboxtest.Unprivileged(t) {
			return
		}
		testNoSetIDFiles(t)
	})
}

func testNoSetIDFiles(t *testing.T) {
	e := engine(t)
	spec := newSpec(t)
	extra := filepath.Join(t.TempDir(), "extra")
	if err := os.MkdirAll(extra, 0o755); err != nil {
		t.Fatal(err)
	}
	spec.Mounts = []sandbox.Mount{{Source: extra, Target: extra}}
	for _, n := range []sandbox.Network{sandbox.NetworkNone, sandbox.NetworkIsolated} {
		spec.Network = n
		if n == sandbox.NetworkIsolated && e.NetPath == "" {
			continue
		}
		var out, stderr strings.Builder
		code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", sandboxtest.SetIDAttack, "sh", spec.Workdir, spec.Home, extra}, Stdout: &out, Stderr: &stderr})
		if err != nil || code != 0 {
			t.Fatalf("network %s: attack: %d, %v\n%s", n, code, err, stderr.String())
		}
		if got := strings.TrimSpace(out.String()); got != "done" {
			t.Errorf("network %s: the attack succeeded:\n%s", n, got)
		}
		sandboxtest.AssertNoSetIDFiles(t, spec.Workdir, spec.Home, extra)
	}
}
