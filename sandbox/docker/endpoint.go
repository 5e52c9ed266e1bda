package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// Endpoint is the engine the environment names, resolved as the docker
// CLI resolves it: DOCKER_HOST, else the context named by DOCKER_CONTEXT,
// else the current context of the docker CLI's config.json, else the
// local socket.
type Endpoint struct {
	// Host is the engine's address: unix://…, tcp://…, ssh://…; empty
	// for the client's default (the local socket).
	Host string
	// Context is the docker context it came from ("" for DOCKER_HOST and
	// the default).
	Context string
	// TLS material of the context (files in its tls store), if any.
	CAFile, CertFile, KeyFile string
	SkipTLSVerify             bool
}

// ResolveEndpoint reads the environment and the docker CLI's contexts.
func ResolveEndpoint() (Endpoint, error) {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return Endpoint{Host: h}, nil
	}
	dir := dockerConfigDir()
	name := os.Getenv("DOCKER_CONTEXT")
	if name == "" && dir != "" {
		var cfg struct {
			CurrentContext string `json:"currentContext"`
		}
		if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
			if err := json.Unmarshal(b, &cfg); err != nil {
				return Endpoint{}, fmt.Errorf("docker config %s: %w", filepath.Join(dir, "config.json"), err)
			}
			name = cfg.CurrentContext
		}
	}
	if name == "" || name == "default" {
		return Endpoint{}, nil
	}
	return readContext(dir, name)
}

// dockerConfigDir is DOCKER_CONFIG, else ~/.docker.
func dockerConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker")
}

