package kubetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/kube"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// EnvKubeLocal turns on the tests against a real cluster: the one
// scripts/kube-local.sh runs on this machine (`scripts/kube-local.sh up`,
// then `eval "$(scripts/kube-local.sh env)"`). Opt-in, not in CI: its
// kube-apiserver and kubelet take about 18 minutes to build.
const EnvKubeLocal = "GIT_LOOP_TEST_KUBE_LOCAL"

// LocalCluster is the driver on kube-local.sh's cluster and a spec whose
// claim binds to a volume made for it (no provisioner there: the
// controller manager binds the claim to this volume, as it would to a
// provisioned one). It skips unless EnvKubeLocal is 1.
func LocalCluster(t *testing.T, loop string) (*kube.Engine, sandbox.Spec) {
	t.Helper()
	sandboxtest.OptIn(t, EnvKubeLocal, "kube-local", `against scripts/kube-local.sh's cluster: scripts/kube-local.sh up, then eval "$(scripts/kube-local.sh env)"`)
	// Test mains that clean the environment keep only GIT_LOOP_TEST*:
	// the kubeconfig comes back from there.
	if kc := os.Getenv("GIT_LOOP_TEST_KUBECONFIG"); kc != "" {
		t.Setenv("KUBECONFIG", kc)
	}
	if os.Getenv("GIT_LOOP_TEST_KUBE_LOCAL_IMAGE") == "" {
		t.Fatal(`set the environment of: eval "$(scripts/kube-local.sh env)"`)
	}
	e, err := kube.New(kube.Options{StorageClass: LocalClass, Storage: "1Gi", NodeName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	spec := sandbox.Spec{Workspace: "tkubelocal", Loop: loop, Image: os.Getenv("GIT_LOOP_TEST_KUBE_LOCAL_IMAGE"),
		Workdir: "/loop/clone", Home: "/loop/home"}
	// Not t.Context(): it is cancelled before the cleanups run, and a
	// Remove on it leaves the pod and claim on the cluster.
	t.Cleanup(func() { _ = e.Remove(context.Background(), spec) })
	LocalVolumes(t, loop, 1)
	return e, spec
}

// LocalClass is the storage class of LocalVolumes' volumes.
const LocalClass = "gitloop-local"

// LocalVolumes makes n hostPath PersistentVolumes of LocalClass, 1Gi
// each, for claims to bind to (kube-local.sh's cluster has no
// provisioner: the controller manager binds a claim to one of these as
// it would to a provisioned one), deleted when the test ends. Each
// directory is what a provisioner with fsGroup support gives a pod of
// gid 1000: group 1000, group-writable, setgid, so that the sub-paths the
// kubelet makes in it as root (a hostPath volume takes no fsGroup) are
// the group's and writable by the pod's user.
func LocalVolumes(t *testing.T, prefix string, n int) {
	t.Helper()
	volumes := os.Getenv("GIT_LOOP_TEST_KUBE_LOCAL_VOLUMES")
	if volumes == "" {
		t.Fatal(`set the environment of: eval "$(scripts/kube-local.sh env)"`)
	}
	for i := 0; i < n; i++ {
		pv := fmt.Sprintf("gitloop-local-%s-%d-%d", prefix, time.Now().UnixNano(), i)
		dir := filepath.Join(volumes, pv)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 0, 1000); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o775|os.ModeSetgid); err != nil {
			t.Fatal(err)
		}
		Kubectl(t, "", "apply", "-f", "-", fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata: {name: %s}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: %s
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: %s, type: Directory}
`, pv, LocalClass, dir))
		t.Cleanup(func() {
			Kubectl(t, "", "delete", "pv", pv, "--wait=false")
			_ = os.RemoveAll(dir)
		})
	}
}

// Kubectl runs kubectl on the cluster KUBECONFIG names; a last argument
// holding a newline is its stdin.
func Kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	if n := len(args); n > 0 && args[n-1] != "-" && strings.Contains(args[n-1], "\n") {
		stdin, args = args[n-1], args[:n-1]
	}
	cmd := exec.Command("kubectl", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
