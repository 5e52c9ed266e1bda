package newcmd_test

import (
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/kube/kubetest"
)

// TestNewOnKubernetes: until new places a loop's clone on a claim (remote
// placement), a loop on a cluster is refused, naming the host path the
// cluster cannot see, and nothing is left behind: no branch, no pod, no
// claim. It never becomes a pod with an empty directory for a worktree.
func TestNewOnKubernetes(t *testing.T) {
	srv := kubetest.New(t)
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "loops"))
	repo := gittest.Repo(t)
	r := cmdtest.Run(t, repo, "new", "kx", "--driver", "kubernetes", "--detach")
	if r.Code == 0 || !strings.Contains(r.Stderr, "cannot see") {
		t.Fatalf("new on kubernetes: exit %d\n%s", r.Code, r.Stderr)
	}
	if got := cmdtest.LoopBranches(t, repo); len(got) != 0 {
		t.Errorf("loop branches left: %v", got)
	}
	if pods, claims := srv.Count(); pods != 0 || claims != 0 {
		t.Errorf("%d pods and %d claims left", pods, claims)
	}
	if n := srv.ExecCount("websocket") + srv.ExecCount("spdy"); n != 0 {
		t.Errorf("%d execs ran", n)
	}
	t.Logf("new: %s", r.Stderr)
	r = cmdtest.RunWith(t, repo, cmdtest.Options{Env: map[string]string{"GIT_LOOP_SANDBOX_DRIVER": "kubernetes"}}, "doctor")
	if !strings.Contains(r.Stdout, "driver kubernetes (context fake, namespace loops, "+srv.URL+")") {
		t.Errorf("doctor does not name the cluster:\n%s%s", r.Stdout, r.Stderr)
	}
}
