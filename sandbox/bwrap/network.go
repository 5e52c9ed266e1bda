package bwrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// installNet says how to get a user-mode network stack, for error
// messages.
const installNet = `install passt (for pasta) or slirp4netns ("sudo apt-get install passt", "sudo dnf install passt"), ` +
	`or set sandbox.network = none (no network at all) or, trusting the agent with every service on this machine, sandbox.network = host`

// ErrNoNetworkTool is wrapped when the isolated network needs pasta or
// slirp4netns and neither is installed.
var ErrNoNetworkTool = errors.New("neither pasta nor slirp4netns is installed")

// netTools are the user-mode network stacks, in the order they are
// preferred: pasta is faster and needs no tap device of ours.
var netTools = []string{"pasta", "slirp4netns"}

// findNetTool returns the first network tool on PATH ("" when none).
func findNetTool() (name, path string) {
	for _, n := range netTools {
		if p, err := exec.LookPath(n); err == nil {
			return n, p
		}
	}
	return "", ""
}

// netArgs are bwrap's network options for policy n. The isolated policy
// also makes bwrap report its child's pid (fd 4), for the network tool.
func netArgs(n sandbox.Network) ([]string, error) {
	switch n.Or() {
	case sandbox.NetworkHost:
		return []string{"--share-net"}, nil
	case sandbox.NetworkNone:
		// --unshare-all made the namespace; bwrap brings its loopback up.
		return nil, nil
	case sandbox.NetworkIsolated:
		return []string{"--info-fd", "4"}, nil
	}
	return nil, fmt.Errorf("unknown network policy %q", n)
}

// gateScript runs in the sandbox before the command when the network is
// isolated. bwrap reports the sandbox's pid (--info-fd) while it is still
// setting the sandbox up, its loopback included, and a network tool
// configuring the namespace then races it; nothing of bwrap's says when
// setup is over. So the script says it (fd 6), waits until the host has
// connected the network (fd 5), closes both and becomes the command. A
// host that gives up closes fd 5: the command never runs.
const gateScript = `printf x >&6; exec 6>&-; read -r go <&5 || exit 125; exec 5<&-; exec "$@"`

// childPid reads the sandbox's pid from bwrap's --info-fd report.
func childPid(r io.Reader) (int, error) {
	var info struct {
		ChildPid int `json:"child-pid"`
	}
	if err := json.NewDecoder(r).Decode(&info); err != nil {
		return 0, fmt.Errorf("read the sandbox's pid: %w", err)
	}
	if info.ChildPid <= 0 {
		return 0, errors.New("read the sandbox's pid: bwrap reported none")
	}
	return info.ChildPid, nil
}

// netStack is a user-mode network stack serving one sandbox.
type netStack struct {
	stop func()
	pid  int // the stack's process, for tests
}

// connect starts tool (pasta or slirp4netns, at path) on the network
// namespace of pid and returns once the sandbox's interface is up.
//
// Both are told never to reach the host's loopback: pasta maps no
// gateway address onto it (--no-map-gw) and forwards no port either way
// (-t/-u/-T/-U none: its default "auto" would splice the sandbox's
// loopback onto every port the host listens on); slirp4netns gets
// --disable-host-loopback. What stays reachable is what any other machine
// could reach: the internet and the host's non-loopback addresses.
func connect(ctx context.Context, tool, path string, pid int) (*netStack, error) {
	// Both need the tun device; a distribution's is open to everyone, a
	// container's may be root's only.
	const rw = 0x2 | 0x4 // W_OK | R_OK
	if err := syscall.Access(TunDevice, rw); err != nil {
		return nil, fmt.Errorf("%s needs to open %s: %w (it is usually mode 0666)", tool, TunDevice, err)
	}
	switch tool {
	case "pasta":
		return connectPasta(ctx, path, pid)
	case "slirp4netns":
		return connectSlirp(ctx, path, pid)
	}
	return nil, fmt.Errorf("unknown network tool %q", tool)
}

