package kubetest

import (
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
	volumes, image := os.Getenv("GIT_LOOP_KUBE_LOCAL_VOLUMES"), os.Getenv("GIT_LOOP_KUBE_LOCAL_IMAGE")
	if volumes == "" || image == "" {
		t.Fatal(`set the environment of: eval "$(scripts/kube-local.sh env)"`)
	}
	class := "gitloop-local"
	e, err := kube.New(kube.Options{StorageClass: class, Storage: "1Gi", NodeName: "localhost", HostNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	spec := sandbox.Spec{Workspace: "tkubelocal", Loop: loop, Image: image,
		Workdir: "/loop/clone", Home: "/loop/home"}
	t.Cleanup(func() { _ = e.Remove(t.Context(), spec) })
	// The volume's directories as the pod's user needs them: a hostPath
	// volume takes no fsGroup, and the kubelet makes a missing sub-path
	// root's.
	pv := fmt.Sprintf("gitloop-local-%s-%d", loop, time.Now().UnixNano())
	dir := filepath.Join(volumes, pv)
	for _, sub := range []string{"work", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(dir, sub), 1000, 1000); err != nil {
			t.Fatal(err)
		}
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
`, pv, class, dir))
	t.Cleanup(func() { Kubectl(t, "", "delete", "pv", pv, "--wait=false") })
	return e, spec
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
