package bwrap_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/bwrap"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// bomb starts sleepers until a fork fails, four lineages at once; the
// sleepers hold their pids, so the count shows where the limit stopped
// them. Its own shell then becomes a sleep (no fork), keeping the
// sandbox alive while the test counts.
const bomb = `for i in 1 2 3 4; do (while :; do sleep 100 & done) >/dev/null 2>&1 & done; exec sleep 4`

// limitedEngine is a bwrap driver whose warnings the test collects.
func limitedEngine(t *testing.T) (*bwrap.Engine, *[]string) {
	e := engine(t)
	var warned []string
	e.Warn = func(msg string) { warned = append(warned, msg) }
	return e, &warned
}

// TestForkBombContained: with sandbox.pids set, a fork bomb in a bwrap
// sandbox stops at the limit (counted from the host in the loop's cgroup),
// the host forks on meanwhile, and the loop runs again once it is over.
func TestForkBombContained(t *testing.T) {
	e, warned := limitedEngine(t)
	spec := newSpec(t)
	spec.Loop = "bomb" + strconv.Itoa(os.Getpid())
	spec.Network = sandbox.NetworkNone
	spec.Limits.Pids = 64
	dirs, missing, err := bwrap.CgroupDirs(spec.Name(), spec.Limits)
	if err != nil || len(missing) > 0 {
		sandboxtest.Require(t, errNoCgroup(err, missing), "cgroup", "run the tests as root, or in a cgroup delegated to the user")
	}
	t.Cleanup(func() { _ = e.Remove(context.Background(), spec) })
	done := make(chan error, 1)
	go func() {
		_, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", bomb}})
		done <- err
	}()
	time.Sleep(2 * time.Second)
	n := readInt(t, filepath.Join(dirs["pids"], "pids.current"))
	t.Logf("%d processes in the loop's cgroup during the bomb (sandbox.pids = 64)", n)
	if n < 48 || n > 64 {
		t.Errorf("%d processes in the loop's cgroup during the bomb, want it held at 64", n)
	}
	// The host still forks.
	start := time.Now()
	if err := exec0("true"); err != nil {
		t.Errorf("the host cannot start a process during the bomb: %v", err)
	}
	t.Logf("the host started a process in %s during the bomb", time.Since(start))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"echo", "alive"}, Stdout: &out}); err != nil || code != 0 || out.String() != "alive\n" {
		t.Errorf("after the bomb: exit %d, %v, %q", code, err, out.String())
	}
	if len(*warned) > 0 {
		t.Errorf("warnings with a cgroup at hand: %q", *warned)
	}
}

// TestMemoryHogContained: with sandbox.memory set, a process allocating
// (and touching) far more is stopped by the kernel inside the loop's
// cgroup, whose peak stays at the limit; the host is untouched.
func TestMemoryHogContained(t *testing.T) {
	e, _ := limitedEngine(t)
	spec := newSpec(t)
	spec.Loop = "hog" + strconv.Itoa(os.Getpid())
	spec.Network = sandbox.NetworkNone
	spec.Limits.Memory = 64 << 20
	spec.Limits.NanoCPUs = 5e8
	dirs, missing, err := bwrap.CgroupDirs(spec.Name(), spec.Limits)
	if err != nil || len(missing) > 0 {
		sandboxtest.Require(t, errNoCgroup(err, missing), "cgroup", "run the tests as root, or in a cgroup delegated to the user")
	}
	t.Cleanup(func() { _ = e.Remove(context.Background(), spec) })
	var stderr strings.Builder
	hog := `perl -e '$x = "x" x (512 * 1024 * 1024); print length($x), "\n"'`
	code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", hog}, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if code == 0 {
		t.Errorf("a 512 MiB allocation succeeded under sandbox.memory = 64 MiB")
	}
	peak := peakMemory(t, dirs["memory"])
	t.Logf("the hog exited %d; peak memory in the loop's cgroup %d MiB (limit 64)", code, peak>>20)
	if peak > 64<<20 {
		t.Errorf("peak memory %d above the limit", peak)
	}
	if q := readFirst(t, dirs["cpu"], "cpu.max", "cpu.cfs_quota_us"); !strings.HasPrefix(q, "50000") {
		t.Errorf("cpu quota %q, want 50000 per 100000 (sandbox.cpus = 0.5)", q)
	}
	var out strings.Builder
	if code, err := e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"echo", "alive"}, Stdout: &out}); err != nil || code != 0 {
		t.Errorf("after the hog: exit %d, %v, %q", code, err, out.String())
	}
}

