package docker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/docker"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

func TestSuite(t *testing.T) {
	e := dockertest.Engine(t)
	img := dockertest.BusyboxImage(t, e)
	// As root, run the sandboxes as someone else, so that the suite proves
	// files land with the sandbox user's uid rather than root's.
	usr := ""
	if os.Getuid() == 0 {
		usr = "4242:4242"
	}
	sandboxtest.Run(t, func(t *testing.T) sandbox.Engine {
		eng, err := docker.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = eng.Close() })
		return eng
	}, sandboxtest.Options{
		Image:          img,
		User:           usr,
		Persistent:     true,
		AllocatesTTY:   true,
		PublishesPorts: true,
		Inspect: func(t *testing.T, name string) string {
			raw, err := e.InspectRaw(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		},
		Vanish: func(t *testing.T, name string) {
			if err := e.RemoveBehindBack(t.Context(), name); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func newSpec(t *testing.T, image string) sandbox.Spec {
	t.Helper()
	root := t.TempDir()
	spec := sandbox.Spec{
		Workspace: randomID(t),
		Loop:      "solo",
		Image:     image,
		Workdir:   filepath.Join(root, "work"),
		Home:      filepath.Join(root, "home"),
	}
	for _, d := range []string{spec.Workdir, spec.Home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return spec
}

func removeAfter(t *testing.T, e sandbox.Engine, spec sandbox.Spec) {
	t.Cleanup(func() {
		if err := e.Remove(context.Background(), spec); err != nil {
			t.Error(err)
		}
	})
}

func TestDefaultUserIsInvokingUser(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	spec := newSpec(t, dockertest.BusyboxImage(t, e))
	removeAfter(t, e, spec)
	var out strings.Builder
	code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", "id -u; id -g"}, Stdout: &out})
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v", code, err)
	}
	if want := strconv.Itoa(os.Getuid()) + "\n" + strconv.Itoa(os.Getgid()) + "\n"; out.String() != want {
		t.Errorf("ids %q, want %q", out.String(), want)
	}
}

// TestUserInDebianImage: in an image with a full /etc/passwd (and bash),
// a uid the image does not know gets an entry with the loop's $HOME and
// bash, and a group; git and whoami work as that user.
func TestUserInDebianImage(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	spec := newSpec(t, dockertest.DebianImage(t, e))
	if os.Getuid() == 0 {
		spec.User = "4242:4243"
		for _, d := range []string{spec.Workdir, spec.Home} {
			if err := os.Chown(d, 4242, 4243); err != nil {
				t.Fatal(err)
			}
		}
	}
	removeAfter(t, e, spec)
	var out, errOut strings.Builder
	code, err := e.Exec(t.Context(), spec, sandbox.Exec{
		Cmd:    []string{"sh", "-c", `whoami; id -gn; getent passwd "$(id -u)"; git init -q . && git -c user.name=n -c user.email=e@x commit -q --allow-empty -m m && git log --format=%s`},
		Stdout: &out, Stderr: &errOut,
	})
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s%s", code, err, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || lines[0] == "" || lines[1] == "" || lines[3] != "m" {
		t.Fatalf("output %q", out.String())
	}
	if f := strings.Split(lines[2], ":"); len(f) != 7 || f[0] != lines[0] || f[5] != spec.Home || f[6] != "/bin/bash" {
		t.Errorf("passwd entry %q: want %s with home %s and /bin/bash", lines[2], lines[0], spec.Home)
	}
}

// TestImageUsersCached: what the driver reads of an image's users is
// cached by image id, and the next container of that image is made from
// the cache (here doctored to say the image has bash, which busybox has
// not, so that the entry shows where it came from).
func TestImageUsersCached(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	img := dockertest.BusyboxImage(t, e)
	cache := t.TempDir()
	e.SetCacheDir(cache)
	for i, shell := range []string{"/bin/sh", "/bin/bash"} {
		spec := newSpec(t, img)
		spec.User = "4242:4242"
		removeAfter(t, e, spec)
		var out strings.Builder
		code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", "whoami; grep ^loop: /etc/passwd"}, Stdout: &out})
		if want := "loop\nloop:x:4242:4242::" + spec.Home + ":" + shell + "\n"; err != nil || code != 0 || out.String() != want {
			t.Errorf("container %d: exit %d, %v, output %q, want %q", i+1, code, err, out.String(), want)
		}
		cached, _ := filepath.Glob(filepath.Join(cache, "image-users", "*.json"))
		if len(cached) != 1 {
			t.Fatalf("after container %d: cache holds %v, want one image", i+1, cached)
		}
		data, err := os.ReadFile(cached[0])
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil || doc["bash"] != false && i == 0 {
			t.Fatalf("cache %s: %s (%v)", cached[0], data, err)
		}
		doc["bash"] = true
		if data, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cached[0], data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStoredConfig checks the container's stored config for what the
// suite cannot see from inside: not privileged, under an init, ports on
// loopback only, no Docker socket, no env of ours.
func TestStoredConfig(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	spec := newSpec(t, dockertest.BusyboxImage(t, e))
	spec.Env = map[string]string{"SPEC_ONLY": "per-exec"}
	spec.Ports = []sandbox.Port{{Host: 0, Container: 3000}}
	spec.Limits = sandbox.Limits{Pids: 321, Memory: 256 << 20, NanoCPUs: 5e8}
	removeAfter(t, e, spec)
	st, err := e.Ensure(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Ports) != 1 || st.Ports[0].Container != 3000 || st.Ports[0].Host == 0 {
		t.Errorf("ports %+v: want 3000 published on the port the engine picked", st.Ports)
	}
	raw, err := e.InspectRaw(t.Context(), spec.Name())
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Config struct {
			Env    []string
			Labels map[string]string
		}
		HostConfig struct {
			Init         *bool
			Privileged   bool
			CapAdd       []string
			CapDrop      []string
			SecurityOpt  []string
			PidsLimit    *int64
			Memory       int64
			MemorySwap   int64
			NanoCpus     int64
			NetworkMode  string
			PortBindings map[string][]struct{ HostIp, HostPort string }
		}
		Mounts []struct{ Source, Destination string }
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	if c.HostConfig.Init == nil || !*c.HostConfig.Init {
		t.Error("container runs without an init")
	}
	if c.HostConfig.Privileged || len(c.HostConfig.CapAdd) > 0 {
		t.Errorf("container privileged %v, extra capabilities %v", c.HostConfig.Privileged, c.HostConfig.CapAdd)
	}
	if !slices.Contains(c.HostConfig.SecurityOpt, "no-new-privileges") {
		t.Errorf("security options %v lack no-new-privileges", c.HostConfig.SecurityOpt)
	}
	for _, capName := range []string{"NET_RAW", "MKNOD"} {
		if !slices.Contains(c.HostConfig.CapDrop, capName) && !slices.Contains(c.HostConfig.CapDrop, "CAP_"+capName) {
			t.Errorf("capabilities dropped %v lack %s", c.HostConfig.CapDrop, capName)
		}
	}
	if c.HostConfig.PidsLimit == nil || *c.HostConfig.PidsLimit != 321 || c.HostConfig.Memory != 256<<20 ||
		c.HostConfig.MemorySwap != 256<<20 || c.HostConfig.NanoCpus != 5e8 {
		t.Errorf("limits: pids %v, memory %d (swap %d), nano CPUs %d; want 321, 256 MiB (no swap), 0.5 CPU",
			c.HostConfig.PidsLimit, c.HostConfig.Memory, c.HostConfig.MemorySwap, c.HostConfig.NanoCpus)
	}
	if c.HostConfig.NetworkMode != docker.IsolatedNetwork {
		t.Errorf("network mode %q, want %s (a bridge with no traffic between containers)", c.HostConfig.NetworkMode, docker.IsolatedNetwork)
	}
	for port, bs := range c.HostConfig.PortBindings {
		for _, b := range bs {
			if b.HostIp != "127.0.0.1" {
				t.Errorf("port %s bound on %q, want 127.0.0.1 only", port, b.HostIp)
			}
		}
	}
	for _, m := range c.Mounts {
		if strings.Contains(m.Source, "docker.sock") {
			t.Errorf("the Docker socket is mounted: %+v", m)
		}
	}
	if strings.Contains(strings.Join(c.Config.Env, " "), "SPEC_ONLY") {
		t.Errorf("spec env stored in the container config: %v", c.Config.Env)
	}
	for k, v := range spec.Labels() {
		if c.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Config.Labels[k], v)
		}
	}
}

func TestMissingImage(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	spec := newSpec(t, "gitloop-test/no-such-image:0")
	removeAfter(t, e, spec)
	_, err := e.Ensure(t.Context(), spec)
	if !errors.Is(err, docker.ErrImageNotFound) {
		t.Fatalf("ensure with a missing image: %v, want ErrImageNotFound", err)
	}
	for _, want := range []string{"gitloop-test/no-such-image:0", "git loop image build", "sandbox.image"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"true"}})
	if !errors.Is(err, docker.ErrImageNotFound) || code == 0 {
		t.Errorf("exec with a missing image: %d, %v", code, err)
	}
}

func TestUnreachableEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	e, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := t.Context()
	err = e.Ping(ctx)
	if !errors.Is(err, sandbox.ErrEngineUnreachable) {
		t.Fatalf("ping: %v, want ErrEngineUnreachable", err)
	}
	for _, want := range []string{"sudo systemctl start docker", "dockerd", "DOCKER_HOST", "no-docker.sock"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	spec := newSpec(t, "any")
	if _, err := e.Ensure(ctx, spec); !errors.Is(err, sandbox.ErrEngineUnreachable) {
		t.Errorf("ensure: %v, want ErrEngineUnreachable", err)
	}
	if _, err := e.Exec(ctx, spec, sandbox.Exec{Cmd: []string{"true"}}); !errors.Is(err, sandbox.ErrEngineUnreachable) {
		t.Errorf("exec: %v, want ErrEngineUnreachable", err)
	}
	if err := e.Remove(ctx, spec); !errors.Is(err, sandbox.ErrEngineUnreachable) {
		t.Errorf("remove: %v, want ErrEngineUnreachable", err)
	}

	// auto falls through to the next driver and says why.
	fallback := &sandboxtest.Fake{NameFunc: func() string { return "next" }}
	eng, reason, err := sandbox.Auto(ctx, 0, docker.Candidate(), sandbox.Candidate{
		Name: "next",
		Open: func(context.Context) (sandbox.Engine, error) { return fallback, nil },
	})
	if err != nil || eng != fallback {
		t.Fatalf("auto: %v, %v; want the fallback", eng, err)
	}
	if !strings.Contains(reason, "docker unavailable") || !strings.Contains(reason, "next") {
		t.Errorf("auto reason %q", reason)
	}
}

