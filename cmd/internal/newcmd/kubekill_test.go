package newcmd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/kube/kubetest"
)

// TestKubernetesKillDuringSeed kills "git loop new" of a remote loop
// (with its context layers) once its pod exists, at points through the
// seeding that follows (the pushes of the code and of each layer), and
// checks that the next command undoes it whole: no pod, claim, record,
// branch or intent left, and the name free for a new that succeeds.
func TestKubernetesKillDuringSeed(t *testing.T) {
	srv := kubetest.New(t)
	t.Setenv("KUBECONFIG", srv.Kubeconfig(t, "loops"))
	repo, o, _ := cmdtest.InitRepo(t)
	env := os.Environ()
	for k, v := range o.Env {
		env = append(env, k+"="+v)
	}
	interrupted := 0
	for i, after := range []time.Duration{0, 20 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond, 250 * time.Millisecond} {
		name := fmt.Sprintf("kk%d", i)
		cmd := exec.Command(filepath.Join(binDir, "git-loop"), "new", name, "--driver", "kubernetes", "--detach", "-q")
		cmd.Dir, cmd.Env = repo, env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		exited := false
	wait:
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
			select {
			case <-done:
				exited = true
				break wait
			case <-time.After(2 * time.Millisecond):
			}
			if pods, _ := srv.Count(); pods > 0 {
				time.Sleep(after)
				break
			}
		}
		if !exited {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
		}
		if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "intents", name+".json")); err == nil {
			interrupted++
		}
		cmdtest.MustRunWith(t, repo, o, "prune")
		if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "host", name, "meta.json")); err == nil {
			// Finished before the kill: a whole loop, removed for the
			// next round.
			cmdtest.MustRunWith(t, repo, o, "rm", name)
		}
		if pods, claims := srv.Count(); pods != 0 || claims != 0 {
			t.Errorf("kill %v after the pod: %d pods and %d claims left", after, pods, claims)
		}
		if out := gittest.Git(t, repo, "branch", "--list", "loop/"+name); out != "" {
			t.Errorf("kill %v after the pod: branch left: %q", after, out)
		}
		for _, p := range []string{filepath.Join("host", name), filepath.Join("loops", name), filepath.Join("intents", name+".json")} {
			if _, err := os.Lstat(filepath.Join(repo, ".git", "loop", p)); err == nil {
				t.Errorf("kill %v after the pod: .git/loop/%s left", after, p)
			}
		}
	}
	t.Logf("%d of 5 kills landed mid-new", interrupted)
	if interrupted == 0 {
		t.Errorf("no kill landed while new was under way: the test proved nothing")
	}
	cmdtest.MustRunWith(t, repo, o, "new", "kk0", "--driver", "kubernetes", "--detach")
	cmdtest.MustRunWith(t, repo, o, "rm", "kk0")
}
