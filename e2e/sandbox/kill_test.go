package sandboxe2e_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	loopstatus "github.com/gitloop-dev/git-loop/gitloop/status"
)

// The kill tests stop the real git-loop binary with SIGKILL at random
// points, drawn over the time one whole command takes on this machine (as
// TestKillDuringNew does for unsealed loops), so that some kills land
// mid-operation however fast or loaded it is; each test checks that some
// did. Odd rounds kill the binary alone (the gits it started run on,
// orphaned, as after a crash), even rounds its whole process group (as a
// closed terminal does). The seed is logged; GIT_LOOP_TEST_SEED=N replays.

func killSeed(t *testing.T) *rand.Rand {
	t.Helper()
	seed := time.Now().UnixNano()
	if v := os.Getenv("GIT_LOOP_TEST_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("GIT_LOOP_TEST_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay: GIT_LOOP_TEST_SEED=%d)", seed, seed)
	return rand.New(rand.NewSource(seed))
}

// gitLoopProcess is the real binary, in dir, in a process group of its
// own.
func gitLoopProcess(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, "git-loop"), args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// timed is how long the command takes once, to the end.
func timed(t *testing.T, cmd *exec.Cmd) time.Duration {
	t.Helper()
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	return time.Since(start)
}

// killAt starts cmd and kills it after d: the binary alone, or its group.
func killAt(t *testing.T, cmd *exec.Cmd, d time.Duration, group bool) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	if group {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	} else {
		_ = cmd.Process.Signal(syscall.SIGKILL)
	}
	_ = cmd.Wait()
}

// staleLocks lists the git lock files under dir (refs, packed-refs,
// config, index): a git killed holding one blocks every later one.
func staleLocks(t *testing.T, dir string) []string {
	t.Helper()
	var locks []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".lock") && !strings.Contains(p, string(filepath.Separator)+"loop"+string(filepath.Separator)) {
			locks = append(locks, p)
		}
		return nil
	})
	return locks
}

// TestKillDuringSealedNew: "git loop new" of sealed loops killed at random
// points; the next command that changes state recovers, and every loop
// exists whole (record, branch, the sandbox's clone) or not at all (no
// branch, clone dir, record or quarantine ref left); every name can be used
// again, and a commit made in a loop made again reaches its branch.
func TestKillDuringSealedNew(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newSealedRepo(t, d)
			rng := killSeed(t)
			// The first new of a repository pays for the image: timed is the
			// second.
			timed(t, gitLoopProcess(repo, "new", "warm", "--driver", d.Name, "--detach", "-q"))
			whole := timed(t, gitLoopProcess(repo, "new", "timed", "--driver", d.Name, "--detach", "-q"))
			if !isSealed(t, repo, "timed") {
				t.Fatal("loop timed is not sealed")
			}
			rounds, interrupted := 0, 0
			for rounds < 10 || interrupted == 0 && rounds < 30 {
				name := fmt.Sprintf("k%02d", rounds)
				rounds++
				killAt(t, gitLoopProcess(repo, "new", name, "--driver", d.Name, "--detach", "-q"), time.Duration(rng.Float64()*1.25*float64(whole)), rounds%2 == 0)
				if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "intents", name+".json")); err == nil {
					interrupted++
				}
			}
			t.Logf("%d of %d kills landed mid-new (a whole sealed new takes %v here)", interrupted, rounds, whole)
			if interrupted == 0 {
				t.Errorf("no kill landed while new was under way: the test proved nothing")
			}
			cmdtest.MustRun(t, repo, "prune")
			var loops []loopstatus.LoopStatus
			if err := json.Unmarshal([]byte(cmdtest.MustRun(t, repo, "ls", "--json").Stdout), &loops); err != nil {
				t.Fatal(err)
			}
			listed := map[string]bool{}
			for _, l := range loops {
				listed[l.Name] = true
				if l.State != loopstatus.StateReady {
					t.Errorf("loop %s survived half made: %+v", l.Name, l)
				}
			}
			branches := map[string]bool{}
			for _, b := range cmdtest.LoopBranches(t, repo) {
				branches[strings.TrimPrefix(b, "refs/heads/loop/")] = true
			}
			for i := range rounds {
				name := fmt.Sprintf("k%02d", i)
				_, recErr := os.Stat(filepath.Join(repo, ".git", "loop", "loops", name))
				_, cloneErr := os.Stat(filepath.Join(repo, ".git", "loop", "sandbox", name, "clone", ".git"))
				quarantine := gittest.Git(t, repo, "for-each-ref", "refs/gitloop/"+name+"/")
				isWhole := listed[name] && branches[name] && cloneErr == nil && isSealed(t, repo, name)
				isNone := !listed[name] && !branches[name] && os.IsNotExist(recErr) && quarantine == ""
				if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "sandbox", name)); isNone && !os.IsNotExist(err) {
					isNone = false
					t.Errorf("loop %s is gone but its sandbox dir is left (a half clone): %v", name, err)
				}
				if !isWhole && !isNone {
					t.Errorf("loop %s is half made: listed=%v branch=%v clone=%v record=%v quarantine=%q", name, listed[name], branches[name], cloneErr, recErr, quarantine)
				}
			}
			if intents, _ := os.ReadDir(filepath.Join(repo, ".git", "loop", "intents")); len(intents) != 0 {
				t.Errorf("intents left after recovery: %v", intents)
			}
			if locks := staleLocks(t, filepath.Join(repo, ".git")); len(locks) > 0 {
				t.Errorf("git locks left: %v", locks)
			}
			again := ""
			for i := range rounds {
				name := fmt.Sprintf("k%02d", i)
				if !listed[name] {
					cmdtest.MustRun(t, repo, "new", name, "--driver", d.Name, "-d", "-q")
					again = name
				}
			}
			if again != "" {
				inside := strings.TrimSpace(sh(t, repo, again, "echo x > x.txt && git add x.txt && git commit -qm inside && git rev-parse HEAD"))
				if got := gittest.Git(t, repo, "rev-parse", "loop/"+again); got != inside {
					t.Errorf("loop %s made again: loop/%s is %s, the commit inside %s", again, again, got, inside)
				}
			}
		})
	}
}

