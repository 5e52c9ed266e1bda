package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// stopTimeout is short because the container only runs sleep under an
// init: there is nothing to shut down gracefully, and git loop stop should
// feel instant.
const stopTimeout = 2

// ensureAttempts bounds the retries when another git loop process creates
// or removes the same container between our inspect and our create. The
// engine reserves a name a while before the container can be inspected,
// so a lost race needs a short wait, not just another look.
const ensureAttempts = 8

// Ensure makes the loop's container exist, run, and match spec's config
// hash: a missing one is created, a stopped one started, and one whose
// config-hash label differs is removed and created anew (the loop's $HOME
// is a host bind mount, so nothing of the user's is lost).
func (e *Engine) Ensure(ctx context.Context, spec sandbox.Spec) (sandbox.Status, error) {
	if err := validate(spec); err != nil {
		return sandbox.Status{Driver: DriverName, State: sandbox.StateMissing}, err
	}
	name := spec.Name()
	var lastErr error
	backoff := 25 * time.Millisecond
	for range ensureAttempts {
		res, err := e.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			err = e.create(ctx, spec)
		case err != nil:
			return sandbox.Status{Driver: DriverName}, e.wrap("docker inspect "+name, err)
		case !madeFor(res.Container.Config, spec):
			err = e.recreate(ctx, spec, res.Container.ID)
		case res.Container.State == nil || !res.Container.State.Running:
			err = e.start(ctx, spec, res.Container)
		default:
			return statusFromInspect(res.Container), nil
		}
		if err == nil {
			// Read back what the engine made rather than what we asked for,
			// so the returned ports and ids are the real ones.
			continue
		}
		if !cerrdefs.IsConflict(err) && !cerrdefs.IsNotFound(err) {
			return sandbox.Status{Driver: DriverName}, err
		}
		// Someone else created, removed or started it meanwhile: look again
		// once they are done.
		lastErr = err
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return sandbox.Status{Driver: DriverName}, fmt.Errorf("docker ensure %s: %w", name, ctx.Err())
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
	res, err := e.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err == nil && res.Container.State != nil && res.Container.State.Running && madeFor(res.Container.Config, spec) {
		return statusFromInspect(res.Container), nil
	}
	if lastErr == nil {
		lastErr = errors.New("the container does not stay up")
		if err == nil && res.Container.State != nil {
			lastErr = fmt.Errorf("the container exits right after it starts (exit code %d%s): image %q needs a \"sleep\" that accepts \"infinity\"",
				res.Container.State.ExitCode, prefixed(": ", res.Container.State.Error), spec.Image)
		}
	}
	return sandbox.Status{Driver: DriverName}, fmt.Errorf("docker ensure %s: %w", name, lastErr)
}

// madeFor: the container was made by git loop for exactly this spec (its
// workspace, its loop, its config hash). One that merely has the name is
// recreated, never exec'd in.
func madeFor(c *container.Config, spec sandbox.Spec) bool {
	if c == nil {
		return false
	}
	for k, v := range spec.Labels() {
		if c.Labels[k] != v {
			return false
		}
	}
	return true
}

func prefixed(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

func validate(spec sandbox.Spec) error {
	if spec.Workspace == "" || spec.Loop == "" {
		return errors.New("docker: sandbox spec needs a workspace and a loop name")
	}
	if spec.Image == "" {
		return fmt.Errorf("docker: no sandbox image for loop %q: run \"git loop image build\" or set sandbox.image", spec.Loop)
	}
	if !filepath.IsAbs(spec.Workdir) {
		return fmt.Errorf("docker: workdir %q of loop %q is not an absolute path", spec.Workdir, spec.Loop)
	}
	return nil
}

func (e *Engine) recreate(ctx context.Context, spec sandbox.Spec, id string) error {
	_, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return e.wrap("docker remove outdated "+spec.Name(), err)
	}
	return e.create(ctx, spec)
}

func (e *Engine) start(ctx context.Context, spec sandbox.Spec, c container.InspectResponse) error {
	if c.State != nil && (c.State.Dead || c.State.Status == container.StateRemoving) {
		// A dead container cannot be started again; treat it as gone.
		return e.recreate(ctx, spec, c.ID)
	}
	if e.etcMissing(c) {
		// Its passwd and group were cleaned from the cache: made anew,
		// they are written again.
		return e.recreate(ctx, spec, c.ID)
	}
	if _, err := e.cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		return e.wrap("docker start "+spec.Name(), err)
	}
	return nil
}

func (e *Engine) create(ctx context.Context, spec sandbox.Spec) error {
	return e.createWith(ctx, spec, true)
}

