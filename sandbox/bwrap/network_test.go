package bwrap_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/bwrap"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// withTool is a bwrap driver connecting the isolated network with tool.
func withTool(t *testing.T, tool, pkg string) *bwrap.Engine {
	t.Helper()
	e := engine(t)
	p, err := exec.LookPath(tool)
	sandboxtest.Require(t, err, tool, `install `+pkg+` ("sudo apt-get install `+pkg+`")`)
	return &bwrap.Engine{Path: e.Path, NetTool: tool, NetPath: p}
}

// listen serves TCP on the host's 127.0.0.1 and counts what it accepts.
func listen(t *testing.T) (port string, accepted <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	acc := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			acc <- struct{}{}
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), acc
}

// probe is what a hostile agent tries: the host's loopback by address and
// by name, and the namespace's gateway, which user-mode stacks can map
// onto the host's loopback. It prints one line per target, and the
// interfaces and network namespace it sees.
func probe(port string) string {
	return `try() { if timeout 2 bash -c "exec 3<>/dev/tcp/$1/` + port + `" 2>/dev/null; then echo "reached $1"; else echo "refused $1"; fi; }
try 127.0.0.1; try localhost
gw=$(awk '$2 == "00000000" { print $3; exit }' /proc/net/route)
if [ -n "$gw" ]; then try "$((0x${gw:6:2})).$((0x${gw:4:2})).$((0x${gw:2:2})).$((0x${gw:0:2}))"; fi
echo "ifaces $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ')"
echo "netns $(readlink /proc/self/ns/net)"`
}

func runProbe(t *testing.T, e *bwrap.Engine, spec sandbox.Spec, port string) string {
	t.Helper()
	var out, errOut strings.Builder
	code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"bash", "-c", probe(port)}, Stdout: &out, Stderr: &errOut})
	if err != nil || code != 0 {
		t.Fatalf("probe: exit %d, %v; stderr %s", code, err, errOut.String())
	}
	return out.String()
}

// TestIsolatedNetwork: with each user-mode stack, the sandbox has a
// network namespace of its own with an outward interface, and reaches no
// listener on the host's loopback, not even through its gateway; the
// stack does not outlive the exec.
func TestIsolatedNetwork(t *testing.T) {
	hostNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ tool, pkg string }{{"pasta", "passt"}, {"slirp4netns", "slirp4netns"}} {
		t.Run(tc.tool, func(t *testing.T) {
			t.Parallel()
			e := withTool(t, tc.tool, tc.pkg)
			port, accepted := listen(t)
			out := runProbe(t, e, newSpec(t), port)
			t.Logf("%s:\n%s", tc.tool, out)
			if strings.Contains(out, "reached") {
				t.Errorf("the sandbox reached the host's loopback:\n%s", out)
			}
			if !strings.Contains(out, "refused 127.0.0.1") || strings.Count(out, "refused") < 3 {
				t.Errorf("want the loopback, localhost and the gateway tried:\n%s", out)
			}
			if strings.Contains(out, "netns "+hostNS) {
				t.Errorf("the sandbox is in the host's network namespace %s", hostNS)
			}
			if ifaces := strings.Fields(strings.SplitN(out[strings.Index(out, "ifaces "):], "\n", 2)[0]); len(ifaces) != 3 {
				t.Errorf("want lo and one outward interface, got %v", ifaces[1:])
			}
			select {
			case <-accepted:
				t.Error("the host's listener accepted a connection from the sandbox")
			default:
			}
			waitNoOrphanStack(t)
		})
	}
}

// waitNoOrphanStack fails if a pasta or slirp4netns this process
// started is still running: each exec must stop the stack it started.
// Only this process's children count (the stacks are, since they die
// with it), so other tests' and other programs' sandboxes on the machine
// cannot make it fail.
func waitNoOrphanStack(t *testing.T) {
	t.Helper()
	var orphans []string
	for range 40 {
		orphans = stacksOf(os.Getpid())
		if len(orphans) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("network stacks outlive their sandbox: %v", orphans)
}

// stacksOf lists the pasta and slirp4netns processes whose parent is
// pid, as "PID cmdline".
func stacksOf(pid int) []string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(data), ')')
		j := strings.IndexByte(string(data), '(')
		if i < 0 || j < 0 {
			continue
		}
		comm := string(data[j+1 : i])
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(pid) || f[0] == "Z" {
			continue
		}
		if strings.HasPrefix(comm, "pasta") || strings.HasPrefix(comm, "passt") || comm == "slirp4netns" {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(filepath.Dir(p), "/proc/"), "/stat")+" "+comm)
		}
	}
	return out
}

