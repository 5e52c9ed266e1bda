package sandboxe2e_test

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/sandbox/docker"
)

// serveAttack starts a server in loop a's sandbox that outlives the exec
// (git daemon, which every image with git has), listening on all of the
// container's addresses, as a dev server or a database a loop runs does.
const serveAttack = `setsid git daemon --listen=0.0.0.0 --port=9418 --export-all --base-path=/ --reuseaddr "$PWD" >/dev/null 2>&1 < /dev/null &
sleep 1; echo serving`

// reachAttack is loop b reaching for it at $1 (any loop can scan its
// bridge's /16 for it; the test saves it the scan).
const reachAttack = `if timeout 5 bash -c 'exec 3<>/dev/tcp/'"$1"'/9418' 2>/dev/null; then echo reached; else echo refused; fi`

// TestHostileCrossLoopNetwork: a docker loop's sandbox, on the default
// network policy (isolated), cannot open a connection to a server another
// loop runs in its own sandbox, of the same repository or another.
func TestHostileCrossLoopNetwork(t *testing.T) {
	t.Parallel()
	d := cmdtest.DockerDriver
	repo := newRepo(t, d)
	other := newRepo(t, d)
	cmdtest.MustRun(t, repo, "new", "a", "--driver", "docker", "--detach")
	cmdtest.MustRun(t, repo, "new", "b", "--driver", "docker", "--detach")
	cmdtest.MustRun(t, other, "new", "c", "--driver", "docker", "--detach")
	if out := sh(t, repo, "a", serveAttack); !strings.Contains(out, "serving") {
		t.Fatalf("the server did not start: %q", out)
	}
	out, err := exec.Command("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "gitloop-"+workspaceID(t, repo)+"-a").Output()
	if err != nil {
		t.Fatal(err)
	}
	ip := strings.Fields(string(out))
	if len(ip) == 0 {
		t.Fatalf("loop a's sandbox has no address: %q", out)
	}
	t.Logf("loop a serves on %s:9418", ip[0])
	// The server is up: a's own sandbox reaches it.
	if got := strings.TrimSpace(sh(t, repo, "a", "set -- "+ip[0]+"\n"+reachAttack)); got != "reached" {
		t.Fatalf("loop a does not reach its own server at %s: %q", ip[0], got)
	}
	for _, o := range []struct{ repo, loop string }{{repo, "b"}, {other, "c"}} {
		if got := strings.TrimSpace(sh(t, o.repo, o.loop, "set -- "+ip[0]+"\n"+reachAttack)); got != "refused" {
			t.Errorf("loop %s reached loop a's server: %q", o.loop, got)
		}
	}
	// Traffic out of the sandbox still flows: a server the host binds on
	// all addresses is reached through the network's gateway, as from any
	// machine (docs/security.md, Network).
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	gw, err := exec.Command("docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}} {{end}}", docker.IsolatedNetwork).Output()
	if err != nil || len(strings.Fields(string(gw))) == 0 {
		t.Fatalf("the network's gateway: %q, %v", gw, err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	out2 := sh(t, repo, "b", `if timeout 5 bash -c 'exec 3<>/dev/tcp/`+strings.Fields(string(gw))[0]+`/`+port+`'; then echo out; else echo blocked; fi`)
	if strings.TrimSpace(out2) != "out" {
		t.Errorf("loop b does not reach a host server through its network's gateway: %q", out2)
	}
}
