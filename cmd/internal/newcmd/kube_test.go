package newcmd_test

import (
	"os"
	"path/filepath"
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

// TestKubernetesNodeSetting: sandbox.kube.node places the loop's pod on
// that node (spec.nodeName), for a cluster without a scheduler (as
// scripts/kube-local.sh's, where a pod without it stays Pending).
func TestKubernetesNodeSetting(t *testing.T) {
	srv := kubetest.New(t)
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "loops"))
	repo := gittest.Repo(t)
	gittest.Git(t, repo, "config", "loop.sandbox.kube.node", "node-a")
	if r := cmdtest.Run(t, repo, "new", "kn", "--driver", "kubernetes", "--detach"); r.Code != 0 {
		t.Fatalf("new: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	id, err := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
	if err != nil {
		t.Fatal(err)
	}
	pod := srv.Pod("loops", "gitloop-"+strings.TrimSpace(string(id))+"-kn")
	if pod == nil {
		t.Fatal("no pod for loop kn")
	}
	if pod.Spec.NodeName != "node-a" || pod.Spec.HostNetwork {
		t.Errorf("pod on node %q, host network %v; want node-a on the pod network", pod.Spec.NodeName, pod.Spec.HostNetwork)
	}
}