// TestStackDiesWithGitLoop: a git loop killed with SIGKILL mid-exec
// (here a copy of the test binary running an exec of "sleep") takes its
// network stack with it: pasta is its child with a parent-death signal
// (Debian 12's pasta does not notice the namespace ending by itself).
func TestStackDiesWithGitLoop(t *testing.T) {
	if os.Getenv("GITLOOP_TEST_STACK_HELPER") == "1" {
		e := withTool(t, os.Getenv("GITLOOP_TEST_STACK_TOOL"), "")
		code, err := e.Exec(context.Background(), newSpec(t), sandbox.Exec{Cmd: []string{"sleep", "60"}, Stdout: os.Stdout, Stderr: os.Stderr})
		t.Logf("exec: %d %v", code, err)
		return
	}
	for _, tc := range []struct{ tool, pkg string }{{"pasta", "passt"}, {"slirp4netns", "slirp4netns"}} {
		t.Run(tc.tool, func(t *testing.T) {
			t.Parallel()
			withTool(t, tc.tool, tc.pkg)
			cmd := exec.Command(os.Args[0], "-test.run=^TestStackDiesWithGitLoop$", "-test.count=1")
			cmd.Env = append(os.Environ(), "GITLOOP_TEST_STACK_HELPER=1", "GITLOOP_TEST_STACK_TOOL="+tc.tool)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			var stacks []string
			for deadline := time.Now().Add(30 * time.Second); len(stacks) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				stacks = stacksOf(cmd.Process.Pid)
			}
			if len(stacks) == 0 {
				t.Fatalf("the helper started no network stack:\n%s", out.String())
			}
			// Its command line names a pid file (pasta) or a pid (slirp4netns)
			// of this exec's alone: whatever process carries it, forked or
			// not, is this exec's stack.
			pid, _ := strconv.Atoi(strings.Fields(stacks[0])[0])
			argv, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			var alive []int
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if alive = withCmdline(argv); len(alive) == 0 {
					return
				}
			}
			t.Errorf("%s outlived the killed git loop: pids %v", tc.tool, alive)
			for _, p := range alive {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		})
	}
}

// withCmdline lists the live (not zombie) processes whose command line is
// argv.
func withCmdline(argv []byte) []int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []int
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil || string(data) != string(argv) {
			continue
		}
		dir := filepath.Dir(p)
		if stat, err := os.ReadFile(dir + "/stat"); err == nil && strings.Contains(string(stat), ") Z ") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(dir))
		out = append(out, pid)
	}
	return out
}

// TestNetworkNone: loopback only, and no network tool needed.
func TestNetworkNone(t *testing.T) {
	t.Parallel()
	e := &bwrap.Engine{Path: engine(t).Path}
	spec := newSpec(t)
	spec.Network = sandbox.NetworkNone
	port, _ := listen(t)
	out := runProbe(t, e, spec, port)
	if strings.Contains(out, "reached") || !strings.Contains(out, "ifaces lo \n") {
		t.Errorf("with sandbox.network = none:\n%s", out)
	}
}

// TestOffline: an exec that needs no network gets loopback only, whatever
// the policy, and needs no network tool.
func TestOffline(t *testing.T) {
	t.Parallel()
	e := &bwrap.Engine{Path: engine(t).Path}
	port, _ := listen(t)
	for _, n := range []sandbox.Network{sandbox.NetworkIsolated, sandbox.NetworkHost} {
		spec := newSpec(t)
		spec.Network = n
		var out, errOut strings.Builder
		code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"bash", "-c", probe(port)}, Offline: true, Stdout: &out, Stderr: &errOut})
		if err != nil || code != 0 {
			t.Fatalf("offline exec with %s: %d, %v: %s", n, code, err, errOut.String())
		}
		if strings.Contains(out.String(), "reached") || !strings.Contains(out.String(), "ifaces lo \n") {
			t.Errorf("offline exec with %s:\n%s", n, out.String())
		}
	}
}

// TestNetworkHost: the explicit opt-in shares the host's network,
// loopback included (what every bwrap loop had before).
func TestNetworkHost(t *testing.T) {
	t.Parallel()
	e := &bwrap.Engine{Path: engine(t).Path}
	spec := newSpec(t)
	spec.Network = sandbox.NetworkHost
	port, _ := listen(t)
	if out := runProbe(t, e, spec, port); !strings.Contains(out, "reached 127.0.0.1") {
		t.Errorf("with sandbox.network = host the host's loopback is out of reach:\n%s", out)
	}
}

