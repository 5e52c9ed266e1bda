package docker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/docker"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

// TestPlacementLocal: the engine of the environment (a local socket) sees
// a nonce file of the host, and says so once, then from its cache.
func TestPlacementLocal(t *testing.T) {
	e := dockertest.Engine(t)
	e.SetCacheDir(t.TempDir())
	img := dockertest.BusyboxImage(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 2 {
		start := time.Now()
		sees, err := e.SeesHostPaths(ctx, sandbox.PlacementAuto, img)
		if err != nil {
			t.Fatal(err)
		}
		if !sees {
			t.Fatalf("probe %d: the local engine does not see this host's files", i)
		}
		t.Logf("probe %d: %s", i, time.Since(start).Round(time.Millisecond))
	}
	if sees, _ := e.SeesHostPaths(ctx, sandbox.PlacementRemote, img); sees {
		t.Error("placement remote still binds host paths")
	}
}

// TestPlacementRemoteEngine: a second, real engine (dockerd in a container,
// reached over tcp) does not see this host's files: the probe says so, and
// a sandbox that binds a host path is refused with the engine named,
// where before it came up with an empty directory in its place.
func TestPlacementRemoteEngine(t *testing.T) {
	e := dockertest.Engine(t)
	img := dockertest.BusyboxImage(t, e)
	e2 := dockertest.Engine2(t, e, img)
	t.Setenv("DOCKER_HOST", e2.Host)
	r, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetCacheDir(t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sees, err := r.SeesHostPaths(ctx, sandbox.PlacementAuto, img)
	if err != nil {
		t.Fatal(err)
	}
	if sees {
		t.Fatal("the second engine sees this host's files")
	}
	dir := t.TempDir()
	spec := sandbox.Spec{Workspace: "remote1", Loop: "bind", Image: img, Workdir: dir,
		Mounts: []sandbox.Mount{{Source: dir, Target: dir}}}
	defer r.Remove(context.Background(), spec)
	_, err = r.Ensure(ctx, spec)
	if !errors.Is(err, sandbox.ErrHostPathsUnseen) {
		t.Fatalf("Ensure with a bind on the second engine: %v, want ErrHostPathsUnseen", err)
	}
	if !strings.Contains(err.Error(), e2.Host) || !strings.Contains(err.Error(), dir) {
		t.Errorf("error does not name the engine and the path: %v", err)
	}
	if st, err := r.Status(ctx, spec); err == nil && st.State != sandbox.StateMissing {
		t.Errorf("a container was left behind: %+v", st)
	}
	// local is the user's word: no probe, no refusal (this engine then
	// fails on its own, since the path is not on its machine).
	spec.Placement = sandbox.PlacementLocal
	if _, err := r.Ensure(ctx, spec); errors.Is(err, sandbox.ErrHostPathsUnseen) {
		t.Fatalf("placement local refused: %v", err)
	}
}
