package bwrap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// setIDAttack tries, in every directory given, each way a process can leave
// a file that runs with its uid (or group) for whoever starts it, or a
// device node, or a file capability. Every line it prints is a success.
const setIDAttack = `for d; do
  cp /bin/sh "$d/u" && chmod u+s "$d/u" 2>/dev/null && [ -u "$d/u" ] && echo "chmod u+s in $d"
  cp /bin/sh "$d/g" && chmod g+s "$d/g" 2>/dev/null && [ -g "$d/g" ] && echo "chmod g+s in $d"
  cp /bin/sh "$d/n" && chmod 4755 "$d/n" 2>/dev/null && [ -u "$d/n" ] && echo "chmod 4755 in $d"
  if command -v python3 >/dev/null; then
    python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_CREAT|os.O_WRONLY, 0o6755); os.close(fd)" "$d/c" 2>/dev/null && [ -u "$d/c" ] && echo "open O_CREAT 06755 in $d"
    python3 -c "import os,sys,stat; os.mknod(sys.argv[1], stat.S_IFREG|0o4755)" "$d/m" 2>/dev/null && [ -u "$d/m" ] && echo "mknod S_IFREG|04755 in $d"
  fi
  mknod "$d/null" c 1 3 2>/dev/null && echo "mknod c 1 3 in $d"
  mknod "$d/sda" b 8 0 2>/dev/null && echo "mknod b 8 0 in $d"
  cp /bin/sh "$d/cap" && setcap cap_setuid+ep "$d/cap" 2>/dev/null && echo "setcap in $d"
  mkdir -p "$d/sgid" && chmod g+s "$d/sgid" 2>/dev/null && [ -g "$d/sgid" ] && echo "setgid dir in $d"
done
echo done`

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
		code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", setIDAttack, "sh", spec.Workdir, spec.Home, extra}, Stdout: &out, Stderr: &stderr})
		if err != nil || code != 0 {
			t.Fatalf("network %s: attack: %d, %v\n%s", n, code, err, stderr.String())
		}
		if got := strings.TrimSpace(out.String()); got != "done" {
			t.Errorf("network %s: the attack succeeded:\n%s", n, got)
		}
		sandboxtest.AssertNoSetIDFiles(t, spec.Workdir, spec.Home, extra)
	}
}
