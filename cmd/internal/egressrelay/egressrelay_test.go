package egressrelay_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/egressrelay"
)

func TestNewCmdEgressRelay(t *testing.T) {
	type O = egressrelay.RelayOptions
	cmdtest.TestArgs(t, egressrelay.NewCmdEgressRelay, func(o *O) { o.Stderr = nil }, []cmdtest.ArgsCase[O]{
		{Name: "the agent's own flags stay its own",
			Args: []string{"--listen", "127.0.0.1:1", "--socket", "/s", "--", "claude", "-p", "--listen", "x"},
			Want: O{Listen: "127.0.0.1:1", Socket: "/s", At: 1, Cmd: []string{"claude", "-p", "--listen", "x"}}},
		{Name: "a client by hand",
			Args: []string{"--client", "codex", "--at", "3", "--", "env", "A=1", "codex", "exec"},
			Want: O{Client: "codex", At: 3, Cmd: []string{"env", "A=1", "codex", "exec"}}},
		{Name: "no command", Args: []string{"--listen", "127.0.0.1:1", "--socket", "/s"}, WantErr: "requires at least 1 arg"},
		{Name: "a remote loop's relay", Args: []string{"--stdio"}, Want: O{Stdio: true, At: 1, Cmd: []string{}}},
		{Name: "stdio runs no command", Args: []string{"--stdio", "--", "true"}, WantErr: "unknown command"},
		{Name: "stdio alone", Args: []string{"--stdio", "--client", "claude"}, WantErr: "takes no other flag"},
		{Name: "no socket", Args: []string{"--listen", "127.0.0.1:1", "--", "true"}, WantErr: "needs --listen and --socket"},
	})
}
