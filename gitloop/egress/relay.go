package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
)

// Port is where the relay listens on the sandbox's loopback. Each bwrap
// exec has a network of its own and a docker loop's container runs one
// agent at a time (the agent lock), so a fixed port does not collide; a
// fixed port lets the base URL be written before the sandbox starts.
const Port = 47813

// BaseURL is the client's base URL inside the sandbox.
func BaseURL() string { return fmt.Sprintf("http://127.0.0.1:%d", Port) }

// Relay runs inside the sandbox: it listens on listen (the sandbox's
// loopback) and carries each connection to the proxy's unix socket, while
// it runs cmd, whose exit code it returns. Signals it gets go to cmd.
func Relay(listen, socket string, cmd []string) (int, error) {
	if len(cmd) == 0 {
		return 2, errors.New("egress relay: no command")
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return 1, fmt.Errorf("egress relay: %w", err)
	}
	defer l.Close()
	return relay(l, socket, exec.Command(cmd[0], cmd[1:]...))
}

// HandTokenEnv, when set in a client-by-hand relay's env, is the
// credential the client sends instead of Placeholder: a token of that
// exec's proxy, which requires it when the relay's port is on the host's
// loopback (sandbox.network = host).
const HandTokenEnv = "GIT_LOOP_EGRESS_TOKEN"

// RelayHand is Relay for a client a user runs by hand in "git loop exec"
// or "shell": several may run at once in one container, so it listens on
// a free port of the sandbox's loopback and points the client there
// itself, as a session's command line does with the fixed Port: Claude by
// ANTHROPIC_BASE_URL, Codex by "-c openai_base_url=…" inserted at index
// at of cmd (after the program's words). credEnv name the variables that
// get the placeholder (the kind the host's login needs).
func RelayHand(kind string, at int, socket string, credEnv, cmd []string) (int, error) {
	if len(cmd) == 0 || at < 1 || at > len(cmd) {
		return 2, errors.New("egress relay: no command, or --at outside it")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 1, fmt.Errorf("egress relay: %w", err)
	}
	defer l.Close()
	base := "http://" + l.Addr().String()
	env := os.Environ()
	cred := Placeholder
	if tok := os.Getenv(HandTokenEnv); tok != "" {
		cred = tok // the proxy requires it (sandbox.network = host)
	}
	for _, k := range credEnv {
		if k != "" {
			env = append(env, k+"="+cred)
		}
	}
	switch kind {
	case Claude:
		env = append(env, "ANTHROPIC_BASE_URL="+base)
	case Codex:
		cmd = slices.Insert(slices.Clone(cmd), at, "-c", fmt.Sprintf("openai_base_url=%q", base+"/v1"))
	default:
		return 2, fmt.Errorf("egress relay: client %q is not claude or codex", kind)
	}
	c := exec.Command(cmd[0], cmd[1:]...)
	c.Env = env
	return relay(l, socket, c)
}

func relay(l net.Listener, socket string, c *exec.Cmd) (int, error) {
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go pipe(conn, socket)
		}
	}()
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return 127, fmt.Errorf("egress relay: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = c.Process.Signal(s)
			case <-ctx.Done():
				return
			}
		}
	}()
	err := c.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exit.ExitCode(), nil
	}
	return 1, fmt.Errorf("egress relay: %w", err)
}

func pipe(c net.Conn, socket string) {
	defer c.Close()
	short, release, err := shortPath(socket)
	if err != nil {
		return
	}
	u, err := net.Dial("unix", short)
	release()
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(u, c)
		if cw, ok := u.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(c, u)
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	<-done
}