// readContext reads a docker context's docker endpoint from the CLI's
// store: contexts/meta/<sha256 of the name>/meta.json, and its TLS files
// under contexts/tls/<sha256>/docker.
func readContext(dir, name string) (Endpoint, error) {
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	meta := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	b, err := os.ReadFile(meta)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Endpoint{}, fmt.Errorf("docker context %q does not exist (no %s): \"docker context ls\" lists them", name, meta)
		}
		return Endpoint{}, fmt.Errorf("docker context %q: %w", name, err)
	}
	var m struct {
		Endpoints map[string]struct {
			Host          string `json:"Host"`
			SkipTLSVerify bool   `json:"SkipTLSVerify"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Endpoint{}, fmt.Errorf("docker context %q: %s: %w", name, meta, err)
	}
	ep, ok := m.Endpoints["docker"]
	if !ok || ep.Host == "" {
		return Endpoint{}, fmt.Errorf("docker context %q has no docker endpoint (%s)", name, meta)
	}
	out := Endpoint{Host: ep.Host, Context: name, SkipTLSVerify: ep.SkipTLSVerify}
	tls := filepath.Join(dir, "contexts", "tls", id, "docker")
	for _, f := range []struct {
		name string
		dst  *string
	}{{"ca.pem", &out.CAFile}, {"cert.pem", &out.CertFile}, {"key.pem", &out.KeyFile}} {
		if p := filepath.Join(tls, f.name); fileExists(p) {
			*f.dst = p
		}
	}
	return out, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// clientOpts are the moby client's options for ep. An ssh:// engine is
// reached as the docker CLI reaches it: "ssh HOST docker system
// dial-stdio" on the remote, whose stdio is the connection.
func (ep Endpoint) clientOpts() ([]client.Opt, error) {
	if ep.Host == "" {
		return []client.Opt{client.FromEnv}, nil
	}
	opts := []client.Opt{client.WithAPIVersionFromEnv()}
	u, err := url.Parse(ep.Host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", ep.Host, err)
	}
	if u.Scheme == "ssh" {
		args, err := sshArgs(u)
		if err != nil {
			return nil, err
		}
		// The host in the URL only names the connection: every dial runs
		// the command anew.
		opts = append(opts, client.WithHost("http://docker.example.com"),
			client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialCommand(ctx, "ssh", args...)
			}))
		return opts, nil
	}
	opts = append(opts, client.WithHost(ep.Host))
	switch {
	case ep.Context == "":
		opts = append(opts, client.WithTLSClientConfigFromEnv())
	case ep.CAFile != "" || ep.CertFile != "":
		opts = append(opts, client.WithTLSClientConfig(ep.CAFile, ep.CertFile, ep.KeyFile))
	}
	return opts, nil
}

// sshArgs are ssh's arguments for an ssh://[user@]host[:port] engine, as
// the docker CLI builds them.
func sshArgs(u *url.URL) ([]string, error) {
	if u.Hostname() == "" {
		return nil, fmt.Errorf("docker host %q: no host name", u.String())
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("docker host %q: ssh:// takes no path (the remote docker CLI reaches its own engine)", u.String())
	}
	if _, set := u.User.Password(); set {
		return nil, fmt.Errorf("docker host %q: ssh:// takes no password (use a key or ssh-agent)", u.Redacted())
	}
	var args []string
	if u.User != nil && u.User.Username() != "" {
		args = append(args, "-l", u.User.Username())
	}
	if p := u.Port(); p != "" {
		args = append(args, "-p", p)
	}
	// -T: no terminal; a connect timeout so a dead host is an error,
	// not a hang; "--" so the host name is never an option.
	args = append(args, "-T", "-o", "ConnectTimeout=30")
	args = append(args, multiplex(args, u.Hostname())...)
	args = append(args, "--", u.Hostname(), "docker", "system", "dial-stdio")
	return args, nil
}

// multiplex are ssh options that share one connection between git loop's
// dials: every exec's attach is a connection of its own, and a handshake
// each cost an exec 0.8 s where a shared one costs 0.34 s. Only when the
// user's ssh config leaves ControlMaster off ("ssh -G" says so): a
// master of their own is theirs to keep.
func multiplex(args []string, host string) []string {
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil
	}
	out, err := exec.Command("ssh", append(append([]string{"-G"}, args...), "--", host)...).Output()
	if err != nil || !strings.Contains("\n"+string(out), "\ncontrolmaster false\n") {
		return nil
	}
	dir := filepath.Join(cache, "git-loop", "ssh")
	if len(dir)+len("/")+maxControlName >= maxSocketPath {
		// ssh's socket there would not fit in a unix socket's path
		// (it then fails the dial, not just the sharing): no sharing.
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil
	}
	return []string{"-o", "ControlMaster=auto", "-o", "ControlPath=" + filepath.Join(dir, "%C"), "-o", "ControlPersist=60"}
}

// maxSocketPath is the smallest room for a unix socket's path among the
// systems ssh runs on (104 bytes on macOS and the BSDs, 108 on Linux),
// counting its final NUL; maxControlName is how long the name ssh makes
// of "%C" can be while it binds: 40 hex digits, then a dot and a random
// suffix of 16 characters.
const (
	maxSocketPath  = 104
	maxControlName = 40 + 1 + 16
)

// cmdConn is a process's stdio as a net.Conn: writes go to its stdin,
// reads come from its stdout. CloseWrite closes its stdin (the half-close
// git's protocol and the engine's attach streams rely on); Close ends it.
type cmdConn struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr *tailBuffer
	once   sync.Once
	addr   cmdAddr
}

func dialCommand(ctx context.Context, name string, args ...string) (net.Conn, error) {
	// The connection outlives the dial's context (the client reuses it):
	// the process is ended by Close, not by ctx.
	cmd := exec.Command(name, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &tailBuffer{max: 2048}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if ctx.Err() != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, ctx.Err()
	}
	return &cmdConn{cmd: cmd, stdin: stdin, stdout: stdout, stderr: stderr, addr: cmdAddr(name)}, nil
}

func (c *cmdConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if err == io.EOF && n == 0 {
		// The engine's side ended: say why when ssh said something.
		if msg := c.stderr.String(); msg != "" {
			return 0, fmt.Errorf("%s: %s", c.addr, msg)
		}
	}
	return n, err
}

func (c *cmdConn) Write(p []byte) (int, error) { return c.stdin.Write(p) }

func (c *cmdConn) CloseWrite() error { return c.stdin.Close() }

func (c *cmdConn) Close() error {
	c.once.Do(func() {
		_ = c.stdin.Close()
		// dial-stdio ends when its stdin does; give it a moment, then end
		// it, so no ssh is left behind.
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	})
	return nil
}

func (c *cmdConn) LocalAddr() net.Addr                { return c.addr }
func (c *cmdConn) RemoteAddr() net.Addr               { return c.addr }
func (c *cmdConn) SetDeadline(t time.Time) error      { return nil }
func (c *cmdConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *cmdConn) SetWriteDeadline(t time.Time) error { return nil }

type cmdAddr string

func (a cmdAddr) Network() string { return "cmd" }
func (a cmdAddr) String() string  { return string(a) }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
