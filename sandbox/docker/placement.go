package docker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// errInconclusive: the probe's image could not look for the file.
var errInconclusive = errors.New("no answer from the image")

// probeDir is where the probe's container sees the host's temp dir.
const probeDir = "/.gitloop-probe"

// SeesHostPaths reports whether the engine sees this host's files, so that
// a host path can be bind-mounted. With PlacementLocal it trusts the user,
// with PlacementRemote it says no; with PlacementAuto it probes once per
// engine (a nonce file written in the host's temp dir, looked for from a
// container of image) and keeps the answer on disk, keyed by the engine's
// ID and address.
func (e *Engine) SeesHostPaths(ctx context.Context, p sandbox.Placement, image string) (bool, error) {
	switch p.Or() {
	case sandbox.PlacementLocal:
		return true, nil
	case sandbox.PlacementRemote:
		return false, nil
	}
	if sees, ok := e.seenHostPaths(); ok {
		return sees, nil
	}
	info, err := e.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return false, e.wrap("docker info", err)
	}
	key := sha256.Sum256([]byte(info.Info.ID + "\n" + e.host))
	cache := ""
	if e.cacheDir != "" {
		cache = filepath.Join(e.cacheDir, "placement", hex.EncodeToString(key[:12]))
		if b, err := os.ReadFile(cache); err == nil {
			switch strings.TrimSpace(string(b)) {
			case "local":
				e.rememberHostPaths(true)
				return true, nil
			case "remote":
				e.rememberHostPaths(false)
				return false, nil
			}
		}
	}
	sees, err := e.probeHostPaths(ctx, image)
	if errors.Is(err, errInconclusive) {
		// An image without a shell cannot answer: the address decides
		// (a local socket sees this host), and nothing is cached.
		return e.Capabilities().HostPaths, nil
	}
	if err != nil {
		return false, err
	}
	e.rememberHostPaths(sees)
	if cache != "" {
		val := "remote\n"
		if sees {
			val = "local\n"
		}
		if os.MkdirAll(filepath.Dir(cache), 0o755) == nil {
			_ = os.WriteFile(cache, []byte(val), 0o644)
		}
	}
	return sees, nil
}

// hostPathsMemo is how long SeesHostPaths's answer is taken without
// asking the engine who it is again: a docker info costs the engine some
// 10 ms, and one new asks twice (its preflight, then the create), while a
// long-lived process (git loop web) must notice another engine behind the
// same address.
const hostPathsMemo = 10 * time.Second

// seenHostPaths is SeesHostPaths's answer of the last hostPathsMemo.
func (e *Engine) seenHostPaths() (sees, ok bool) {
	e.placeMu.Lock()
	defer e.placeMu.Unlock()
	if e.placeAt.IsZero() || time.Since(e.placeAt) > hostPathsMemo {
		return false, false
	}
	return e.placeSees, true
}

func (e *Engine) rememberHostPaths(sees bool) {
	e.placeMu.Lock()
	defer e.placeMu.Unlock()
	e.placeSees, e.placeAt = sees, time.Now()
}

// probeHostPaths writes a nonce file in the host's temp dir and runs a
// throwaway container of image binding that dir read-only, which looks for
// the file. The temp dir exists on any machine, so an engine that does not
// see this host binds its own (nothing is created there).
func (e *Engine) probeHostPaths(ctx context.Context, image string) (bool, error) {
	tmp, err := filepath.EvalSymlinks(os.TempDir())
	if err != nil {
		return false, fmt.Errorf("placement probe: %w", err)
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	name := "gitloop-probe-" + hex.EncodeToString(nonce)
	f, err := os.CreateTemp(tmp, name+"-*")
	if err != nil {
		return false, fmt.Errorf("placement probe: %w", err)
	}
	f.Close()
	defer os.Remove(f.Name())
	inside := probeDir + "/" + filepath.Base(f.Name())
	res, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:      image,
			Entrypoint: []string{"/bin/sh", "-c", `test -f "$0"`, inside},
			Cmd:        nil,
			Labels:     map[string]string{sandbox.LabelWorkspace: "probe"},
			User:       "0:0",
		},
		HostConfig: &container.HostConfig{
			Binds:       []string{tmp + ":" + probeDir + ":ro"},
			NetworkMode: "none",
			AutoRemove:  false,
		},
	})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return false, fmt.Errorf("placement probe: %w: image %q is not on the engine at %s: run \"git loop image build\" or set sandbox.image (%v)",
				ErrImageNotFound, image, e.host, err)
		}
		return false, e.wrap("placement probe: docker create", err)
	}
	defer func() {
		_, _ = e.cli.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true})
	}()
	wait := e.cli.ContainerWait(ctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := e.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return false, e.wrap("placement probe: docker start", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case r := <-wait.Result:
		switch r.StatusCode {
		case 0:
			return true, nil
		case 1:
			return false, nil
		default:
			return false, fmt.Errorf("placement probe: image %q cannot run /bin/sh -c test (exit %d): %w", image, r.StatusCode, errInconclusive)
		}
	case err := <-wait.Error:
		return false, e.wrap("placement probe: docker wait", err)
	case <-ctx.Done():
		return false, fmt.Errorf("placement probe: %w", ctx.Err())
	}
}

// checkPlacement refuses a spec that binds host paths on an engine that
// does not see them, naming the engine and the ways out. seen reports
// that the engine was found to see them (false too for a spec with no
// host path to bind, where nothing was asked).
func (e *Engine) checkPlacement(ctx context.Context, spec sandbox.Spec) (seen bool, err error) {
	// The binds the container would get: the spec's and the implicit
	// workdir and $HOME.
	var binds []sandbox.Mount
	for _, m := range withImplicitMounts(spec) {
		if !m.Tmpfs && !m.Volume && m.Source != "" {
			binds = append(binds, m)
		}
	}
	if len(binds) == 0 {
		return false, nil
	}
	sees, err := e.SeesHostPaths(ctx, spec.Placement, spec.Image)
	if err != nil {
		return false, err
	}
	if sees {
		return true, nil
	}
	why := "a file written in " + os.TempDir() + " was not there inside"
	if spec.Placement.Or() == sandbox.PlacementRemote {
		why = "sandbox.placement = remote"
	}
	return false, fmt.Errorf("docker: loop %q: %w: the docker engine at %s (%s), so it cannot bind %s. A loop made for such an engine keeps its files there (made by \"git loop new\" on it); this one was made with host paths: use an engine on this machine (unset DOCKER_HOST, or \"docker context use default\"), another driver (--driver bwrap), or set sandbox.placement = local if this engine does see this host's files",
		spec.Loop, sandbox.ErrHostPathsUnseen, e.host, why, binds[0].Source)
}
