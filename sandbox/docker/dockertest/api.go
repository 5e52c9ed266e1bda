package dockertest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// API is the engine seen without git loop's driver, for tests that check
// what the driver did (inspect, labels) or do what a user would do behind
// its back (docker rm -f). It talks to the same engine as the driver.
type API struct {
	c *client.Client
}

// NewAPI returns an API client, closed at the end of the test, once the
// engine answers (else the test skips, or fails under
// GIT_LOOP_TEST_REQUIRE).
func NewAPI(t testing.TB) *API {
	t.Helper()
	a, err := DialAPI()
	sandboxtest.Require(t, err, "docker", installDocker)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// DialAPI returns an API client once the engine answers, for code outside
// a test's control flow (cleanups that must not skip); Close releases it.
func DialAPI() (*API, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = c.Close()
		return nil, err
	}
	return &API{c: c}, nil
}

// Close releases the client's connections.
func (a *API) Close() error { return a.c.Close() }

// Container is what tests look at of one container.
type Container struct {
	ID      string
	Running bool
	Labels  map[string]string
	Raw     string // the inspect JSON as the engine stores it
}

// Inspect returns the named container; ok is false when there is none.
func (a *API) Inspect(t testing.TB, name string) (c Container, ok bool) {
	t.Helper()
	res, err := a.c.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return Container{}, false
	}
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	c = Container{ID: res.Container.ID, Raw: string(res.Raw)}
	if res.Container.State != nil {
		c.Running = res.Container.State.Running
	}
	if res.Container.Config != nil {
		c.Labels = res.Container.Config.Labels
	}
	return c, true
}

// Pids is how many processes the engine counts in the container (its
// cgroup's), asked of the engine rather than of anything inside.
func (a *API) Pids(t testing.TB, name string) uint64 {
	t.Helper()
	res, err := a.c.ContainerStats(context.Background(), name, client.ContainerStatsOptions{})
	if err != nil {
		t.Fatalf("stats %s: %v", name, err)
	}
	defer res.Body.Close()
	var st struct {
		PidsStats struct {
			Current uint64 `json:"current"`
		} `json:"pids_stats"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatalf("stats %s: %v", name, err)
	}
	return st.PidsStats.Current
}

// RemoveContainer force-removes a container, as "docker rm -f" does.
func (a *API) RemoveContainer(t testing.TB, name string) {
	t.Helper()
	if _, err := a.c.ContainerRemove(context.Background(), name, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		t.Fatalf("remove %s: %v", name, err)
	}
}

// CreateNetwork makes a network with labels, removed at the end of the
// test if it is still there.
func (a *API) CreateNetwork(t testing.TB, name string, labels map[string]string) {
	t.Helper()
	if _, err := a.c.NetworkCreate(context.Background(), name, client.NetworkCreateOptions{Labels: labels}); err != nil {
		t.Fatalf("create network %s: %v", name, err)
	}
	t.Cleanup(func() { _, _ = a.c.NetworkRemove(context.Background(), name, client.NetworkRemoveOptions{}) })
}

// ImageLabels returns the labels of an image; ok is false when there is
// no such image.
func (a *API) ImageLabels(t testing.TB, ref string) (labels map[string]string, ok bool) {
	t.Helper()
	res, err := a.c.ImageInspect(context.Background(), ref)
	if cerrdefs.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("inspect image %s: %v", ref, err)
	}
	if res.Config != nil {
		labels = res.Config.Labels
	}
	return labels, true
}

// Labelled lists the containers (by name), images (by tag, else id) and
// networks (by name) carrying label key=value (any value when value is "").
func (a *API) Labelled(t testing.TB, key, value string) (containers, images, networks []string) {
	t.Helper()
	ctx := context.Background()
	f := client.Filters{}
	if value == "" {
		f.Add("label", key)
	} else {
		f.Add("label", key+"="+value)
	}
	cs, err := a.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs.Items {
		name := c.ID
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		containers = append(containers, name)
	}
	imgs, err := a.c.ImageList(ctx, client.ImageListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs.Items {
		name := img.ID
		if len(img.RepoTags) > 0 {
			name = img.RepoTags[0]
		}
		images = append(images, name)
	}
	nets, err := a.c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets.Items {
		networks = append(networks, n.Name)
	}
	return containers, images, networks
}

// RemoveLabelled removes every container, image and network carrying
// label key=value: the last-resort cleanup of a test that made them.
func (a *API) RemoveLabelled(key, value string) {
	ctx := context.Background()
	f := client.Filters{}
	f.Add("label", key+"="+value)
	if cs, err := a.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f}); err == nil {
		for _, c := range cs.Items {
			_, _ = a.c.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
		}
	}
	if imgs, err := a.c.ImageList(ctx, client.ImageListOptions{Filters: f}); err == nil {
		for _, img := range imgs.Items {
			_, _ = a.c.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		}
	}
	if nets, err := a.c.NetworkList(ctx, client.NetworkListOptions{Filters: f}); err == nil {
		for _, n := range nets.Items {
			_, _ = a.c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		}
	}
}
