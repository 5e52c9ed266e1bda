package newcmd_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/kube/kubetest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// TestKubernetesLocalLoopLife: the whole loop life of
// TestKubernetesLoopLife on scripts/kube-local.sh's real cluster (an
// apiserver, a kubelet and containerd; opt-in, GIT_LOOP_TEST_KUBE_LOCAL=1),
// as a user runs it: the settings in git config, a namespace of its own,
// pods on the cluster's pod network. The cluster has no scheduler
// (sandbox.kube.node names the node) and no provisioner (a volume per
// claim is made here).
func TestKubernetesLocalLoopLife(t *testing.T) {
	sandboxtest.OptIn(t, kubetest.EnvKubeLocal, "kube-local", `against scripts/kube-local.sh's cluster: scripts/kube-local.sh up, then eval "$(scripts/kube-local.sh env)"`)
	if kc := os.Getenv("GIT_LOOP_TEST_KUBECONFIG"); kc != "" {
		t.Setenv("KUBECONFIG", kc)
	}
	ns := fmt.Sprintf("gitloop-life-%d", time.Now().UnixNano())
	kubetest.Kubectl(t, "", "create", "namespace", ns)
	t.Cleanup(func() { kubetest.Kubectl(t, "", "delete", "namespace", ns, "--wait=false") })
	// The admission of a pod needs the namespace's default service
	// account, which the controller manager makes.
	for i := 0; ; i++ {
		if out, err := kubectlOut("get", "serviceaccount", "default", "-n", ns); err == nil {
			break
		} else if i == 120 {
			t.Fatalf("no default service account in %s: %s", ns, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Two loops are made in the life (kx, then ky for uninstall).
	kubetest.LocalVolumes(t, "life", 2)
	repo := gittest.Repo(t)
	for k, v := range map[string]string{
		"sandbox.kube.namespace":    ns,
		"sandbox.kube.node":         "localhost",
		"sandbox.kube.storageClass": kubetest.LocalClass,
		"sandbox.kube.storage":      "1Gi",
		"sandbox.image":             os.Getenv("GIT_LOOP_TEST_KUBE_LOCAL_IMAGE"),
	} {
		gittest.Git(t, repo, "config", "loop."+k, v)
	}
	count := func(t *testing.T) (int, int) {
		// What is live: a pod or claim being deleted is gone for the loop.
		n := func(kind string) int {
			out := kubetest.Kubectl(t, "", "get", kind, "-n", ns, "-o", `jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}`)
			live := 0
			for _, l := range strings.Split(out, "\n") {
				if len(strings.Fields(l)) == 1 {
					live++
				}
			}
			return live
		}
		return n("pods"), n("pvc")
	}
	start := time.Now()
	cmdtest.RemoteLoopLife(t, repo, cmdtest.RemoteLife{Driver: "kubernetes", Count: count, Stores: 1})
	t.Logf("the whole life: %v", time.Since(start))
}

func kubectlOut(args ...string) (string, error) {
	out, err := exec.Command("kubectl", args...).CombinedOutput()
	return string(out), err
}
