// Package dockertest gives tests a real Docker engine and local images, or
// skips them (fails under GIT_LOOP_TEST_REQUIRE) with what to install. No
// registry is needed: BusyboxImage is built FROM scratch out of the host's
// static busybox, DebianImage (with git) is debootstrapped from the
// machine's Debian mirror and imported. API looks at the engine directly,
// as a user's docker CLI would, to check what the driver did.
package dockertest

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox/docker"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// BusyboxTag is the test image BusyboxImage builds once per engine.
const BusyboxTag = "gitloop-test/busybox:1"

// TestLabel marks everything tests build, so it can be found and pruned.
const TestLabel = "dev.gitloop.test"

const (
	installDocker  = `install and start a Docker engine ("sudo apt-get install docker.io && sudo systemctl start docker", or run "dockerd"), or point DOCKER_HOST at one`
	installBusybox = `install a static busybox ("sudo apt-get install busybox-static")`
)

// Engine returns a driver for the engine the environment names, closed at
// the end of the test, once it answers a ping.
func Engine(t testing.TB) *docker.Engine {
	t.Helper()
	e, err := docker.New()
	sandboxtest.Require(t, err, "docker", installDocker)
	t.Cleanup(func() { _ = e.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sandboxtest.Require(t, e.Ping(ctx), "docker", installDocker)
	return e
}

// BusyboxImage returns BusyboxTag, building it first when the engine lacks
// it: FROM scratch, /bin/busybox with a symlink per applet, PATH=/bin and a
// world-writable /tmp. Enough for "sleep infinity" and shell-level tests.
func BusyboxImage(t testing.TB, e *docker.Engine) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ok, err := e.ImageExists(ctx, BusyboxTag)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		return BusyboxTag
	}
	bin, err := staticBusybox()
	sandboxtest.Require(t, err, "busybox", installBusybox)
	buildCtx, err := busyboxContext(bin)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	if _, err := e.BuildImage(ctx, docker.BuildOptions{
		Context:  buildCtx,
		Tag:      BusyboxTag,
		Labels:   map[string]string{TestLabel: "1"},
		Progress: &log,
	}); err != nil {
		t.Fatalf("build %s: %v\n%s", BusyboxTag, err, log.String())
	}
	return BusyboxTag
}

// staticBusybox finds a busybox that runs without the host's libraries.
func staticBusybox() (string, error) {
	var tried []string
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		dynamic := false
		for _, prog := range f.Progs {
			dynamic = dynamic || prog.Type == elf.PT_INTERP
		}
		f.Close()
		if !dynamic {
			return p, nil
		}
		tried = append(tried, p+" is dynamically linked")
	}
	if len(tried) == 0 {
		return "", errors.New("no busybox in /bin or /usr/bin")
	}
	return "", errors.New(strings.Join(tried, "; "))
}

func busyboxContext(bin string) (fs.FS, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", bin, err)
	}
	fsys := fstest.MapFS{
		"Dockerfile":         {Data: []byte("FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\n"), Mode: 0o644},
		"rootfs/bin/busybox": {Data: data, Mode: 0o755},
		"rootfs/tmp":         {Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		"rootfs/etc/passwd":  {Data: []byte("root:x:0:0:root:/root:/bin/sh\n"), Mode: 0o644},
		"rootfs/etc/group":   {Data: []byte("root:x:0:\n"), Mode: 0o644},
		"rootfs/root":        {Mode: fs.ModeDir | 0o700},
		"rootfs/bin":         {Mode: fs.ModeDir | 0o755},
		"rootfs/etc":         {Mode: fs.ModeDir | 0o755},
		"rootfs":             {Mode: fs.ModeDir | 0o755},
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet != "busybox" {
			fsys["rootfs/bin/"+applet] = &fstest.MapFile{Data: []byte("busybox"), Mode: fs.ModeSymlink | 0o777}
		}
	}
	return fsys, nil
}
