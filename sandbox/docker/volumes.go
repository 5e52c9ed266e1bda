package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// LabelVolume marks the named volumes of a loop on an engine that cannot
// see this host (its clone, its $HOME, its agent dir): the dir each is
// mounted at.
const LabelVolume = "dev.gitloop.volume"

// volumeName is the named volume kept at target for spec's sandbox:
// gitloop-WORKSPACE-LOOP-HASH, HASH of the target, in the characters a
// volume name may hold.
func volumeName(spec sandbox.Spec, target string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(target)))
	var b strings.Builder
	for _, r := range spec.Name() {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String() + "-" + hex.EncodeToString(sum[:])[:8]
}

// volumeLabels are a loop volume's labels: the sandbox's workspace and
// loop (not its config hash: a volume outlives a recreated container).
func volumeLabels(spec sandbox.Spec, target string) map[string]string {
	return map[string]string{
		sandbox.LabelWorkspace: spec.Workspace,
		sandbox.LabelLoop:      spec.Loop,
		LabelVolume:            filepath.Clean(target),
	}
}

// volumeMount is the engine's mount of a sandbox.Mount with Volume set:
// the named volume, made by the engine on first use with its labels.
func volumeMount(spec sandbox.Spec, target string) mount.Mount {
	return mount.Mount{Type: mount.TypeVolume, Source: volumeName(spec, target), Target: target,
		VolumeOptions: &mount.VolumeOptions{NoCopy: true, Labels: volumeLabels(spec, target)}}
}

// ownVolumes gives a non-root sandbox user the roots of its volumes
// before its container is made: the engine makes a new volume's root
// owned by root, where that user could not write its clone, and an exec
// as root in the loop's container holds no capability to chown. So a
// throwaway container of the image, as root, binding only those volumes,
// chowns their roots (never recursively), once: volumes that exist
// already were given at their creation.
func (e *Engine) ownVolumes(ctx context.Context, usr string, spec sandbox.Spec) error {
	uidS, gidS, _ := strings.Cut(usr, ":")
	uid, err := strconv.Atoi(uidS)
	if err != nil || uid == 0 {
		return nil // root (or a name the image resolves): its volumes are its own
	}
	gid := uid
	if gidS != "" {
		if gid, err = strconv.Atoi(gidS); err != nil {
			return nil
		}
	}
	cmd := []string{"chown", "--", strconv.Itoa(uid) + ":" + strconv.Itoa(gid)}
	var mounts []mount.Mount
	for i, m := range spec.Mounts {
		if !m.Volume {
			continue
		}
		if _, err := e.cli.VolumeInspect(ctx, volumeName(spec, m.Target), client.VolumeInspectOptions{}); err == nil {
			continue
		}
		vm := volumeMount(spec, filepath.Clean(m.Target))
		vm.Target = fmt.Sprintf("/v%d", i)
		mounts = append(mounts, vm)
		cmd = append(cmd, vm.Target)
	}
	if len(mounts) == 0 {
		return nil
	}
	what := "docker: give the sandbox user its volumes"
	res, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: spec.Image, Entrypoint: cmd, User: "0:0", Labels: map[string]string{sandbox.LabelWorkspace: spec.Workspace, LabelVolume: "chown"}},
		HostConfig: &container.HostConfig{Mounts: mounts, NetworkMode: "none"},
	})
	if err != nil {
		return e.wrap(what, err)
	}
	defer func() {
		_, _ = e.cli.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true})
	}()
	wait := e.cli.ContainerWait(ctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := e.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return e.wrap(what, err)
	}
	select {
	case r := <-wait.Result:
		if r.StatusCode != 0 {
			return fmt.Errorf("%s: chown in image %s: exit %d", what, spec.Image, r.StatusCode)
		}
		return nil
	case err := <-wait.Error:
		return e.wrap(what, err)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// removeVolumes removes the named volumes of a loop (its remote clone
// and home): rm and undo. A loop on a local engine has none.
func (e *Engine) removeVolumes(ctx context.Context, spec sandbox.Spec) error {
	_, err := e.RemoveVolumesByLabels(ctx, map[string]string{sandbox.LabelWorkspace: spec.Workspace, sandbox.LabelLoop: spec.Loop, LabelVolume: ""})
	return err
}

// RemoveVolumesByLabels removes the volumes carrying all labels.
func (e *Engine) RemoveVolumesByLabels(ctx context.Context, labels map[string]string) ([]string, error) {
	if len(labels) == 0 {
		return nil, errors.New("docker remove volumes: no labels given")
	}
	names, err := e.volumesByLabels(ctx, labels)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, n := range names {
		if _, err := e.cli.VolumeRemove(ctx, n, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, e.wrap("docker remove volume "+n, err))
			continue
		}
		removed = append(removed, n)
	}
	return removed, errors.Join(errs...)
}

func (e *Engine) volumesByLabels(ctx context.Context, labels map[string]string) ([]string, error) {
	res, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, e.wrap("docker list volumes", err)
	}
	var names []string
	for _, v := range res.Items {
		names = append(names, v.Name)
	}
	return names, nil
}
