package session

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/gitloop-dev/git-loop/gitloop/agent"
	"github.com/gitloop-dev/git-loop/gitloop/egress"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
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
func withEgress(s *workspace.Workspace, inv *agent.Invocation, spec sandbox.Spec, x *sandbox.Exec) (stop func(), err error) {
	driver := inv.Loop.Sandbox.Driver
	stop = func() {}
	kind := map[agent.Kind]string{agent.Claude: egress.Claude, agent.Codex: egress.Codex}[inv.Agent.Kind]
	if kind == "" || (driver != "docker" && driver != "bwrap" && driver != "none") {
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
	bin, err := s.HookBinary()
	if err != nil || runtime.GOOS != "linux" {
		return stop, nil // no git-loop to relay with inside (see sandboxspec's hookSandbox)
	}
	dir := sandboxspec.EgressDir(s, inv.Loop.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return stop, fmt.Errorf("loop %s: egress proxy: %w", inv.Loop.Name, err)
	}
	srv, err := egress.Listen(filepath.Join(dir, socketName), egress.NewProxy(login, nil))
	if err != nil {
		return stop, fmt.Errorf("loop %s: %w", inv.Loop.Name, err)
	}
	if uid, gid, ok := workspace.ParseUser(spec.User); ok && os.Getuid() == 0 && uid != 0 {
		// Mode 0600: the sandbox's user, not root, connects.
		if err := os.Lchown(srv.Socket, uid, gid); err != nil {
			_ = srv.Close()
			return stop, fmt.Errorf("loop %s: egress proxy: %w", inv.Loop.Name, err)
		}
	}
	cmd := pointAt(inv, login, x, egress.BaseURL(), egress.Placeholder)
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
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return func() {}, err
	}
	tok := "git-loop-session-" + hex.EncodeToString(b)
	p := egress.NewProxy(login, nil)
	p.RequireToken(tok)
	srv, err := egress.ListenTCP("127.0.0.1:0", p)
	if err != nil {
		return func() {}, fmt.Errorf("loop %s: %w", inv.Loop.Name, err)
	}
	x.Cmd = pointAt(inv, login, x, "http://"+srv.Addr, tok)
	return func() { _ = srv.Close() }, nil
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
		// Codex takes its base URL from its config only: an override
		// right after the program (the agent's own words end Cmd).
		at := len(cmd) - (len(inv.Argv) - 1)
		cmd = slices.Insert(cmd, at, "-c", fmt.Sprintf("openai_base_url=%q", base+"/v1"))
	}
	return cmd
}