func connectPasta(ctx context.Context, path string, pid int) (*netStack, error) {
	pidFile, err := os.CreateTemp("", "gitloop-pasta-*.pid")
	if err != nil {
		return nil, fmt.Errorf("pasta: %w", err)
	}
	pidFile.Close()
	defer os.Remove(pidFile.Name())
	args := []string{"--config-net", "--no-map-gw", "-t", "none", "-u", "none", "-T", "none", "-U", "none",
		"--quiet", "--pid", pidFile.Name()}
	var extra []*os.File
	if os.Geteuid() == 0 {
		// As root pasta would switch to nobody, who may not enter the
		// sandbox's user namespace; and it need not join that namespace
		// (whose root may be another uid) to enter the network's. It
		// isolates itself in namespaces of its own either way.
		args = append(args, "--runas", "0", "--netns", "/proc/"+strconv.Itoa(pid)+"/ns/net", "--netns-only")
	} else {
		// bwrap without privileges makes the network namespace in a user
		// namespace of its own, then moves the sandbox into a nested one,
		// from which the network's cannot be entered: join its owner.
		owner, err := netnsOwner(pid)
		if err != nil {
			return nil, fmt.Errorf("pasta: %w", err)
		}
		defer owner.Close()
		extra = append(extra, owner)
		args = append(args, "--userns", "/proc/self/fd/3", "--netns", "/proc/"+strconv.Itoa(pid)+"/ns/net")
	}
	var stderr bytes.Buffer
	// In the foreground, as a child of this process with a parent-death
	// signal: pasta (Debian 12's) does not notice the namespace it serves
	// ending, and a git loop killed with SIGKILL would leave it running.
	// It writes its pid file once the namespace is configured (in the
	// background it would fork then): that is the ready signal.
	cmd := exec.Command(path, append(args, "--foreground")...)
	cmd.Stderr = &stderr
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	// The parent-death signal fires when the thread that started the
	// child ends: this one is kept until pasta is started.
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return nil, fmt.Errorf("pasta: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	for delay := 200 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		if data, err := os.ReadFile(pidFile.Name()); err == nil && len(bytes.TrimSpace(data)) > 0 {
			return &netStack{stop: stop, pid: cmd.Process.Pid}, nil
		}
		select {
		case err := <-exited:
			exited <- err
			return nil, fmt.Errorf("pasta: %v: %s", err, lastLine(stderr.String()))
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("pasta: %w", ctx.Err())
		case <-time.After(delay):
		}
	}
}

// TunDevice is the device both network tools create the sandbox's
// interface with.
const TunDevice = "/dev/net/tun"

// nsGetUserns is NS_GET_USERNS of linux/nsfs.h, _IO(0xb7, 0x1).
const nsGetUserns = 0xb701

// netnsOwner opens the user namespace that owns pid's network namespace.
func netnsOwner(pid int) (*os.File, error) {
	netns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, err
	}
	defer netns.Close()
	fd, _, errno := syscall.Syscall(syscall.SYS_IOCTL, netns.Fd(), nsGetUserns, 0)
	if errno != 0 {
		return nil, fmt.Errorf("the owner of %s: %w", netns.Name(), errno)
	}
	return os.NewFile(fd, "userns"), nil
}

func connectSlirp(ctx context.Context, path string, pid int) (*netStack, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("slirp4netns: %w", err)
	}
	defer readyR.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return nil, fmt.Errorf("slirp4netns: %w", err)
	}
	args := []string{"--configure", "--mtu=65520", "--disable-host-loopback", "--ready-fd=3", "--exit-fd=4"}
	extra := []*os.File{readyW, exitR}
	if os.Geteuid() != 0 {
		// See connectPasta: join the network namespace's owner.
		owner, err := netnsOwner(pid)
		if err != nil {
			readyW.Close()
			exitR.Close()
			exitW.Close()
			return nil, fmt.Errorf("slirp4netns: %w", err)
		}
		defer owner.Close()
		extra = append(extra, owner)
		args = append(args, "--userns-path=/proc/self/fd/5")
	}
	var stderr bytes.Buffer
	// Not CommandContext: the exit fd ends it, and Wait reaps it.
	cmd := exec.Command(path, append(args, strconv.Itoa(pid), "tap0")...)
	cmd.Stderr = &stderr
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		exitW.Close()
		return nil, fmt.Errorf("slirp4netns: %w", err)
	}
	stop := func() {
		exitW.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := readyR.Read(b)
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("slirp4netns: not ready: %v: %s", err, lastLine(stderr.String()))
	}
	return &netStack{stop: stop}, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "no message"
	}
	return s
}