// TestKillDuringFetch: the fetch back of a sealed loop (here the one
// "status" and "diff" start) killed at random points. loop/NAME only
// ever holds a commit the sandbox made, the next fetch brings the last one
// whatever the kills left, the host's repository is whole (fsck), and no
// git lock is left to block later fetches.
func TestKillDuringFetch(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newSealedRepo(t, d)
			newLoop(t, repo, d, "x")
			sh(t, repo, "x", "true") // a running sandbox, for docker
			clone := filepath.Join(repo, ".git", "loop", "sandbox", "x", "clone")
			rng := killSeed(t)
			made := map[string]bool{gittest.Git(t, repo, "rev-parse", "loop/x"): true}
			// The sandbox's own work, as a process it left behind would
			// make it: a commit of many files, so a fetch has a pack to
			// carry.
			work := func(i int) string {
				t.Helper()
				for j := range 40 {
					gittest.WriteFile(t, clone, fmt.Sprintf("w/%02d/%02d.txt", i, j), strings.Repeat(fmt.Sprintf("%d %d\n", i, j), 200))
				}
				// As root the clone is the sandbox user's (git refuses
				// it as dubious): the test stands in for that user.
				gittest.Git(t, clone, "-c", "safe.directory=*", "add", "-A")
				gittest.Git(t, clone, "-c", "safe.directory=*", "commit", "-qm", fmt.Sprintf("work %d", i))
				gittest.WriteFile(t, clone, "wip.txt", fmt.Sprintf("uncommitted %d\n", i))
				giveToSandbox(t, repo, "x", clone)
				sha := gittest.Git(t, clone, "-c", "safe.directory=*", "rev-parse", "HEAD")
				made[sha] = true
				return sha
			}
			want := work(0)
			whole := timed(t, gitLoopProcess(repo, "status", "x"))
			if got := gittest.Git(t, repo, "rev-parse", "loop/x"); got != want {
				t.Fatalf("status did not fetch: loop/x %s, want %s", got, want)
			}
			rounds, interrupted := 0, 0
			for rounds < 10 || interrupted == 0 && rounds < 30 {
				rounds++
				want = work(rounds)
				verb := []string{"status", "diff"}[rounds%2]
				killAt(t, gitLoopProcess(repo, verb, "x"), time.Duration(rng.Float64()*1.25*float64(whole)), rounds%4 < 2)
				got := gittest.Git(t, repo, "rev-parse", "loop/x")
				if got != want {
					interrupted++
				}
				if !made[got] {
					t.Fatalf("round %d: loop/x is %s, a commit the sandbox never made", rounds, got)
				}
			}
			t.Logf("%d of %d kills landed before the fetch moved loop/x (a whole fetching status takes %v here)", interrupted, rounds, whole)
			if interrupted == 0 {
				t.Errorf("no kill landed before a fetch was done: the test proved nothing")
			}
			// Orphaned gits of the binary-only kills end on their own.
			time.Sleep(time.Second)
			if locks := staleLocks(t, filepath.Join(repo, ".git")); len(locks) > 0 {
				t.Errorf("git locks left: %v", locks)
			}
			r := cmdtest.MustRun(t, repo, "diff", "x")
			if got := gittest.Git(t, repo, "rev-parse", "loop/x"); got != want {
				t.Errorf("after the kills, a fetch brings loop/x to %s, want the sandbox's last commit %s\n%s", got, want, r.Stderr)
			}
			if !strings.Contains(r.Stdout, "wip.txt") || !strings.Contains(r.Stdout, fmt.Sprintf("w/%02d/00.txt", rounds)) {
				t.Errorf("diff x lacks the last commit or the uncommitted file:\n%.2000s", r.Stdout)
			}
			gittest.Git(t, repo, "fsck", "--no-progress", "--no-dangling")
			if refs := gittest.Git(t, repo, "for-each-ref", "--format=%(refname)", "refs/gitloop/"); refs != "refs/gitloop/x/head\nrefs/gitloop/x/side/snapshot" {
				t.Errorf("quarantine refs after the kills:\n%s", refs)
			}
			if got := gittest.Git(t, repo, "rev-parse", "refs/gitloop/x/head"); got != want {
				t.Errorf("the quarantine head is %s, want %s", got, want)
			}
		})
	}
}