// TestLimitsUnprivileged: as a user without a cgroup of their own, the
// pids limit falls back to RLIMIT_NPROC (which binds that uid) and holds
// a fork bomb; memory is reported as not enforced. With a delegated
// cgroup, the cgroup holds it, without a warning.
func TestLimitsUnprivileged(t *testing.T) {
	if !sandboxtest.Unprivileged(t) {
		return
	}
	e, warned := limitedEngine(t)
	spec := newSpec(t)
	spec.Network = sandbox.NetworkNone
	spec.Limits = sandbox.Limits{Pids: 64, Memory: 64 << 20}
	// A user with a delegated cgroup gets the limits there, and no
	// warning; the bomb is held either way.
	_, missing, _ := bwrap.CgroupDirs(spec.Name(), spec.Limits)
	t.Cleanup(func() { _ = e.Remove(context.Background(), spec) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", bomb}})
	}()
	time.Sleep(2 * time.Second)
	n := processesOf(os.Getuid())
	t.Logf("%d processes of uid %d during the bomb (sandbox.pids = 64)", n, os.Getuid())
	if n > 64+8 {
		t.Errorf("%d processes of uid %d during the bomb, want it held near 64", n, os.Getuid())
	}
	<-done
	switch {
	case len(missing) == 0 && len(*warned) > 0:
		t.Errorf("warnings with a cgroup of this user's: %q", *warned)
	case len(missing) > 0 && (len(*warned) != 1 || !strings.Contains((*warned)[0], "sandbox.memory") || strings.Contains((*warned)[0], "sandbox.pids")):
		t.Errorf("warnings: %q, want one naming sandbox.memory (and not sandbox.pids)", *warned)
	}
}

type cgroupMissing struct{ missing []string }

func (c cgroupMissing) Error() string {
	return "no cgroup git loop may write for " + strings.Join(c.missing, ", ")
}

func errNoCgroup(err error, missing []string) error {
	if err != nil {
		return err
	}
	return cgroupMissing{missing}
}

func readInt(t *testing.T, p string) int64 {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readFirst reads the first of files (v2's name, then v1's) that exists in dir.
func readFirst(t *testing.T, dir string, files ...string) string {
	t.Helper()
	for _, f := range files {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("none of %v in %s", files, dir)
	return ""
}

func peakMemory(t *testing.T, dir string) int64 {
	t.Helper()
	for _, f := range []string{"memory.peak", "memory.max_usage_in_bytes"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return readInt(t, filepath.Join(dir, f))
		}
	}
	t.Fatalf("no peak memory file in %s", dir)
	return 0
}

func processesOf(uid int) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name(), &st) == nil && int(st.Uid) == uid {
			n++
		}
	}
	return n
}

func exec0(name string) error {
	p, err := os.StartProcess("/bin/"+name, []string{name}, &os.ProcAttr{})
	if err != nil {
		return err
	}
	_, err = p.Wait()
	return err
}

// BenchmarkExecLimits is what the loop's cgroup costs an exec: none, and
// the default pids limit (the cgroup made once, joined on every exec).
func BenchmarkExecLimits(b *testing.B) {
	base, err := bwrap.New()
	sandboxtest.Require(b, err, "bwrap", installBwrap)
	root := b.TempDir()
	for _, tc := range []struct {
		name string
		lim  sandbox.Limits
	}{{"none", sandbox.Limits{}}, {"pids", sandbox.Limits{Pids: 4096}}, {"all", sandbox.Limits{Pids: 4096, Memory: 1 << 30, NanoCPUs: 1e9}}} {
		b.Run(tc.name, func(b *testing.B) {
			e := &bwrap.Engine{Path: base.Path}
			spec := sandbox.Spec{Workspace: "tbench", Loop: "limits", Workdir: root, Home: root, Network: sandbox.NetworkNone, Limits: tc.lim}
			b.Cleanup(func() { _ = e.Remove(context.Background(), spec) })
			for b.Loop() {
				if code, err := e.Exec(b.Context(), spec, sandbox.Exec{Cmd: []string{"true"}}); err != nil || code != 0 {
					b.Fatalf("exec: %d, %v", code, err)
				}
			}
		})
	}
}