// createWith makes and starts the container; etcFromHost lets etcBinds
// give the sandbox's user its entry (else addUser copies it in).
func (e *Engine) createWith(ctx context.Context, spec sandbox.Spec, etcFromHost bool) error {
	cfg, hostCfg, err := containerConfig(spec)
	if err != nil {
		return err
	}
	seen, err := e.checkPlacement(ctx, spec)
	if err != nil {
		return err
	}
	if len(spec.Path) > 0 {
		// Before the PATH spec.Env sets (a loop's toolchain first), else
		// the image's.
		extended := false
		for i, kv := range cfg.Env {
			if v, ok := strings.CutPrefix(kv, "PATH="); ok {
				cfg.Env[i] = "PATH=" + strings.Join(spec.Path, ":") + ":" + v
				extended = true
			}
		}
		if !extended {
			cfg.Env = append(cfg.Env, "PATH="+strings.Join(spec.Path, ":")+":"+e.imagePath(ctx, spec.Image))
		}
	}
	if err := e.ownVolumes(ctx, cfg.User, spec); err != nil {
		return err
	}
	if hostCfg.NetworkMode == IsolatedNetwork {
		if err := e.ensureIsolatedNetwork(ctx); err != nil {
			return err
		}
	}
	// The engine binds this host's files: the user's entry too, when the
	// image's users are known (see etcBinds).
	var etcImage string
	etcBound := false
	if seen && etcFromHost {
		var etc []mount.Mount
		if etc, etcImage, etcBound = e.etcBinds(ctx, spec, cfg.User); etcBound {
			hostCfg.Mounts = append(hostCfg.Mounts, etc...)
		}
	}
	res, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       spec.Name(),
		Config:     cfg,
		HostConfig: hostCfg,
	})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return fmt.Errorf("docker create %s: %w: image %q is not on the engine at %s: run \"git loop image build\" or set sandbox.image to an image you have (%v)",
				spec.Name(), ErrImageNotFound, spec.Image, e.host, err)
		}
		return e.wrap("docker create "+spec.Name(), err)
	}
	if etcBound && etcImage != "" {
		// The tag named another image by the time of the create: the
		// files were made of the wrong one.
		c, err := e.cli.ContainerInspect(ctx, res.ID, client.ContainerInspectOptions{})
		if err != nil || c.Container.Image != etcImage {
			_, _ = e.cli.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true})
			return e.createWith(ctx, spec, false)
		}
	}
	if !etcBound {
		e.addUser(ctx, res.ID, cfg.User, spec.Home)
	}
	if _, err := e.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		// Leave no half-made container behind: the next Ensure would find it
		// with the right hash and try to start the same broken config.
		_, _ = e.cli.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true})
		return e.wrap("docker start "+spec.Name(), err)
	}
	return nil
}

// defaultPath is the PATH of an image that sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// imagePath is the PATH the image sets, which a container's own PATH
// would otherwise replace.
func (e *Engine) imagePath(ctx context.Context, ref string) string {
	img, err := e.cli.ImageInspect(ctx, ref)
	if err != nil || img.Config == nil {
		return defaultPath
	}
	for _, kv := range img.Config.Env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			return p
		}
	}
	return defaultPath
}