// TestKillDuringSeal: "git loop doctor --fix" sealing a loop made
// unsealed, killed at random points. Each loop is then either still
// unsealed with its worktree whole or sealed; the next doctor --fix seals
// what is left, and every loop keeps its commits and uncommitted work.
func TestKillDuringSeal(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			gittest.Git(t, repo, "config", "loop.sandbox.sealed", "true")
			rng := killSeed(t)
			heads := map[string]string{}
			unsealed := func(name string) {
				t.Helper()
				newUnsealedLoop(t, repo, d, name)
				heads[name] = strings.TrimSpace(sh(t, repo, name, unsealedWork))
				if d.Name == "docker" {
					cmdtest.MustRun(t, repo, "stop", name)
				}
			}
			unsealed("timed")
			whole := timed(t, gitLoopProcess(repo, "doctor", "--fix"))
			if !isSealed(t, repo, "timed") {
				t.Fatal("doctor --fix did not seal loop timed")
			}
			rounds, interrupted := 0, 0
			for rounds < 6 || interrupted == 0 && rounds < 15 {
				name := fmt.Sprintf("s%02d", rounds)
				rounds++
				unsealed(name)
				at := time.Duration(rng.Float64() * 1.25 * float64(whole))
				killAt(t, gitLoopProcess(repo, "doctor", "--fix"), at, rounds%2 == 0)
				// doctor --fix seals every loop left unsealed, oldest first:
				// the kill may land in any of them.
				if intents, _ := os.ReadDir(filepath.Join(repo, ".git", "loop", "intents")); len(intents) > 0 {
					interrupted++
				}
				for n := range heads {
					if m := cmdtest.ReadMeta(t, repo, n); !m.Sandbox.Sealed {
						if _, err := os.Stat(filepath.Join(m.Worktree, "new", "dir", "file.txt")); err != nil {
							t.Errorf("loop %s, unsealed after the kill, lost its worktree's files: %v", n, err)
						}
					}
				}
			}
			t.Logf("%d of %d kills landed mid-seal (a whole doctor --fix takes %v here)", interrupted, rounds, whole)
			if interrupted == 0 {
				t.Errorf("no kill landed while a seal was under way: the test proved nothing")
			}
			r := cmdtest.Run(t, repo, "doctor", "--fix")
			for name, head := range heads {
				if !isSealed(t, repo, name) {
					t.Errorf("loop %s is not sealed after a doctor --fix that ran to its end:\n%s%s", name, r.Stdout, r.Stderr)
					continue
				}
				if got := gittest.Git(t, repo, "rev-parse", "loop/"+name); got != head {
					t.Errorf("loop/%s is %s, want %s", name, got, head)
				}
				checkWorkInside(t, repo, name)
			}
			if intents, _ := os.ReadDir(filepath.Join(repo, ".git", "loop", "intents")); len(intents) != 0 {
				t.Errorf("intents left after recovery: %v", intents)
			}
			if wts := cmdtest.WorktreePaths(t, repo); len(wts) != 1 {
				t.Errorf("host worktrees left: %v", wts)
			}
		})
	}
}
