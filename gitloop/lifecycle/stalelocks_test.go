package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
)

// TestStaleRefLocksAfterKill: a real git holding a prepared ref
// transaction (packed-refs.lock and the loop branch's lock, as files it
// does not keep open) is left alone by recovery while it lives; once it
// is killed with SIGKILL, the next command clears both and works.
func TestStaleRefLocksAfterKill(t *testing.T) {
	ctx := context.Background()
	repo := gittest.Repo(t)
	svc := service(t, repo)
	if _, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "k", Driver: "none"}); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, repo, "pack-refs", "--all")
	common := filepath.Join(repo, ".git")
	locks := []string{filepath.Join(common, "packed-refs.lock"), filepath.Join(common, "refs", "heads", "loop", "k.lock")}

	// Through a shell, as a user's git would be: not this process's child.
	cmd := exec.Command("sh", "-c", "git update-ref --stdin; exit $?")
	cmd.Dir = repo
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if _, err := io.WriteString(in, "start\ndelete refs/heads/loop/k\nprepare\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	got := ""
	for deadline := time.Now().Add(10 * time.Second); len(got) < len("start: ok\nprepare: ok\n") && time.Now().Before(deadline); {
		n, err := out.Read(buf)
		got += string(buf[:n])
		if err != nil {
			break
		}
	}
	for _, l := range locks {
		if _, err := os.Stat(l); err != nil {
			t.Fatalf("the live git holds no %s (%q): %v", l, got, err)
		}
	}

	// Alive: recovery must not take its locks.
	l, err := lifecycle.Lock(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	svc.Unlock(l)
	for _, p := range locks {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("recovery removed %s, held by a live git: %v", p, err)
		}
	}

	kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	gitPid, convErr := strconv.Atoi(strings.TrimSpace(string(kids)))
	if err != nil || convErr != nil {
		t.Fatalf("the git under the shell: %q %v %v", kids, err, convErr)
	}
	if err := syscall.Kill(gitPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for _, p := range locks {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the killed git left no %s", p)
		}
	}
	// Killed: the next command clears them and works.
	if err := lifecycle.Remove(ctx, svc, lifecycle.RemoveOptions{Name: "k", Force: true}); err != nil {
		t.Fatalf("rm after the killed git: %v (git processes: %s)", err, gitProcs())
	}
	for _, p := range locks {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after recovery: %v", p, err)
		}
	}
	if out := gittest.Git(t, repo, "branch", "--list", "loop/k"); out != "" {
		t.Errorf("loop/k left: %q", out)
	}
}

// gitProcs lists the git processes /proc shows, for a failure's message.
func gitProcs() string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil || !strings.HasPrefix(string(comm), "git") {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		cwd, cerr := os.Readlink("/proc/" + e.Name() + "/cwd")
		out = append(out, fmt.Sprintf("%s %q cwd=%s err=%v", e.Name(), strings.TrimSpace(string(stat)), cwd, cerr))
	}
	return strings.Join(out, "; ")
}