// containerConfig is the stored config of a loop's container. It must hold
// nothing secret: spec.Env and every Exec.Env go to execs only, since
// anyone who can run docker inspect can read this.
func containerConfig(spec sandbox.Spec) (*container.Config, *container.HostConfig, error) {
	usr := spec.User
	if usr == "" {
		usr = defaultUser()
	}
	mounts, err := mountTable(spec)
	if err != nil {
		return nil, nil, err
	}
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	loopback := netip.MustParseAddr("127.0.0.1")
	netMode := container.NetworkMode("")
	ports := spec.Ports
	switch spec.Network.Or() {
	case sandbox.NetworkIsolated:
		// A bridge as the engine's default one (outbound traffic, the
		// host's loopback is the container's own), with no traffic
		// between its containers (IsolatedNetwork).
		netMode = container.NetworkMode(IsolatedNetwork)
	case sandbox.NetworkNone:
		// Nothing to publish on: docker refuses ports without a network.
		netMode, ports = network.NetworkNone, nil
	case sandbox.NetworkHost:
		// The host's ports are the container's already.
		netMode, ports = network.NetworkHost, nil
	default:
		return nil, nil, fmt.Errorf("docker: unknown network policy %q for loop %q", spec.Network, spec.Loop)
	}
	for _, p := range ports {
		if p.Container <= 0 || p.Container > 65535 || p.Host < 0 || p.Host > 65535 {
			return nil, nil, fmt.Errorf("docker: invalid port mapping %d:%d for loop %q", p.Host, p.Container, spec.Loop)
		}
		port, _ := network.PortFrom(uint16(p.Container), network.TCP)
		exposed[port] = struct{}{}
		hostPort := ""
		if p.Host > 0 {
			hostPort = strconv.Itoa(p.Host)
		}
		// Loopback only: a loop's dev server is for this machine, not the LAN.
		bindings[port] = append(bindings[port], network.PortBinding{HostIP: loopback, HostPort: hostPort})
	}
	profile, err := seccompProfile()
	if err != nil {
		return nil, nil, err
	}
	init := true
	cfg := &container.Config{
		Image:        spec.Image,
		Cmd:          []string{"sleep", "infinity"},
		User:         usr,
		WorkingDir:   spec.Workdir,
		Hostname:     hostname(spec.Loop),
		Labels:       spec.Labels(),
		ExposedPorts: exposed,
	}
	hostCfg := &container.HostConfig{
		// An init reaps the zombies that agents' short-lived children leave
		// and makes stop immediate, since sleep ignores SIGTERM as pid 1.
		Init:         &init,
		Mounts:       mounts,
		PortBindings: bindings,
		NetworkMode:  netMode,
		// No process gains privileges it was not started with: a setuid
		// binary in the image (sudo, su) runs as its caller.
		// No file the container leaves on a bind mount is setuid or
		// setgid (seccomp.go).
		SecurityOpt: []string{"no-new-privileges", "seccomp=" + profile},
		CapDrop:     droppedCaps,
		Resources: container.Resources{
			Memory:   spec.Limits.Memory,
			NanoCPUs: spec.Limits.NanoCPUs,
		},
	}
	if spec.Limits.Pids > 0 {
		pids := spec.Limits.Pids
		hostCfg.PidsLimit = &pids
	}
	if spec.Limits.Memory > 0 {
		// No swap beyond the limit: the limit is the limit.
		hostCfg.MemorySwap = spec.Limits.Memory
	}
	return cfg, hostCfg, nil
}

// droppedCaps are capabilities the engine grants by default that no agent
// needs: raw sockets (spoofing, sniffing the bridge), device nodes,
// writing the audit log, and file capabilities (with which root inside
// could make a binary privileged for a later process). The rest (chown,
// setuid for package managers run as root inside, binding low ports) stay:
// a non-root sandbox user has none of them in its effective set anyway,
// and no-new-privileges keeps setuid binaries from handing them out.
// sandbox.Hardening must change with this list.
var droppedCaps = []string{"AUDIT_WRITE", "MKNOD", "NET_RAW", "SETFCAP"}

// mountTable turns spec's mounts into the engine's, adding the workdir and
// $HOME as read-write binds at their own paths unless the spec mounts
// something at exactly those targets already.
func mountTable(spec sandbox.Spec) ([]mount.Mount, error) {
	ms := withImplicitMounts(spec)
	out := make([]mount.Mount, 0, len(ms))
	seen := map[string]bool{}
	for _, m := range ms {
		if !filepath.IsAbs(m.Target) {
			return nil, fmt.Errorf("docker: mount target %q is not an absolute path", m.Target)
		}
		target := filepath.Clean(m.Target)
		if seen[target] {
			return nil, fmt.Errorf("docker: two mounts at %s", target)
		}
		seen[target] = true
		if m.Tmpfs {
			out = append(out, mount.Mount{Type: mount.TypeTmpfs, Target: target})
			continue
		}
		if m.Volume {
			out = append(out, volumeMount(spec, target))
			continue
		}
		if !filepath.IsAbs(m.Source) {
			return nil, fmt.Errorf("docker: mount source %q is not an absolute path", m.Source)
		}
		out = append(out, mount.Mount{Type: mount.TypeBind, Source: filepath.Clean(m.Source), Target: target, ReadOnly: m.ReadOnly})
	}
	return out, nil
}

// withImplicitMounts returns spec.Mounts plus the workdir and home binds a
// sandbox cannot work without, sorted so parents come before their
// children (a tmpfs hiding a dir must be mounted before the binds that
// reopen parts of it).
func withImplicitMounts(spec sandbox.Spec) []sandbox.Mount {
	ms := append([]sandbox.Mount(nil), spec.Mounts...)
	has := func(p string) bool {
		for _, m := range ms {
			if filepath.Clean(m.Target) == filepath.Clean(p) {
				return true
			}
		}
		return false
	}
	for _, p := range []string{spec.Workdir, spec.Home} {
		if p != "" && !has(p) {
			ms = append(ms, sandbox.Mount{Source: p, Target: p})
		}
	}
	sort.SliceStable(ms, func(i, j int) bool {
		return depth(ms[i].Target) < depth(ms[j].Target)
	})
	return ms
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// hostname makes the loop name a valid hostname, so the shell prompt says
// which loop it is in.
func hostname(loop string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(loop) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	h := strings.Trim(b.String(), "-")
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-")
	}
	if h == "" {
		return "loop"
	}
	return h
}