// TestNoNetworkTool: without pasta and slirp4netns the isolated network
// fails before anything runs, naming both packages and the settings that
// do without them.
func TestNoNetworkTool(t *testing.T) {
	t.Parallel()
	e := &bwrap.Engine{Path: engine(t).Path}
	marker := filepath.Join(t.TempDir(), "ran")
	_, err := e.Exec(t.Context(), newSpec(t), sandbox.Exec{Cmd: []string{"touch", marker}})
	if !errors.Is(err, bwrap.ErrNoNetworkTool) {
		t.Fatalf("exec without a network tool: %v, want ErrNoNetworkTool", err)
	}
	for _, want := range []string{"passt", "slirp4netns", "sandbox.network = none", "sandbox.network = host"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran without its network")
	}
}

// TestNoCapabilitiesAsUser: as another uid (git loop as root running a
// loop as a user), the process has no capability either, and the setuid
// umount cannot lift the tmpfs that hides other loops' state.
func TestNoCapabilitiesAsUser(t *testing.T) {
	t.Parallel()
	e := engine(t)
	spec := newSpec(t)
	if os.Getuid() == 0 {
		spec.User = "4242:4242"
	}
	hidden := filepath.Join(t.TempDir(), "loops")
	if err := os.MkdirAll(hidden, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hidden, "other"), []byte("private"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec.Mounts = []sandbox.Mount{{Target: hidden, Tmpfs: true}}
	var out strings.Builder
	code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c",
		"id -u; grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; umount " + hidden + " 2>&1; umount -l " + hidden + " 2>&1; cat " + hidden + "/other 2>&1; true"},
		Stdout: &out, Stderr: &out})
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %s", code, err, out.String())
	}
	got := out.String()
	if !strings.Contains(got, "CapEff:\t0000000000000000") || !strings.Contains(got, "NoNewPrivs:\t1") || strings.Contains(got, "private") {
		t.Errorf("as %q:\n%s", spec.User, got)
	}
}

// TestUnprivileged: as a user without privileges (how most people run
// git loop), each tool joins the sandbox's user namespaces to connect it;
// the host's loopback stays out of reach and no capability is held.
func TestUnprivileged(t *testing.T) {
	if !sandboxtest.Unprivileged(t) {
		return
	}
	tun, err := os.OpenFile(bwrap.TunDevice, os.O_RDWR, 0)
	sandboxtest.Require(t, err, "tun-device", bwrap.TunDevice+" open to every user (mode 0666, as distributions ship it)")
	tun.Close()
	for _, tc := range []struct{ tool, pkg string }{{"pasta", "passt"}, {"slirp4netns", "slirp4netns"}} {
		e := withTool(t, tc.tool, tc.pkg)
		port, _ := listen(t)
		out := runProbe(t, e, newSpec(t), port)
		if strings.Contains(out, "reached") || !strings.Contains(out, "refused 127.0.0.1") || strings.Count(out, "refused") < 3 {
			t.Errorf("%s as uid %d:\n%s", tc.tool, os.Getuid(), out)
		}
		var caps strings.Builder
		if code, err := e.Exec(t.Context(), newSpec(t), sandbox.Exec{Cmd: []string{"grep", "CapEff", "/proc/self/status"}, Stdout: &caps}); err != nil || code != 0 || !strings.Contains(caps.String(), "0000000000000000") {
			t.Errorf("%s: capabilities: exit %d, %v, %q", tc.tool, code, err, caps.String())
		}
	}
	waitNoOrphanStack(t)
}

// BenchmarkExecNetwork is what each network costs an exec: none (no
// tool), and the isolated network through each tool.
func BenchmarkExecNetwork(b *testing.B) {
	base, err := bwrap.New()
	sandboxtest.Require(b, err, "bwrap", installBwrap)
	root := b.TempDir()
	for _, tc := range []struct {
		name, tool string
		net        sandbox.Network
	}{{"none", "", sandbox.NetworkNone}, {"host", "", sandbox.NetworkHost}, {"pasta", "pasta", sandbox.NetworkIsolated}, {"slirp4netns", "slirp4netns", sandbox.NetworkIsolated}} {
		b.Run(tc.name, func(b *testing.B) {
			e := &bwrap.Engine{Path: base.Path}
			if tc.tool != "" {
				p, err := exec.LookPath(tc.tool)
				sandboxtest.Require(b, err, tc.tool, "install "+tc.tool)
				e.NetTool, e.NetPath = tc.tool, p
			}
			spec := sandbox.Spec{Workspace: "tbench", Loop: "bench", Workdir: root, Home: root, Network: tc.net}
			for b.Loop() {
				if code, err := e.Exec(b.Context(), spec, sandbox.Exec{Cmd: []string{"true"}}); err != nil || code != 0 {
					b.Fatalf("exec: %d, %v", code, err)
				}
			}
		})
	}
}
