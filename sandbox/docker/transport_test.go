package docker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/docker"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

// roundTrip runs a sandbox on r and pushes a binary stream through an exec
// (cat), half-closing its stdin: what git's protocol needs of a transport.
func roundTrip(t *testing.T, r *docker.Engine, img, loop string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Every docker sandbox binds its workdir: local placement is the
	// test's word that the engine's own /tmp will do.
	spec := sandbox.Spec{Workspace: "transport1", Loop: loop, Image: img, Workdir: "/tmp", Placement: sandbox.PlacementLocal}
	t.Cleanup(func() { _ = r.Remove(context.Background(), spec) })
	if _, err := r.Ensure(ctx, spec); err != nil {
		t.Fatal(err)
	}
	in := make([]byte, 1<<20)
	_, _ = rand.Read(in)
	var out, errb bytes.Buffer
	code, err := r.Exec(ctx, spec, sandbox.Exec{Cmd: []string{"cat"}, Stdin: bytes.NewReader(in), Stdout: &out, Stderr: &errb})
	if err != nil || code != 0 {
		t.Fatalf("exec cat: %d %v %s", code, err, errb.String())
	}
	if !bytes.Equal(in, out.Bytes()) {
		t.Fatalf("1 MiB through cat came back as %d bytes, not the same", out.Len())
	}
}

// TestSSHEngine: DOCKER_HOST=ssh://… reaches the engine through "docker
// system dial-stdio" run by a real ssh on a real sshd (this machine's, so
// the engine behind it is the local one).
func TestSSHEngine(t *testing.T) {
	e := dockertest.Engine(t)
	img := dockertest.BusyboxImage(t, e)
	host := dockertest.SSHHost(t)
	t.Setenv("DOCKER_HOST", host)
	r, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	if err := r.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("ping over ssh: %s", time.Since(start).Round(time.Millisecond))
	if r.Host() != host {
		t.Errorf("Host() = %q, want %q", r.Host(), host)
	}
	start = time.Now()
	roundTrip(t, r, img, "ssh")
	// auto's short probe (made for a local socket) waits for ssh's
	// handshake instead of falling back to another driver.
	pctx, pcancel := context.WithTimeout(ctx, sandbox.DefaultProbeTimeout)
	if eng, err := docker.Open(pctx); err != nil {
		t.Errorf("auto's probe of an ssh:// engine: %v", err)
	} else {
		_ = eng.(*docker.Engine).Close()
	}
	pcancel()
	t.Logf("ensure, 1 MiB exec, remove over ssh: %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()

	// A host that does not answer is ErrEngineUnreachable, named.
	t.Setenv("DOCKER_HOST", "ssh://root@127.0.0.1:1")
	bad, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Ping(ctx)
	t.Logf("dead host: %s", time.Since(start).Round(time.Millisecond))
	if !errors.Is(err, sandbox.ErrEngineUnreachable) || !strings.Contains(err.Error(), "ssh://root@127.0.0.1:1") {
		t.Errorf("ping of a dead ssh host: %v", err)
	}
}

// TestDockerContext: with DOCKER_HOST unset, the docker CLI's current
// context (made by the real CLI, in its own store) names the engine: here
// the second engine, over tcp.
func TestDockerContext(t *testing.T) {
	e := dockertest.Engine(t)
	img := dockertest.BusyboxImage(t, e)
	e2 := dockertest.Engine2(t, e, img)
	cli, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal(err)
	}
	cfg := t.TempDir()
	for _, args := range [][]string{
		{"context", "create", "engine2", "--docker", "host=" + e2.Host},
		{"context", "use", "engine2"},
	} {
		cmd := exec.Command(cli, append([]string{"--config", cfg}, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	t.Setenv("DOCKER_CONFIG", cfg)
	t.Setenv("DOCKER_HOST", "")
	r, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !strings.Contains(r.Host(), e2.Host) || !strings.Contains(r.Host(), "engine2") {
		t.Errorf("Host() = %q, want %s from context engine2", r.Host(), e2.Host)
	}
	roundTrip(t, r, img, "context")
	api2 := exec.Command(cli, "-H", e2.Host, "ps", "-q", "--filter", "name=gitloop-transport1-context")
	if out, err := api2.Output(); err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Errorf("the sandbox is not on the second engine: %q %v", out, err)
	}
	// DOCKER_CONTEXT names another one; a missing one is an error that
	// says how to list them.
	t.Setenv("DOCKER_CONTEXT", "nope")
	if _, err := docker.New(); err == nil || !strings.Contains(err.Error(), "docker context ls") {
		t.Errorf("missing context: %v", err)
	}
}

// TestSSHRemoteEngine: the second engine reached over ssh:// (its own
// sshd, its own docker CLI running dial-stdio) is a remote engine as git
// loop sees it: the probe finds it blind to this host's files, binds are
// refused (the implicit workdir bind included), and with placement local
// (the user's word) a sandbox runs there.
func TestSSHRemoteEngine(t *testing.T) {
	e := dockertest.Engine(t)
	img := dockertest.BusyboxImage(t, e)
	e2 := dockertest.Engine2(t, e, img)
	host := dockertest.Engine2SSH(t, e2)
	r := remoteEngine(t, host, img)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	spec := sandbox.Spec{Workspace: "transport1", Loop: "sshbind", Image: img, Workdir: dir,
		Mounts: []sandbox.Mount{{Source: dir, Target: dir}}}
	if _, err := r.Ensure(ctx, spec); !errors.Is(err, sandbox.ErrHostPathsUnseen) || !strings.Contains(err.Error(), host) {
		t.Errorf("Ensure with a bind over ssh: %v", err)
	}
	// No mounts but the workdir, which docker binds by itself.
	spec.Mounts = nil
	if _, err := r.Ensure(ctx, spec); !errors.Is(err, sandbox.ErrHostPathsUnseen) {
		t.Errorf("Ensure with only the implicit workdir bind over ssh: %v", err)
	}
	roundTrip(t, r, img, "ssh2")
}
