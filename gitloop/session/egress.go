package session

import (
	"cmp"
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
// use the host's login without holding it: it lends the login (lendLogin)
// on the loop's session socket, wraps x.Cmd in the relay that reaches it
// from the sandbox's loopback, and points the client there with a
// placeholder credential; a remote loop's relay reaches the proxy over an
// exec of its own (remoteEgress). The host's login is read on the host,
// per request; nothing of it enters the sandbox, its env or its argv. No
// login on the host, a vault that gives the client its own credential,
// or another driver leave x as it is. The returned stop ends the proxy.
func withEgress(ctx context.Context, s *workspace.Workspace, eng sandbox.Engine, inv *agent.Invocation, spec sandbox.Spec, x *sandbox.Exec) (stop func(), err error) {
	stop = func() {}
	switch {
	case inv.Loop.Sandbox.Remote():
		login := hostLogin(inv.Agent.Kind, x.Env, spec.Env)
		if login == nil {
			return stop, nil
		}
		return remoteEgress(ctx, s, inv.Loop, login, eng, spec, x, func(base, cred string) {
			x.Cmd = pointAt(inv, login, x, base, cred)
		})
	case inv.Loop.Sandbox.Driver == "none":
		if login := hostLogin(inv.Agent.Kind, x.Env, spec.Env); login != nil {
			return egressOnHost(inv, login, x)
		}
		return stop, nil
	case inv.Loop.Sandbox.Driver == "docker", inv.Loop.Sandbox.Driver == "bwrap":
	default:
		return stop, nil
	}
	l, err := lendLogin(s, inv.Loop.Name, inv.Agent.Kind, spec, x.Env, socketName)
	if l == nil || err != nil {
		return stop, err
	}
	cmd := pointAt(inv, l.login, x, egress.BaseURL(), cmp.Or(l.token, egress.Placeholder))
	x.Cmd = append([]string{l.relay, "relay", "--listen", fmt.Sprintf("127.0.0.1:%d", egress.Port), "--socket", l.socket, "--"}, cmd...)
	return l.stop, nil
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
// exec runs: it lends the login (lendLogin) on a socket of this exec's
// own (a session and other execs of the loop may be serving theirs) and
// names it in the exec's env, where the loop's wrapper on PATH
// (agent.Mounts) finds it and runs the client under "git loop relay
// --client"; a remote loop's client gets a relay over an exec of its own
// (handRemote). Nothing of the login enters the sandbox. As withEgress:
// only the loop's own agent kind, docker, bwrap or a remote loop, a login
// on the host, and no vault of the client's own credential. The returned
// stop ends the proxy.
func egressByHand(ctx context.Context, s *workspace.Workspace, eng sandbox.Engine, m *state.Meta, spec sandbox.Spec, x *sandbox.Exec) (stop func(), err error) {
	stop = func() {}
	if m.Sandbox.Driver != "docker" && m.Sandbox.Driver != "bwrap" && !m.Sandbox.Remote() {
		return stop, nil
	}
	a, err := agent.ForLoop(s, m, "")
	if err != nil {
		return stop, nil
	}
	if m.Sandbox.Remote() {
		login := hostLogin(a.Kind, x.Env, spec.Env)
		if login == nil {
			return stop, nil
		}
		return handRemote(ctx, s, m, a.Kind, login, eng, spec, x)
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return stop, err
	}
	l, err := lendLogin(s, m.Name, a.Kind, spec, x.Env, "exec-"+hex.EncodeToString(b)+".sock")
	if l == nil || err != nil {
		return stop, err
	}
	if x.Env == nil {
		x.Env = map[string]string{}
	}
	if l.token != "" {
		x.Env[egress.HandTokenEnv] = l.token
	}
	x.Env[agent.HandEgressEnv] = l.socket
	names := make([]string, 0, len(l.login.SandboxEnv))
	for k := range l.login.SandboxEnv {
		names = append(names, k)
	}
	slices.Sort(names)
	x.Env[agent.HandEgressCredEnv] = strings.Join(names, ",")
	return l.stop, nil
}

// hostLogin is the host's login of a Claude or Codex client, or nil: for
// another client, with no login on the host (the client says it is not
// logged in; doctor says why), or when one of envs gives the client a
// credential of its own (credentialEnv).
func hostLogin(k agent.Kind, envs ...map[string]string) *egress.Login {
	kind := map[agent.Kind]string{agent.Claude: egress.Claude, agent.Codex: egress.Codex}[k]
	if kind == "" {
		return nil
	}
	for _, v := range credentialEnv[k] {
		for _, env := range envs {
			if _, set := env[v]; set {
				return nil
			}
		}
	}
	home, _ := os.UserHomeDir()
	login, err := egress.Find(kind, os.LookupEnv, home)
	if err != nil {
		return nil
	}
	return login
}

// loan is the host's login lent to one exec in a docker or bwrap sandbox.
type loan struct {
	login  *egress.Login
	srv    *egress.Server
	relay  string // the git-loop that relays inside the sandbox
	socket string // the proxy's socket, as the sandbox sees it
	token  string // the credential the proxy requires; "" off the host's network
}

func (l *loan) stop() { _ = l.srv.Close() }

// lendLogin is the one step by which a session (withEgress) and a client
// run by hand (egressByHand) use the host's login without holding it: it
// starts a proxy of the host's login (hostLogin) on socket sock of the
// loop's egress dir, which the sandbox mounts, and gives the socket to
// the sandbox's user. On the host's network the relay's port is on the
// host's loopback, where every local process (another loop on the host's
// network, another user) reaches it: the proxy then requires a token of
// this exec's own, which the client sends as its credential. It returns
// nil when there is nothing to lend (hostLogin) or no git-loop to relay
// with inside (see sandboxspec's hookSandbox).
func lendLogin(s *workspace.Workspace, loop string, k agent.Kind, spec sandbox.Spec, env map[string]string, sock string) (*loan, error) {
	login := hostLogin(k, env, spec.Env)
	if login == nil {
		return nil, nil
	}
	bin, err := s.HookBinary()
	if err != nil || runtime.GOOS != "linux" {
		return nil, nil
	}
	dir := sandboxspec.EgressDir(s, loop)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("loop %s: egress proxy: %w", loop, err)
	}
	l := &loan{login: login, relay: bin, socket: path.Join(sandboxspec.EgressMount, sock)}
	p := egress.NewProxy(login, nil)
	if spec.Network == sandbox.NetworkHost {
		if l.token, err = requireSessionToken(p); err != nil {
			return nil, err
		}
	}
	if l.srv, err = egress.Listen(filepath.Join(dir, sock), p); err != nil {
		return nil, fmt.Errorf("loop %s: %w", loop, err)
	}
	if err := giveSocket(l.srv, spec); err != nil {
		return nil, fmt.Errorf("loop %s: egress proxy: %w", loop, err)
	}
	return l, nil
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
