package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/agent"
	"github.com/gitloop-dev/git-loop/gitloop/egress"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

const socketName = "proxy.sock"

// credentialEnv are the variables by which each client takes a model
// credential: one of them in the exec's env (a vault's) is the user's
// choice for this loop, and the host's login stays out of it.
var credentialEnv = map[agent.Kind][]string{
	agent.Claude: {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL"},
	agent.Codex:  {"OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL"},
}

// withEgress lets a Claude or Codex agent in a docker or bwrap sandbox
// use the host's login without holding it: it starts the loop's egress
// proxy on its socket, wraps x.Cmd in the relay that reaches it from the
// sandbox's loopback, and points the client there with a placeholder
// credential. The host's login is read on the host, per request; nothing
// of it enters the sandbox, its env or its argv. No login on the host, a
// vault that gives the client its own credential, or another driver
// leave x as it is. The returned stop ends the proxy.
func withEgress(ctx context.Context, s *workspace.Workspace, eng sandbox.Engine, inv *agent.Invocation, spec sandbox.Spec, x *sandbox.Exec) (stop func(), err error) {
	driver := inv.Loop.Sandbox.Driver
	remote := inv.Loop.Sandbox.Remote()
	stop = func() {}
	kind := map[agent.Kind]string{agent.Claude: egress.Claude, agent.Codex: egress.Codex}[inv.Agent.Kind]
	if kind == "" || (driver != "docker" && driver != "bwrap" && driver != "none" && !remote) {
		return stop, nil
	}
	for _, k := range credentialEnv[inv.Agent.Kind] {
		if _, set := x.Env[k]; set {
			return stop, nil
		}
		if _, set := spec.Env[k]; set {
			return stop, nil
		}
	}
	home, _ := os.UserHomeDir()
	login, err := egress.Find(kind, os.LookupEnv, home)
	if err != nil {
		return stop, nil // the client says it is not logged in; doctor says why
	}
	if driver == "none" {
		return egressOnHost(inv, login, x)
	}
	if remote {
		return remoteEgress(ctx, s, inv.Loop, login, eng, spec, x, func(base, cred string) {
			x.Cmd = pointAt(inv, login, x, base, cred)
		})
	}
	bin, err := s.HookBinary()
	if err != nil || runtime.GOOS != "linux" {
		return stop, nil // no git-loop to relay with inside (see sandboxspec's hookSandbox)
	}
	dir := sandboxspec.EgressDir(s, inv.Loop.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return stop, fmt.Errorf("loop %s: egress proxy: %w", inv.Loop.Name, err)
	}
	p := egress.NewProxy(login, nil)
	cred := egress.Placeholder
	if spec.Network == sandbox.NetworkHost {
		// The relay's port is then on the host's loopback, where every
		// local process (another loop on the host's network, another
		// user) reaches it: as on the none driver, the client's
		// credential is a token of this session's, which the proxy
		// requires.
		if cred, err = requireSessionToken(p); err != nil {
			return stop, err
		}
	}
	srv, err := egress.Listen(filepath.Join(dir, socketName), p)
	if err != nil {
		return stop, fmt.Errorf("loop %s: %w", inv.Loop.Name, err)
	}
	if err := giveSocket(srv, spec); err != nil {
		return stop, fmt.Errorf("loop %s: egress proxy: %w", inv.Loop.Name, err)
	}
	cmd := pointAt(inv, login, x, egress.BaseURL(), cred)
	inside := path.Join(sandboxspec.EgressMount, socketName)
	x.Cmd = append([]string{bin, "relay", "--listen", fmt.Sprintf("127.0.0.1:%d", egress.Port), "--socket", inside, "--"}, cmd...)
	return func() { _ = srv.Close() }, nil
}

// egressOnHost is the none driver's: the agent runs on the host, as you,
// but with the loop's own config dir, where the host's login is not. The
// proxy listens on the host's loopback, which every local process
// reaches, so the client's credential is a token of this session's,
// which the proxy requires.
func egressOnHost(inv *agent.Invocation, login *egress.Login, x *sandbox.Exec) (stop func(), err error) {
	p := egress.NewProxy(login, nil)
	tok, err := requireSessionToken(p)
	if err != nil {
		return func() {}, err
	}
	srv, err := egress.ListenTCP("127.0.0.1:0", p)
	if err != nil {
		return func() {}, fmt.Errorf("loop %s: %w", inv.Loop.Name, err)
	}
	x.Cmd = pointAt(inv, login, x, "http://"+srv.Addr, tok)
	return func() { _ = srv.Close() }, nil
}

// requireSessionToken makes p require a random credential of its own
// (for one session or exec) and returns it, for the client to send.
func requireSessionToken(p *egress.Proxy) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("egress proxy: %w", err)
	}
	tok := "git-loop-session-" + hex.EncodeToString(b)
	p.RequireToken(tok)
	return tok, nil
}

