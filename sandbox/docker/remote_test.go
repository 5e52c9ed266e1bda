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

// remoteEngine returns git loop's engine as DOCKER_HOST names the second
// engine at host (its tcp address, or Engine2SSH's ssh:// one) for t,
// with a probe cache of its own. It fails t unless the probe finds that
// engine blind to this host's files, as a remote one is. (Here, not in
// dockertest: SetCacheDir is this package's test export.)
func remoteEngine(t *testing.T, host, img string) *docker.Engine {
	t.Helper()
	t.Setenv("DOCKER_HOST", host)
	r, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	r.SetCacheDir(t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sees, err := r.SeesHostPaths(ctx, sandbox.PlacementAuto, img)
	if err != nil {
		t.Fatal(err)
	}
	if sees {
		t.Fatalf("the second engine at %s sees this host's files", host)
	}
	return r
}

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
	r := remoteEngine(t, e2.Host, img)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	spec := sandbox.Spec{Workspace: "remote1", Loop: "bind", Image: img, Workdir: dir,
		Mounts: []sandbox.Mount{{Source: dir, Target: dir}}}
	defer r.Remove(context.Background(), spec)
	_, err := r.Ensure(ctx, spec)
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

// TestVolumesOwnedByUser: a remote loop's dirs are named volumes, which
// the engine makes owned by root; a non-root sandbox user owns and writes
// them, they outlive a recreated container, and Remove deletes them.
func TestVolumesOwnedByUser(t *testing.T) {
	e := dockertest.Engine(t)
	img := dockertest.DebianImage(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := "/srv/gitloop-test/" + strings.ReplaceAll(t.Name(), "/", "-")
	spec := sandbox.Spec{Workspace: "tvolumes", Loop: "v", Image: img, Workdir: dir + "/work", Home: dir + "/home", User: "1000:1000",
		Placement: sandbox.PlacementRemote,
		Mounts:    []sandbox.Mount{{Target: dir + "/work", Volume: true}, {Target: dir + "/home", Volume: true}}}
	t.Cleanup(func() { _ = e.Remove(context.Background(), spec) })
	sh := func(spec sandbox.Spec, script string) string {
		t.Helper()
		var out strings.Builder
		code, err := e.Exec(ctx, spec, sandbox.Exec{Cmd: []string{"sh", "-c", script}, Stdout: &out, Stderr: &out})
		if err != nil || code != 0 {
			t.Fatalf("%s: %d %v\n%s", script, code, err, out.String())
		}
		return strings.TrimSpace(out.String())
	}
	if got := sh(spec, `echo kept > x && echo h > "$HOME/h" && id -u && stat -c %u . "$HOME"`); got != "1000\n1000\n1000" {
		t.Errorf("as uid 1000 in its volumes: %q", got)
	}
	spec.Limits.Pids = 300 // another config hash: the container is made again
	if got := sh(spec, `cat x "$HOME/h"`); got != "kept\nh" {
		t.Errorf("after the container was recreated: %q", got)
	}
	res, err := e.Resources(ctx, map[string]string{sandbox.LabelWorkspace: "tvolumes"})
	if err != nil || len(res.Volumes) != 2 {
		t.Errorf("volumes listed: %v, %v", res.Volumes, err)
	}
	if err := e.Remove(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if res, err := e.Resources(ctx, map[string]string{sandbox.LabelWorkspace: "tvolumes"}); err != nil || !res.Empty() {
		t.Errorf("left after Remove: %+v, %v", res, err)
	}
}
