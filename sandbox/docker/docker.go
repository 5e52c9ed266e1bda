// Package docker is the sandbox driver on the Docker Engine API. Each loop
// gets one long-lived container (sleep infinity under the engine's init)
// named after the loop and labelled with its workspace, loop and config
// hash; every agent run and shell is an exec in it, so per-run secrets reach
// only the exec and never the stored container config.
//
// This is the only package that imports the Docker client. It talks to
// whatever DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH,
// DOCKER_API_VERSION) names, negotiating the API version down to the
// engine's, so podman sockets and old engines (API 1.40+) work.
package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// DriverName is what Name returns and what Status.Driver carries.
const DriverName = "docker"

// ErrImageNotFound is wrapped when a loop's image is not on the engine;
// git loop never pulls, since sandbox images are built locally.
var ErrImageNotFound = errors.New("sandbox image not found")

// Engine is the docker driver. It holds one API client, safe for
// concurrent use; Close releases it.
type Engine struct {
	cli *client.Client
	// host is the engine's address as the user named it (an ssh://
	// engine's client talks to a placeholder over its own dialer).
	host string
	// cacheDir keeps what the driver learnt of images (see addUser);
	// empty for none.
	cacheDir string
	// placeMu guards SeesHostPaths's last answer (seenHostPaths).
	placeMu   sync.Mutex
	placeSees bool
	placeAt   time.Time
}

var _ sandbox.Engine = (*Engine)(nil)

// New returns a driver for the engine the environment names, as the docker
// CLI resolves it (DOCKER_HOST, else DOCKER_CONTEXT or the CLI's current
// context, else the local socket; tcp://, unix:// and ssh://). It does
// not contact the engine: the first call does, so constructing it stays
// free for commands that never need it.
func New() (*Engine, error) {
	ep, err := ResolveEndpoint()
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	opts, err := ep.clientOpts()
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	cli, err := client.New(opts...)
	if err != nil {
		// Only a malformed host or TLS setting gets here.
		return nil, fmt.Errorf("docker client: %w", err)
	}
	e := &Engine{cli: cli, host: ep.Host}
	if e.host == "" {
		e.host = cli.DaemonHost()
	}
	if ep.Context != "" {
		e.host += " (docker context " + ep.Context + ")"
	}
	if dir, err := os.UserCacheDir(); err == nil {
		e.cacheDir = filepath.Join(dir, "git-loop", "docker")
	}
	return e, nil
}

// Open is New followed by Ping: it returns an engine only when one answers
// before ctx ends, and otherwise an error wrapping
// sandbox.ErrEngineUnreachable. It fits sandbox.Candidate.Open.
func Open(ctx context.Context) (sandbox.Engine, error) {
	e, err := New()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sandbox.ErrEngineUnreachable, err)
	}
	if strings.HasPrefix(e.host, "ssh://") {
		// An ssh:// engine answers after ssh's handshake (a second or
		// so), past auto's probe of a local socket: the user named it,
		// so it gets the time of a connection rather than a fallback.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), sshOpenTimeout)
		defer cancel()
	}
	if err := e.Ping(ctx); err != nil {
		_ = e.Close()
		return nil, err
	}
	return e, nil
}

// sshOpenTimeout bounds Open's ping of an ssh:// engine.
const sshOpenTimeout = 20 * time.Second

// Candidate is the docker entry for sandbox.Auto.
func Candidate() sandbox.Candidate {
	return sandbox.Candidate{Name: DriverName, Open: Open}
}

func (*Engine) Name() string { return DriverName }

// Close releases the client's connections.
func (e *Engine) Close() error { return e.cli.Close() }

// Host is the engine address in use, for doctor and error messages.
func (e *Engine) Host() string { return e.host }

// Ping checks that the engine answers and settles the API version.
func (e *Engine) Ping(ctx context.Context) error {
	_, err := e.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil && ctx.Err() != nil {
		// An engine too slow for auto's short probe is as good as none.
		return fmt.Errorf("docker ping: %w: no answer from %s: %v", sandbox.ErrEngineUnreachable, e.host, ctx.Err())
	}
	return e.wrap("docker ping", err)
}

// APIVersion is the API version in use after negotiation (after Ping or
// any other call).
func (e *Engine) APIVersion() string { return e.cli.ClientVersion() }

// wrap adds context to an engine error, turning every way of not reaching
// the engine into sandbox.ErrEngineUnreachable with the remedy spelled out.
func (e *Engine) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if client.IsErrConnectionFailed(err) {
		remedy := `start it ("sudo systemctl start docker" or "dockerd")`
		if !strings.HasPrefix(e.host, "unix://") && !strings.HasPrefix(e.host, "npipe://") {
			remedy = "check that it runs and that this machine reaches it (for ssh://: \"ssh HOST docker version\" must work)"
		}
		if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "permission denied") {
			remedy = `add your user to the "docker" group ("sudo usermod -aG docker $USER", then log in again)`
		}
		return fmt.Errorf("%s: %w at %s: %v; %s, set DOCKER_HOST to a running engine, or choose another driver (--driver bwrap|none)",
			op, sandbox.ErrEngineUnreachable, e.host, err, remedy)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// defaultUser is the invoking user's uid:gid, so that files the sandbox
// writes in bind-mounted dirs stay the user's.
func defaultUser() string {
	return strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
}

// Capabilities: volumes always; host paths when the engine listens on a
// local socket, since an engine reached over tcp:// or ssh:// binds paths
// of its own machine, not this one's.
func (e *Engine) Capabilities() sandbox.Capabilities {
	host := e.host
	local := strings.HasPrefix(host, "unix://") || strings.HasPrefix(host, "npipe://")
	return sandbox.Capabilities{HostPaths: local, Volumes: true, Isolated: true}
}
