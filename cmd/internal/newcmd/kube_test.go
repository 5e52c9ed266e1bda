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
		Execs: func(*testing.T) int {
			return int(srv.ExecCount("websocket") + srv.ExecCount("spdy"))
		},
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

// TestKubernetesToolchainWarned: a remote loop whose tiers declare a
// toolchain is made without it (nothing of this host's cache or mise
// reaches the cluster), and new says so and what to do.
func TestKubernetesToolchainWarned(t *testing.T) {
	srv := kubetest.New(t)
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "loops"))
	repo, o, home := cmdtest.InitRepo(t)
	personal := filepath.Join(home, "data", "personal")
	if err := os.MkdirAll(filepath.Join(personal, ".claude"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(personal, ".claude", "mise.toml"), []byte("[tools]\ngo = \"1.24\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cmdtest.MustRunWith(t, repo, o, "new", "kt", "--driver", "kubernetes", "--detach")
	if !strings.Contains(r.Stderr, "toolchain (mise.toml) is not installed there") || !strings.Contains(r.Stderr, "image that has the tools") {
		t.Errorf("new of a remote loop with a toolchain declared does not say it is not given:\n%s", r.Stderr)
	}
	if m := cmdtest.ReadMeta(t, repo, "kt"); m.Sandbox.Toolchain != "" {
		t.Errorf("the remote loop's record names a toolchain: %q", m.Sandbox.Toolchain)
	}
	cmdtest.MustRunWith(t, repo, o, "exec", "kt", "--", "true")
	cmdtest.MustRunWith(t, repo, o, "rm", "kt")
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

// TestKubernetesAgentSandboxSetting: where the agent-sandbox CRD is
// served, a loop is a Sandbox object, and sandbox.kube.agentSandbox = off
// makes it a bare Pod and claim.
func TestKubernetesAgentSandboxSetting(t *testing.T) {
	srv := kubetest.New(t)
	srv.InstallAgentSandbox("v1beta1")
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "loops"))
	repo := gittest.Repo(t)
	id := func() string {
		b, err := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if r := cmdtest.Run(t, repo, "new", "sb", "--driver", "kubernetes", "--detach"); r.Code != 0 {
		t.Fatalf("new: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if srv.Sandbox("loops", "gitloop-"+id()+"-sb") == nil {
		t.Fatal("auto: no Sandbox for loop sb")
	}
	gittest.Git(t, repo, "config", "loop.sandbox.kube.agentSandbox", "off")
	if r := cmdtest.Run(t, repo, "new", "bare", "--driver", "kubernetes", "--detach"); r.Code != 0 {
		t.Fatalf("new: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	name := "gitloop-" + id() + "-bare"
	if srv.Sandbox("loops", name) != nil || srv.Pod("loops", name) == nil || srv.Claim("loops", name) == nil {
		t.Fatal("off: want a bare pod and claim and no Sandbox")
	}
}