// pointAt points the client at the proxy (base) with cred as its
// credential, and returns its command line.
func pointAt(inv *agent.Invocation, login *egress.Login, x *sandbox.Exec, base, cred string) []string {
	for k := range login.SandboxEnv {
		x.Env[k] = cred
	}
	cmd := slices.Clone(x.Cmd)
	switch inv.Agent.Kind {
	case agent.Claude:
		x.Env["ANTHROPIC_BASE_URL"] = base
	case agent.Codex:
		if cred != egress.Placeholder {
			// A proxy that requires a token: Codex sends OPENAI_API_KEY
			// only after a login, while CODEX_API_KEY it always sends.
			x.Env["CODEX_API_KEY"] = cred
		}
		// Codex takes its base URL from its config only: an override
		// right after the program (the agent's own words end Cmd).
		at := len(cmd) - (len(inv.Argv) - 1)
		cmd = slices.Insert(cmd, at, "-c", fmt.Sprintf("openai_base_url=%q", base+"/v1"))
	}
	return cmd
}

// egressByHand serves the host's login to a Claude Code or Codex client
// a user runs by hand in "git loop exec" or "shell", for as long as the
// exec runs: it starts a proxy on a socket of this exec's own (a session
// and other execs of the loop may be serving theirs) and names it in the
// exec's env, where the loop's wrapper on PATH (agent.Mounts) finds it
// and runs the client under "git loop relay --client". Nothing of the
// login enters the sandbox. As withEgress: only the loop's own agent
// kind, docker and bwrap, a login on the host, and no vault of the
// client's own credential. The returned stop ends the proxy.
func egressByHand(ctx context.Context, s *workspace.Workspace, eng sandbox.Engine, m *state.Meta, spec sandbox.Spec, x *sandbox.Exec) (stop func(), err error) {
	stop = func() {}
	if m.Sandbox.Driver != "docker" && m.Sandbox.Driver != "bwrap" && !m.Sandbox.Remote() {
		return stop, nil
	}
	a, err := agent.ForLoop(s, m, "")
	if err != nil {
		return stop, nil
	}
	kind := map[agent.Kind]string{agent.Claude: egress.Claude, agent.Codex: egress.Codex}[a.Kind]
	if kind == "" {
		return stop, nil
	}
	for _, k := range credentialEnv[a.Kind] {
		if _, set := spec.Env[k]; set {
			return stop, nil
		}
	}
	if _, err := s.HookBinary(); err != nil || runtime.GOOS != "linux" {
		return stop, nil // no relay inside
	}
	home, _ := os.UserHomeDir()
	login, err := egress.Find(kind, os.LookupEnv, home)
	if err != nil {
		return stop, nil // the client says it is not logged in; doctor says why
	}
	if m.Sandbox.Remote() {
		return handRemote(ctx, s, m, a.Kind, login, eng, spec, x)
	}
	dir := sandboxspec.EgressDir(s, m.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return stop, fmt.Errorf("loop %s: egress proxy: %w", m.Name, err)
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return stop, err
	}
	name := "exec-" + hex.EncodeToString(b) + ".sock"
	p := egress.NewProxy(login, nil)
	if x.Env == nil {
		x.Env = map[string]string{}
	}
	if spec.Network == sandbox.NetworkHost {
		// The relay's free port is then on the host's loopback, where
		// every local process reaches it (as for sessions, withEgress):
		// the proxy requires this exec's token, which the client sends.
		tok, err := requireSessionToken(p)
		if err != nil {
			return stop, err
		}
		x.Env[egress.HandTokenEnv] = tok
	}
	srv, err := egress.Listen(filepath.Join(dir, name), p)
	if err != nil {
		return stop, fmt.Errorf("loop %s: %w", m.Name, err)
	}
	if err := giveSocket(srv, spec); err != nil {
		return stop, fmt.Errorf("loop %s: egress proxy: %w", m.Name, err)
	}
	x.Env[agent.HandEgressEnv] = path.Join(sandboxspec.EgressMount, name)
	names := make([]string, 0, len(login.SandboxEnv))
	for k := range login.SandboxEnv {
		names = append(names, k)
	}
	slices.Sort(names)
	x.Env[agent.HandEgressCredEnv] = strings.Join(names, ",")
	return func() { _ = srv.Close() }, nil
}

// giveSocket gives a proxy's socket (mode 0600) to the sandbox's user
// when git loop runs as root and the sandbox does not: that user, not
// root, connects. On failure the proxy is closed.
func giveSocket(srv *egress.Server, spec sandbox.Spec) error {
	uid, gid, ok := workspace.ParseUser(spec.User)
	if !ok || os.Getuid() != 0 || uid == 0 {
		return nil
	}
	if err := os.Lchown(srv.Socket, uid, gid); err != nil {
		_ = srv.Close()
		return err
	}
	return nil
}