func TestAutoPicksARunningEngine(t *testing.T) {
	t.Parallel()
	dockertest.Engine(t)
	eng, reason, err := sandbox.Auto(t.Context(), 0, docker.Candidate())
	if err != nil {
		t.Fatal(err)
	}
	if eng.Name() != "docker" || reason != "" {
		t.Errorf("auto picked %s (reason %q), want docker", eng.Name(), reason)
	}
	_ = eng.(*docker.Engine).Close()
}

func TestBuildImageAndRemoveByLabels(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	base := dockertest.BusyboxImage(t, e)
	ws := randomID(t)
	labels := map[string]string{sandbox.LabelWorkspace: ws}
	tag := "gitloop-test/built-" + ws + ":1"
	var progress strings.Builder
	id, err := e.BuildImage(t.Context(), docker.BuildOptions{
		Context: fstest.MapFS{
			"Dockerfile": {Data: []byte("FROM " + base + "\nCOPY hello /hello\n")},
			"hello":      {Data: []byte("hi\n")},
		},
		Tag:      tag,
		Labels:   labels,
		Progress: &progress,
	})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, progress.String())
	}
	if id == "" || !strings.Contains(progress.String(), "COPY hello /hello") {
		t.Errorf("build returned id %q, progress %q", id, progress.String())
	}

	spec := newSpec(t, tag)
	spec.Workspace = ws
	removeAfter(t, e, spec)
	var out strings.Builder
	if code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"cat", "/hello"}, Stdout: &out}); err != nil || code != 0 || out.String() != "hi\n" {
		t.Fatalf("exec in the built image: %d, %v, %q", code, err, out.String())
	}
	if err := e.CreateNetwork(t.Context(), "gitloop-test-"+ws, labels); err != nil {
		t.Fatal(err)
	}

	removed, err := e.RemoveByLabels(t.Context(), labels)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed.Containers) != 1 || removed.Containers[0] != spec.Name() ||
		len(removed.Images) != 1 || removed.Images[0] != tag ||
		len(removed.Networks) != 1 || removed.Networks[0] != "gitloop-test-"+ws {
		t.Errorf("removed %+v", removed)
	}
	if ok, err := e.ImageExists(t.Context(), tag); ok || err != nil {
		t.Errorf("image still there after remove by labels (%v)", err)
	}
	if ok, err := e.ImageExists(t.Context(), base); !ok || err != nil {
		t.Errorf("the base image went too (%v)", err)
	}
	if _, err := e.RemoveByLabels(t.Context(), nil); err == nil {
		t.Error("remove by no labels at all did not refuse")
	}
}

