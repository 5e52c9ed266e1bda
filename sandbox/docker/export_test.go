package docker

import (
	"context"
	"encoding/json"

	"github.com/moby/moby/client"
)

// InspectRaw is the container's inspect JSON as the engine stores it.
func (e *Engine) InspectRaw(ctx context.Context, name string) (string, error) {
	res, err := e.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	return string(res.Raw), err
}

// RemoveBehindBack removes a container without going through the driver.
func (e *Engine) RemoveBehindBack(ctx context.Context, name string) error {
	_, err := e.cli.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true})
	return err
}

// CreateNetwork makes a labelled network for the remove-by-labels test.
func (e *Engine) CreateNetwork(ctx context.Context, name string, labels map[string]string) error {
	_, err := e.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Labels: labels})
	return err
}

// SetCacheDir points the driver's image cache somewhere else.
func (e *Engine) SetCacheDir(dir string) { e.cacheDir = dir }

// PidsCurrent is how many processes the engine counts in the container,
// asked of the engine (its cgroup), not of anything inside.
func (e *Engine) PidsCurrent(ctx context.Context, name string) (uint64, error) {
	res, err := e.cli.ContainerStats(ctx, name, client.ContainerStatsOptions{})
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var st struct {
		PidsStats struct {
			Current uint64 `json:"current"`
		} `json:"pids_stats"`
	}
	err = json.NewDecoder(res.Body).Decode(&st)
	return st.PidsStats.Current, err
}
