package newcmd_test

import (
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/kube/kubetest"
)

// TestKubernetesLoopLife: a whole loop life on a cluster (the fake API
// server, the real client-go executor), where no host path is mounted
// (the driver refuses one): see cmdtest.RemoteLoopLife.
func TestKubernetesLoopLife(t *testing.T) {
	srv := kubetest.New(t)
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "loops"))
	repo := gittest.Repo(t)
	cmdtest.RemoteLoopLife(t, repo, cmdtest.RemoteLife{
		Driver: "kubernetes",
		Count:  func(*testing.T) (int, int) { return srv.Count() },
		Stores: 1,
		// The fake's pod dirs are this host's.
		SharedDirs: true,
	})
	if n := srv.ExecCount("websocket"); n == 0 {
		t.Errorf("no exec over websocket")
	}
	r := cmdtest.RunWith(t, repo, cmdtest.Options{Env: map[string]string{"GIT_LOOP_SANDBOX_DRIVER": "kubernetes"}}, "doctor")
	if !strings.Contains(r.Stdout, "driver kubernetes (context fake, namespace loops, "+srv.URL+")") {
		t.Errorf("doctor does not name the cluster:\n%s%s", r.Stdout, r.Stderr)
	}
}

// TestKubernetesContextLife: a loop on a cluster gets clones of its own
// of knowledge and notes in its claim, seeded by a push; a note made
// there lands by promote, and main comes in by sync: see
// cmdtest.RemoteContextLife.
func TestKubernetesContextLife(t *testing.T) {
	srv := kubetest.New(t)
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "loops"))
	repo, o, home := cmdtest.InitRepo(t)
	cmdtest.RemoteContextLife(t, repo, home, cmdtest.RemoteLife{
		Driver:  "kubernetes",
		Options: o,
		Count:   func(*testing.T) (int, int) { return srv.Count() },
		Stores:  1,
		// The fake's pod dirs are this host's.
		SharedDirs: true,
	})
}

// TestKubernetesSeedUndo: a new whose seeding push fails leaves no pod,
// claim, record or branch on the cluster or here, and runs again: see
// cmdtest.RemoteSeedUndo.
func TestKubernetesSeedUndo(t *testing.T) {
	srv := kubetest.New(t)
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "loops"))
	repo, o, _ := cmdtest.InitRepo(t)
	cmdtest.RemoteSeedUndo(t, repo, cmdtest.RemoteLife{
		Driver:  "kubernetes",
		Options: o,
		Count:   func(*testing.T) (int, int) { return srv.Count() },
		Stores:  1,
	})
}
