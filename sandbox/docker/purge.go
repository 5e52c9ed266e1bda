package docker

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// Removed lists what a RemoveByLabels call removed, for the caller to
// report.
type Removed struct {
	Containers []string // names without the leading slash, else ids
	Images     []string // tags, else ids
	Networks   []string // names
	Volumes    []string // names
}

// RemoveByLabels removes every container, then image, then network
// carrying all the given labels (a value of "" matches any value): what
// prune and uninstall need. It refuses an empty label set, which would
// match everything on the engine. It goes on past individual failures and
// reports them joined.
func (e *Engine) RemoveByLabels(ctx context.Context, labels map[string]string) (Removed, error) {
	var out Removed
	if len(labels) == 0 {
		return out, errors.New("docker remove by labels: no labels given")
	}
	var errs []error
	var err error
	if out.Containers, err = e.RemoveContainersByLabels(ctx, labels); err != nil {
		errs = append(errs, err)
	}
	if out.Volumes, err = e.RemoveVolumesByLabels(ctx, labels); err != nil {
		errs = append(errs, err)
	}
	if out.Images, err = e.RemoveImagesByLabels(ctx, labels); err != nil {
		errs = append(errs, err)
	}
	if out.Networks, err = e.RemoveNetworksByLabels(ctx, labels); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// RemoveContainersByLabels force-removes the containers carrying all labels.
func (e *Engine) RemoveContainersByLabels(ctx context.Context, labels map[string]string) ([]string, error) {
	if len(labels) == 0 {
		return nil, errors.New("docker remove containers: no labels given")
	}
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: labelFilters(labels)})
	if err != nil {
		return nil, e.wrap("docker list containers", err)
	}
	var removed []string
	var errs []error
	for _, c := range res.Items {
		name := c.ID
		if len(c.Names) > 0 {
			name = trimSlash(c.Names[0])
		}
		if err := e.removeContainer(ctx, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		e.removeEtc(name)
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// RemoveImagesByLabels removes the images carrying all labels, with all
// their tags. An image still used by a container outside the label set is
// reported as an error and kept.
func (e *Engine) RemoveImagesByLabels(ctx context.Context, labels map[string]string) ([]string, error) {
	if len(labels) == 0 {
		return nil, errors.New("docker remove images: no labels given")
	}
	res, err := e.cli.ImageList(ctx, client.ImageListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, e.wrap("docker list images", err)
	}
	var removed []string
	var errs []error
	for _, img := range res.Items {
		name := img.ID
		if len(img.RepoTags) > 0 {
			name = img.RepoTags[0]
		}
		// Force so that an image with several tags goes whole; it still
		// refuses an image a running container uses.
		_, err := e.cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, e.wrap("docker remove image "+name, err))
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// RemoveNetworksByLabels removes the networks carrying all labels.
func (e *Engine) RemoveNetworksByLabels(ctx context.Context, labels map[string]string) ([]string, error) {
	if len(labels) == 0 {
		return nil, errors.New("docker remove networks: no labels given")
	}
	res, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, e.wrap("docker list networks", err)
	}
	var removed []string
	var errs []error
	for _, n := range res.Items {
		_, err := e.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, e.wrap(fmt.Sprintf("docker remove network %s", n.Name), err))
			continue
		}
		removed = append(removed, n.Name)
	}
	return removed, errors.Join(errs...)
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}

// Resources lists the containers, images and networks carrying all labels,
// removing nothing (what uninstall shows before it asks).
func (e *Engine) Resources(ctx context.Context, labels map[string]string) (sandbox.Resources, error) {
	var out sandbox.Resources
	if len(labels) == 0 {
		return out, errors.New("docker list by labels: no labels given")
	}
	cs, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: labelFilters(labels)})
	if err != nil {
		return out, e.wrap("docker list containers", err)
	}
	for _, c := range cs.Items {
		name := c.ID
		if len(c.Names) > 0 {
			name = trimSlash(c.Names[0])
		}
		out.Containers = append(out.Containers, name)
	}
	imgs, err := e.cli.ImageList(ctx, client.ImageListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return out, e.wrap("docker list images", err)
	}
	for _, img := range imgs.Items {
		name := img.ID
		if len(img.RepoTags) > 0 {
			name = img.RepoTags[0]
		}
		out.Images = append(out.Images, name)
	}
	nets, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return out, e.wrap("docker list networks", err)
	}
	for _, n := range nets.Items {
		out.Networks = append(out.Networks, n.Name)
	}
	if out.Volumes, err = e.volumesByLabels(ctx, labels); err != nil {
		return out, err
	}
	return out, nil
}

// Purge removes what Resources lists.
func (e *Engine) Purge(ctx context.Context, labels map[string]string) (sandbox.Resources, error) {
	r, err := e.RemoveByLabels(ctx, labels)
	return sandbox.Resources{Containers: r.Containers, Images: r.Images, Networks: r.Networks, Volumes: r.Volumes}, err
}
