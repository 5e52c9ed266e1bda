package sandboxe2e_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

// hostileProcess is what a hijacked agent runs to get out of its
// process and network confinement: the host's loopback services (where
// git loop web and a Docker API on tcp listen) by address, by name and
// through the gateway that user-mode network stacks can map onto the
// host; capabilities and mounts, to lift the tmpfs that hides the other
// loops' state, directly, lazily, and from a user namespace of its own.
// Every line it prints that is not "refused", "failed" or a status field
// is a success of the attack.
const hostileProcess = `port=$1 state=$2
try() { if timeout 2 bash -c "exec 3<>/dev/tcp/$1/$port" 2>/dev/null; then echo "reached $1"; else echo "refused $1"; fi; }
try 127.0.0.1; try localhost; try ::1
gw=$(awk '$2 == "00000000" { print $3; exit }' /proc/net/route)
if [ -n "$gw" ]; then try "$((0x${gw:6:2})).$((0x${gw:4:2})).$((0x${gw:2:2})).$((0x${gw:0:2}))"; fi
grep -E '^(CapEff|NoNewPrivs):' /proc/self/status
umount "$state" 2>/dev/null && echo "unmounted state"
umount -l "$state" 2>/dev/null && echo "lazily unmounted state"
unshare -Urm sh -c "umount '$state' && ls '$state/loops'" 2>/dev/null && echo "unmounted state in a user namespace"
mount -t tmpfs x /tmp 2>/dev/null && echo "mounted a tmpfs"
su -c true root </dev/null >/dev/null 2>&1 && [ "$(id -u)" != 0 ] && echo "became root with su"
cat "$state/host/b/meta.json" >/dev/null 2>&1 && echo "read loop b's record"
cat "$state/host/a/meta.json" >/dev/null 2>&1 && echo "read its own record"
echo "loops: $(ls "$state/loops" | tr '\n' ' ')"
echo failed-to-escape`

// TestHostileProcess: the attack above, run with "git loop exec" in a
// loop on each driver, gets nowhere; the host's listener saw no
// connection and loop b's state is intact.
func TestHostileProcess(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			newLoop(t, repo, d, "a")
			newLoop(t, repo, d, "b")
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan string, 8)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					accepted <- c.RemoteAddr().String()
					c.Close()
				}
			}()
			port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
			state := filepath.Join(repo, ".git", "loop")
			r := cmdtest.Run(t, repo, "exec", "a", "--", "bash", "-c", hostileProcess, "attack", port, state)
			out := r.Stdout
			t.Logf("%s: the attack printed:\n%s%s", d.Name, out, r.Stderr)
			if r.Code != 0 || !strings.Contains(out, "failed-to-escape") {
				t.Fatalf("attack script: exit %d\n%s%s", r.Code, out, r.Stderr)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				switch {
				case strings.HasPrefix(line, "refused "), strings.HasPrefix(line, "CapEff:"), strings.HasPrefix(line, "NoNewPrivs:"),
					strings.HasPrefix(line, "loops: "), line == "failed-to-escape":
				default:
					t.Errorf("the attack succeeded: %q", line)
				}
			}
			if !strings.Contains(out, "NoNewPrivs:\t1") {
				t.Error("the sandbox's processes may gain privileges (no_new_privs unset)")
			}
			if d.Name == "bwrap" && !strings.Contains(out, "CapEff:\t0000000000000000") {
				t.Error("bwrap sandbox holds capabilities")
			}
			if !strings.Contains(out, "loops: a \n") {
				t.Error("the sandbox sees other loops' state")
			}
			select {
			case from := <-accepted:
				t.Errorf("the host's loopback listener accepted a connection from %s", from)
			default:
			}
			// The host afterwards: loop b's record and the commands work.
			if _, err := os.Stat(filepath.Join(state, "host", "b", "meta.json")); err != nil {
				t.Errorf("loop b's record: %v", err)
			}
			cmdtest.MustRun(t, repo, "ls")
		})
	}
}

// TestForkBomb: a fork bomb in a docker loop stops at sandbox.pids, as
// the engine counts; the loop comes back with stop and exec. (bwrap's
// limit: TestForkBombBwrap.)
func TestForkBomb(t *testing.T) {
	t.Parallel()
	d := cmdtest.DockerDriver
	repo := newRepo(t, d)
	gittest.Git(t, repo, "config", "loop.sandbox.pids", "100")
	newLoop(t, repo, d, "bomb")
	bomb := "for i in 1 2 3 4; do (while :; do sleep 100 & done) & done >/dev/null 2>&1 </dev/null"
	cmdtest.Run(t, repo, "exec", "bomb", "--", "sh", "-c", bomb)
	time.Sleep(time.Second)
	name := "gitloop-" + workspaceID(t, repo) + "-bomb"
	n := dockertest.NewAPI(t).Pids(t, name)
	t.Logf("%d processes in the container during the bomb (sandbox.pids = 100)", n)
	if n < 80 || n > 100 {
		t.Errorf("%d processes in the container during the bomb, want it held at sandbox.pids = 100", n)
	}
	cmdtest.MustRun(t, repo, "stop", "bomb")
	if out := sh(t, repo, "bomb", "echo alive"); out != "alive\n" {
		t.Errorf("after the bomb: %q", out)
	}
	cmdtest.MustRun(t, repo, "ls")
}

// TestForkBombBwrap: a fork bomb in a bwrap loop, as root (a cgroup per
// loop), stops at sandbox.pids, counted inside without forking; the host
// starts git loop meanwhile, and the loop runs again afterwards.
func TestForkBombBwrap(t *testing.T) {
	t.Parallel()
	d := cmdtest.BwrapDriver
	repo := newRepo(t, d)
	gittest.Git(t, repo, "config", "loop.sandbox.pids", "100")
	newLoop(t, repo, d, "bomb")
	// The shell counts /proc's pids with builtins only: at the limit it
	// could not fork a counter, nor its own sleep (started before the
	// bomb, then waited for with the builtin).
	bomb := `sleep 2 & s=$!
for i in 1 2 3 4; do (while :; do sleep 100 & done) >/dev/null 2>&1 </dev/null & done
wait "$s"; set -- /proc/[0-9]*; echo "$#"`
	done := make(chan cmdtest.Result, 1)
	go func() { done <- cmdtest.Run(t, repo, "exec", "bomb", "--", "sh", "-c", bomb) }()
	time.Sleep(time.Second)
	start := time.Now()
	cmdtest.MustRun(t, repo, "ls")
	t.Logf("git loop ls took %s during the bomb", time.Since(start))
	r := <-done
	n, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if err != nil {
		t.Fatalf("the bomb's count: %q, %v\n%s", r.Stdout, err, r.Stderr)
	}
	t.Logf("%d processes in the sandbox during the bomb (sandbox.pids = 100)", n)
	if n < 80 || n > 100 {
		t.Errorf("%d processes in the sandbox during the bomb, want it held at sandbox.pids = 100", n)
	}
	if strings.Contains(r.Stderr, "cannot enforce") {
		t.Errorf("a warning as root: %s", r.Stderr)
	}
	if out := sh(t, repo, "bomb", "echo alive"); out != "alive\n" {
		t.Errorf("after the bomb: %q", out)
	}
}
