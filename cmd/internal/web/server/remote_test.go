package server_test

import (
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/web/server"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/kube/kubetest"
)

// TestRemoteLoopShown: a remote loop (its clone on the fake cluster)
// shows its placement and the age of the host's last fetch on the loops
// page, its own page and the API, and none of them execs into it: the
// viewer shows what the host last fetched (issue 14: it stays cheap).
func TestRemoteLoopShown(t *testing.T) {
	srv := kubetest.New(t)
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "loops"))
	repo := gittest.Repo(t)
	gittest.Git(t, repo, "config", "user.name", "User")
	gittest.Git(t, repo, "config", "user.email", "user@example.com")
	if r := cmdtest.Run(t, repo, "new", "kx", "--driver", "kubernetes", "--detach"); r.Code != 0 {
		t.Fatalf("new: exit %d\n%s", r.Code, r.Stderr)
	}
	if r := cmdtest.Run(t, repo, "exec", "kx", "--", "sh", "-c", "echo a > a && git add a && git commit -qm a"); r.Code != 0 {
		t.Fatalf("exec: exit %d\n%s", r.Code, r.Stderr)
	}
	execs := func() int64 { return srv.ExecCount("websocket") + srv.ExecCount("spdy") }
	ws := service(t, repo, nil)
	h, err := server.New(server.Options{Workspace: ws, Token: testToken, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	before := execs()
	for _, tc := range []struct{ path, want string }{
		{"/", "kubernetes, remote"},
		{"/loops/rows", "kubernetes, remote"},
		{"/", "fetched "},
		{"/loops/kx", "<dt>placement</dt><dd>remote"},
		{"/loops/kx", "fetched from the sandbox"},
		{"/api/loops", `"placement": "remote"`},
		{"/api/loops/kx", `"lastFetch":`},
	} {
		b := execs()
		r := get(t, h, tc.path)
		if n := execs() - b; n != 0 {
			t.Errorf("GET %s made %d execs", tc.path, n)
		}
		if r.code != 200 || !strings.Contains(r.body, tc.want) {
			t.Errorf("GET %s = %d, no %q in\n%s", tc.path, r.code, tc.want, r.body)
		}
	}
	if n := execs() - before; n != 0 {
		t.Errorf("the viewer made %d execs into the remote loop, want none", n)
	}
}
