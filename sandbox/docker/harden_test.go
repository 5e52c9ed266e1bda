package docker_test

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// TestHardenedDebian: with no-new-privileges and the dropped capabilities,
// what an agent does still works in a Debian image, as root inside and as
// an unknown uid: a shell, git (init, commit, branch), a script that
// writes files and runs pipelines; while raw sockets are gone, a setuid
// binary grants nothing and an x32 syscall ends its process.
func TestHardenedDebian(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	img := dockertest.DebianImage(t, e)
	users := []string{""}
	if os.Getuid() == 0 {
		users = append(users, "4242:4243")
	}
	for _, usr := range users {
		t.Run("user="+usr, func(t *testing.T) {
			t.Parallel()
			spec := newSpec(t, img)
			spec.User = usr
			if usr != "" {
				for _, d := range []string{spec.Workdir, spec.Home} {
					if err := os.Chown(d, 4242, 4243); err != nil {
						t.Fatal(err)
					}
				}
			}
			removeAfter(t, e, spec)
			script := `set -e
git init -q repo && cd repo
git -c user.name=a -c user.email=a@example.com commit -q --allow-empty -m one
git checkout -q -b feature
printf 'x\n' > f && git add f && git -c user.name=a -c user.email=a@example.com commit -q -m two
test "$(git rev-list --count HEAD)" = 2
for i in 1 2 3; do echo "line $i"; done | grep -c line | (read n; test "$n" = 3)
perl -e 'open(F, ">", "p") or die; print F "ok"' && test "$(cat p)" = ok
grep -E '^(CapBnd|NoNewPrivs):' /proc/self/status
if su -c true root </dev/null 2>/dev/null; then echo su-worked; fi
if [ "$(uname -m)" = x86_64 ]; then
  perl -e 'syscall(39) > 0 or die' && echo native-syscall
  if perl -e 'syscall(0x40000000 + 39)' 2>/dev/null; then echo x32-ran; else echo "x32 $?"; fi
fi
`
			var out, errOut strings.Builder
			code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"bash", "-c", script}, Stdout: &out, Stderr: &errOut})
			if err != nil || code != 0 {
				t.Fatalf("agent-like script: exit %d, %v\nstdout %s\nstderr %s", code, err, out.String(), errOut.String())
			}
			if usr != "" && strings.Contains(out.String(), "su-worked") {
				t.Error("su gained root inside the sandbox")
			}
			if !strings.Contains(out.String(), "NoNewPrivs:\t1") {
				t.Errorf("no-new-privileges not set: %s", out.String())
			}
			// The x32 ABI is out of the profile (as in bwrap's filter):
			// its syscalls end the process, the native ones run.
			if runtime.GOARCH == "amd64" && (!strings.Contains(out.String(), "native-syscall") || !strings.Contains(out.String(), "x32 159")) {
				t.Errorf("want native syscalls to run and x32 ones to end the process (SIGSYS, 159): %s", out.String())
			}
			bnd := capSet(t, out.String(), "CapBnd")
			const netRaw, mknod = 13, 27
			if bnd&(1<<netRaw) != 0 || bnd&(1<<mknod) != 0 {
				t.Errorf("bounding set %x still has NET_RAW or MKNOD", bnd)
			}
		})
	}
}

// TestForkBombBounded: a fork bomb inside stops at the pids limit, as
// the engine counts (asked from the host), and the sandbox answers again
// once the bomb is killed.
func TestForkBombBounded(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	spec := newSpec(t, dockertest.BusyboxImage(t, e))
	spec.Limits.Pids = 64
	removeAfter(t, e, spec)
	// The classic bomb; its first shell returns at once, the rest run on.
	// Loops that start sleepers until a fork fails: the sleepers hold
	// their pids, so the count shows where the engine stopped them. (A
	// classic "b() { b | b & }" fizzles under the init, which reaps its
	// lineages as fast as they fail.) Output goes to /dev/null inside: on
	// the exec's streams, closed when it returns, the shells would die of
	// SIGPIPE.
	bomb := "for i in 1 2 3 4; do (while :; do sleep 100 & done) & done >/dev/null 2>&1 </dev/null"
	_, _ = e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", bomb}})
	time.Sleep(time.Second)
	n := dockertest.NewAPI(t).Pids(t, spec.Name())
	t.Logf("%d processes in the container during the bomb (limit 64)", n)
	if n < 48 || n > 64 {
		t.Errorf("%d processes in the container during the bomb, want it held at the limit 64", n)
	}
	// Recover as a user would: stop kills every process, exec starts it
	// again.
	if err := e.Stop(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	var after strings.Builder
	if code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"echo", "alive"}, Stdout: &after}); err != nil || code != 0 || after.String() != "alive\n" {
		t.Errorf("the sandbox after the bomb: exit %d, %v, %q", code, err, after.String())
	}
}

func capSet(t *testing.T, status, name string) uint64 {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %q", name, status)
	return 0
}

// TestNoSetIDFiles: nothing a container writes into its binds is setuid,
// setgid, a device or carries a capability, checked from the host, as root
// inside (git loop run as root) and as the invoking user.
func TestNoSetIDFiles(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	img := dockertest.DebianImage(t, e)
	users := []string{""}
	if os.Getuid() == 0 {
		users = append(users, "4242:4243")
	}
	for _, usr := range users {
		t.Run("user="+usr, func(t *testing.T) {
			t.Parallel()
			spec := newSpec(t, img)
			spec.User = usr
			if usr != "" {
				for _, d := range []string{spec.Workdir, spec.Home} {
					if err := os.Chown(d, 4242, 4243); err != nil {
						t.Fatal(err)
					}
				}
			}
			removeAfter(t, e, spec)
			var out, errOut strings.Builder
			code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", sandboxtest.SetIDAttack, "sh", spec.Workdir, spec.Home}, Stdout: &out, Stderr: &errOut})
			if err != nil || code != 0 {
				t.Fatalf("attack: exit %d, %v\n%s", code, err, errOut.String())
			}
			if got := strings.TrimSpace(out.String()); got != "done" {
				t.Errorf("the attack succeeded:\n%s", got)
			}
			sandboxtest.AssertNoSetIDFiles(t, spec.Workdir, spec.Home)
		})
	}
}
