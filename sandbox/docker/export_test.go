package docker

import (
	"context"

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