func TestBuildFailureIsReported(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	base := dockertest.BusyboxImage(t, e)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := e.BuildImage(ctx, docker.BuildOptions{
		Context: fstest.MapFS{"Dockerfile": {Data: []byte("FROM " + base + "\nCOPY missing /missing\n")}},
		Tag:     "gitloop-test/broken-" + randomID(t) + ":1",
	})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("build of a broken Dockerfile: %v", err)
	}
}

func randomID(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b)
}

// BenchmarkExec is the cost git loop adds to every command in a running
// sandbox: ensure (one inspect) plus one exec of "true". Compare it with
// the floor, "docker exec CONTAINER true" (see bench/sandbox.sh).
func BenchmarkExec(b *testing.B) {
	e := dockertest.Engine(b)
	img := dockertest.BusyboxImage(b, e)
	root := b.TempDir()
	spec := sandbox.Spec{Workspace: "tbench", Loop: "bench", Image: img, Workdir: root, Home: root}
	b.Cleanup(func() { _ = e.Remove(context.Background(), spec) })
	if _, err := e.Ensure(b.Context(), spec); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if code, err := e.Exec(b.Context(), spec, sandbox.Exec{Cmd: []string{"true"}}); err != nil || code != 0 {
			b.Fatalf("exec: %d, %v", code, err)
		}
	}
}

// TestUserEntryBound: once an image's users are cached, a new container
// gets the sandbox user's entry as host files bound read-only over
// /etc/passwd and /etc/group (no copy into it), which no one inside can
// change; a container whose files were cleaned from the cache is made
// anew when it starts again, and Remove takes its files away.
func TestUserEntryBound(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	img := dockertest.BusyboxImage(t, e)
	cache := t.TempDir()
	e.SetCacheDir(cache)
	sh := func(spec sandbox.Spec, script string) (string, int) {
		t.Helper()
		var out strings.Builder
		code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", script}, Stdout: &out, Stderr: &out})
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), code
	}
	first := newSpec(t, img)
	first.User = "4242:4242"
	removeAfter(t, e, first)
	if out, code := sh(first, "whoami"); code != 0 || out != "loop\n" {
		t.Fatalf("first container: exit %d, %q", code, out)
	}
	spec := newSpec(t, img)
	spec.Loop = "bound"
	spec.User = "4242:4242"
	removeAfter(t, e, spec)
	want := "loop\nloop:x:4242:4242::" + spec.Home + ":/bin/sh\nloop:x:4242:\n"
	check := func(when string) {
		t.Helper()
		out, code := sh(spec, "whoami; grep ^loop: /etc/passwd; grep ^loop: /etc/group")
		if code != 0 || out != want {
			t.Fatalf("%s: exit %d, %q, want %q", when, code, out, want)
		}
		if out, _ := sh(spec, "grep -c -E ' /etc/(passwd|group) ro[, ]' /proc/self/mountinfo"); out != "2\n" {
			t.Errorf("%s: /etc/passwd and /etc/group are not read-only binds (%q)", when, out)
		}
		if out, code := sh(spec, "echo 'evil:x:0:0::/:/bin/sh' >> /etc/passwd; echo 'evil:x:0:' >> /etc/group"); code == 0 {
			t.Errorf("%s: the sandbox wrote /etc/passwd or /etc/group: %q", when, out)
		}
		files, _ := filepath.Glob(filepath.Join(cache, "etc", spec.Name(), "*", "*"))
		if len(files) != 2 {
			t.Fatalf("%s: host files %v, want passwd and group", when, files)
		}
		for _, f := range files {
			if data, err := os.ReadFile(f); err != nil || strings.Contains(string(data), "evil") {
				t.Errorf("%s: %s: %q, %v", when, f, data, err)
			}
		}
	}
	check("made from the cache")
	if err := e.Stop(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cache, "etc")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Ensure(t.Context(), spec); err != nil {
		t.Fatalf("started again after its files were cleaned: %v", err)
	}
	check("started again after its files were cleaned")
	if err := e.Remove(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cache, "etc", spec.Name())); !os.IsNotExist(err) {
		t.Errorf("after Remove: %v, want its files gone", err)
	}
}