// Stop stops the loop's container; a stopped or missing one is fine.
func (e *Engine) Stop(ctx context.Context, spec sandbox.Spec) error {
	timeout := stopTimeout
	_, err := e.cli.ContainerStop(ctx, spec.Name(), client.ContainerStopOptions{Timeout: &timeout})
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	return e.wrap("docker stop "+spec.Name(), err)
}

// Remove removes the loop's container, running or not; a missing one is
// fine. A local loop's $HOME and workdir live on the host and are left
// alone; a remote loop's volumes (its clone and home) go with it.
func (e *Engine) Remove(ctx context.Context, spec sandbox.Spec) error {
	if err := e.removeContainer(ctx, spec.Name()); err != nil {
		return err
	}
	e.removeEtc(spec.Name())
	return e.removeVolumes(ctx, spec)
}

func (e *Engine) removeContainer(ctx context.Context, id string) error {
	_, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress"):
		// A concurrent remove will finish the job.
		return nil
	default:
		return e.wrap("docker remove "+id, err)
	}
}

// Status reports the loop's container. A loop without one gets
// StateMissing and an error wrapping sandbox.ErrNotFound.
func (e *Engine) Status(ctx context.Context, spec sandbox.Spec) (sandbox.Status, error) {
	res, err := e.cli.ContainerInspect(ctx, spec.Name(), client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return sandbox.Status{Driver: DriverName, State: sandbox.StateMissing},
			fmt.Errorf("docker status %s: %w", spec.Name(), sandbox.ErrNotFound)
	}
	if err != nil {
		return sandbox.Status{Driver: DriverName}, e.wrap("docker inspect "+spec.Name(), err)
	}
	return statusFromInspect(res.Container), nil
}

func statusFromInspect(c container.InspectResponse) sandbox.Status {
	st := sandbox.Status{Driver: DriverName, ID: c.ID, State: sandbox.StateStopped}
	if c.State != nil && c.State.Running {
		st.State = sandbox.StateRunning
	}
	if c.Config != nil {
		st.Image = c.Config.Image
		st.Labels = c.Config.Labels
		st.ConfigHash = c.Config.Labels[sandbox.LabelConfigHash]
	}
	// The live bindings know the port the engine picked for Host 0; a
	// stopped container has none, so fall back to the configured ones.
	ports := network.PortMap(nil)
	if c.NetworkSettings != nil && len(c.NetworkSettings.Ports) > 0 {
		ports = c.NetworkSettings.Ports
	} else if c.HostConfig != nil {
		ports = c.HostConfig.PortBindings
	}
	st.Ports = portsFrom(ports)
	return st
}

func portsFrom(pm network.PortMap) []sandbox.Port {
	var out []sandbox.Port
	for p, bs := range pm {
		for _, b := range bs {
			if b.HostIP.IsValid() && b.HostIP.Is6() {
				continue // the same port again, on the IPv6 loopback
			}
			host, _ := strconv.Atoi(b.HostPort)
			out = append(out, sandbox.Port{Host: host, Container: int(p.Num())})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Container < out[j].Container })
	return out
}

// List returns every container, running or not, carrying all labels.
func (e *Engine) List(ctx context.Context, labels map[string]string) ([]sandbox.Status, error) {
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: labelFilters(labels)})
	if err != nil {
		return nil, e.wrap("docker list", err)
	}
	out := make([]sandbox.Status, 0, len(res.Items))
	for _, c := range res.Items {
		st := sandbox.Status{
			Driver:     DriverName,
			ID:         c.ID,
			State:      sandbox.StateStopped,
			Image:      c.Image,
			Labels:     c.Labels,
			ConfigHash: c.Labels[sandbox.LabelConfigHash],
		}
		if c.State == container.StateRunning {
			st.State = sandbox.StateRunning
		}
		for _, p := range c.Ports {
			if p.PublicPort == 0 || (p.IP.IsValid() && p.IP.Is6()) {
				continue
			}
			st.Ports = append(st.Ports, sandbox.Port{Host: int(p.PublicPort), Container: int(p.PrivatePort)})
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Labels[sandbox.LabelLoop] < out[j].Labels[sandbox.LabelLoop]
	})
	return out, nil
}

// labelFilters matches objects carrying every label; an empty value
// matches the label with any value.
func labelFilters(labels map[string]string) client.Filters {
	f := client.Filters{}
	for k, v := range labels {
		if v == "" {
			f.Add("label", k)
		} else {
			f.Add("label", k+"="+v)
		}
	}
	return f
}
