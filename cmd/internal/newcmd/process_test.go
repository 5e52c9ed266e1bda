package newcmd_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/status"
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
		if l.State != status.StateReady || l.Dirty {
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
// exists whole (record, branch, worktree) or not at all. The points are
// drawn over the time one whole new takes on this machine, so that some
// kills land mid-operation however fast or loaded it is, and the test
// checks that some did (the loop's intent was left behind). The seed is
// logged; GIT_LOOP_TEST_SEED=N replays its points.
func TestKillDuringNew(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	seed := time.Now().UnixNano()
	if v := os.Getenv("GIT_LOOP_TEST_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("GIT_LOOP_TEST_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay: GIT_LOOP_TEST_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	whole := timeOneNew(t)
	// Twenty rounds, and more (up to sixty) until a kill lands mid-new.
	rounds, interrupted := 0, 0
	for rounds < 20 || interrupted == 0 && rounds < 60 {
		name := fmt.Sprintf("k%02d", rounds)
		rounds++
		cmd := exec.Command(filepath.Join(binDir, "git-loop"), "new", name, "--driver", "none", "--detach", "-q")
		cmd.Dir = repo
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Up to a quarter past the whole: some runs finish before the kill.
		time.Sleep(time.Duration(rng.Float64() * 1.25 * float64(whole)))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "intents", name+".json")); err == nil {
			interrupted++
		}
	}
	t.Logf("%d of %d kills landed mid-new (a whole new takes %v here)", interrupted, rounds, whole)
	if interrupted == 0 {
		t.Errorf("no kill landed while new was under way (seed %d): the test proved nothing", seed)
	}
	// The next command that changes state recovers. (A git that the killed
	// command started may still be running, orphaned: it holds the lock,
	// so the recovery waits for it rather than racing it.)
	cmdtest.MustRun(t, repo, "prune")
	r := cmdtest.MustRun(t, repo, "ls", "--json")
	var loops []status.LoopStatus
	if err := json.Unmarshal([]byte(r.Stdout), &loops); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range loops {
		listed[l.Name] = true
		if l.State != status.StateReady {
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

// timeOneNew is how long one whole "git loop new" takes on this machine
// now (the median of three, in a repository of their own).
func timeOneNew(t *testing.T) time.Duration {
	t.Helper()
	repo := gittest.Repo(t)
	var times []time.Duration
	for i := range 3 {
		cmd := exec.Command(filepath.Join(binDir, "git-loop"), "new", fmt.Sprintf("timed%d", i), "--driver", "none", "--detach", "-q")
		cmd.Dir = repo
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("new: %v\n%s", err, out)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times[1]
}
