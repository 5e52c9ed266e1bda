package newcmd_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestConcurrentNew(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	outs := make([][]byte, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = cmdtest.GitLoop(repo, "new", fmt.Sprintf("c%02d", i), "--driver", "none", "--detach", "-q").CombinedOutput()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("new c%02d: %v\n%s", i, err, outs[i])
		}
	}
	loops := cmdtest.LsJSON(t, repo)
	if len(loops) != n {
		t.Fatalf("%d loops, want %d", len(loops), n)
	}
	for _, l := range loops {
		if l.State != gitloop.StateReady || l.Dirty {
			t.Errorf("loop %s: %+v", l.Name, l)
		}
	}
	if got := len(cmdtest.WorktreePaths(t, repo)); got != n+1 {
		t.Errorf("%d worktrees, want %d", got, n+1)
	}
	if got := len(cmdtest.LoopBranches(t, repo)); got != n {
		t.Errorf("%d branches, want %d", got, n)
	}
}

// TestKillDuringNew kills "git loop new" at random points and checks that
// the next command leaves the repository consistent: every loop either
// exists whole (record, branch, worktree) or not at all.
func TestKillDuringNew(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	const rounds = 20
	for i := range rounds {
		name := fmt.Sprintf("k%02d", i)
		cmd := exec.Command(filepath.Join(binDir, "git-loop"), "new", name, "--driver", "none", "--detach", "-q")
		cmd.Dir = repo
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Intn(150_000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	// The next command that changes state recovers. (A git that the killed
	// command started may still be running, orphaned: it holds the lock,
	// so the recovery waits for it rather than racing it.)
	cmdtest.MustRun(t, repo, "prune")
	r := cmdtest.MustRun(t, repo, "ls", "--json")
	var loops []gitloop.LoopStatus
	if err := json.Unmarshal([]byte(r.Stdout), &loops); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range loops {
		listed[l.Name] = true
		if l.State != gitloop.StateReady {
			t.Errorf("loop %s survived half made: %+v", l.Name, l)
		}
	}
	branches := map[string]bool{}
	for _, b := range cmdtest.LoopBranches(t, repo) {
		branches[strings.TrimPrefix(b, "refs/heads/loop/")] = true
	}
	worktrees := map[string]bool{}
	for _, p := range cmdtest.WorktreePaths(t, repo) {
		if strings.HasSuffix(p, "/workdir") {
			worktrees[filepath.Base(filepath.Dir(p))] = true
		}
	}
	for i := range rounds {
		name := fmt.Sprintf("k%02d", i)
		_, dirErr := os.Stat(filepath.Join(repo, ".git", "loop", "loops", name))
		whole := listed[name] && branches[name] && worktrees[name]
		none := !listed[name] && !branches[name] && !worktrees[name] && os.IsNotExist(dirErr)
		if !whole && !none {
			t.Errorf("loop %s is half made: listed=%v branch=%v worktree=%v dir=%v", name, listed[name], branches[name], worktrees[name], dirErr)
		}
	}
	if intents, _ := os.ReadDir(filepath.Join(repo, ".git", "loop", "intents")); len(intents) != 0 {
		t.Errorf("intents left after recovery: %v", intents)
	}
	// Every name can be used again, whatever happened to it.
	for i := range rounds {
		name := fmt.Sprintf("k%02d", i)
		if !listed[name] {
			cmdtest.MustRun(t, repo, "new", name, "--driver", "none", "-d", "-q")
		}
	}
	if got := len(cmdtest.LsJSON(t, repo)); got != rounds {
		t.Errorf("%d loops after re-running new, want %d", got, rounds)
	}
	t.Logf("%d of %d killed loops had completed", len(listed), rounds)
}
