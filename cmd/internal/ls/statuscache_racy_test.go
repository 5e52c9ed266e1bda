package ls_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/status"
	"golang.org/x/sys/unix"
)

// The status cache may answer "git loop ls" without git only when the
// worktree's stat data cannot hide a change: a timestamp as recent as the
// look means an edit in the same clock tick would leave it as it is. These
// tests make such edits and check ls sees them. They use the command
// alone, not the cache's insides.

// TestStatusCacheSeesEditDuringLook: README.md changes (same size) right
// after git status read it and before git loop took the worktree's
// fingerprint, as an agent writing while "ls" runs would. The fingerprint
// then describes the new file but the count the old one: it must not be
// kept, and the next ls must count the change.
func TestStatusCacheSeesEditDuringLook(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	wt := strings.TrimSpace(cmdtest.MustRun(t, repo, "new", "c", "--driver", "none", "-d").Stdout)

	realGit, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	wrap := t.TempDir()
	once := filepath.Join(t.TempDir(), "edited")
	// git, except that the first "git status" is followed by an edit.
	script := `#!/bin/sh
"$GITLOOP_TEST_REAL_GIT" "$@"
rc=$?
for a in "$@"; do
	if [ "$a" = status ] && mkdir "$GITLOOP_TEST_ONCE" 2>/dev/null; then
		printf '# DEMO\n' > README.md
	fi
done
exit $rc
`
	if err := os.WriteFile(filepath.Join(wrap, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ls := exec.Command(filepath.Join(binDir, "git-loop"), "ls", "--json")
	ls.Dir = repo
	ls.Env = append(os.Environ(), "PATH="+wrap+string(os.PathListSeparator)+os.Getenv("PATH"), "GITLOOP_TEST_REAL_GIT="+realGit, "GITLOOP_TEST_ONCE="+once)
	out, err := ls.Output()
	if err != nil {
		t.Fatalf("ls with the editing git: %v\n%s", err, out)
	}
	if _, err := os.Stat(once); err != nil {
		t.Fatalf("ls ran no git status, so nothing was edited during it: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(wt, "README.md")); string(b) != "# DEMO\n" {
		t.Fatalf("README.md = %q", b)
	}
	var during []status.LoopStatus
	if err := json.Unmarshal(out, &during); err != nil || len(during) != 1 || during[0].Changes != 0 {
		t.Fatalf("ls during the edit (git status ran before it): %s, %v", out, err)
	}

	for i := range 2 {
		if got, want := cmdtest.LsJSON(t, repo)[0].Changes, gitStatusCount(t, wt); got != want || want != 1 {
			t.Fatalf("ls %d after the edit: %d changes, git status %d (want 1)", i+1, got, want)
		}
	}
}

// TestStatusCacheSeesEditInSameTick: README.md is edited twice through a
// shared mapping, around one ls. Writes to a page already dirty do not
// touch the file's timestamps, which is how two edits in one tick of a
// coarse file system clock look: the second changes the content and
// leaves size, mtime and ctime as they were. The first edit is recent
// when ls looks, so ls must not trust a fingerprint taken then.
func TestStatusCacheSeesEditInSameTick(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	wt := strings.TrimSpace(cmdtest.MustRun(t, repo, "new", "c", "--driver", "none", "-d").Stdout)
	f, err := os.OpenFile(filepath.Join(wt, "README.md"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// The cache's window for recent timestamps is a second; an attempt in
	// which ls started later than that after the first edit proves
	// nothing, and is made again, through a new mapping (whose first write
	// timestamps the file again).
	const window = time.Second
	for attempt := 1; ; attempt++ {
		if attempt > 5 {
			t.Fatalf("in %d attempts, ls never looked within %v of an edit", attempt-1, window)
		}
		if sameTickAttempt(t, repo, wt, f, window) {
			return
		}
	}
}

// sameTickAttempt edits, looks and edits again; it reports whether the
// second edit kept the file's stat with the look soon enough after the
// first, and then checks the last look.
func sameTickAttempt(t *testing.T, repo, wt string, f *os.File, window time.Duration) bool {
	t.Helper()
	mem, err := unix.Mmap(int(f.Fd()), 0, len("# demo\n"), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	before := statOf(t, f.Name())
	copy(mem, "# DEMO\n")
	edited := time.Now()
	first := statOf(t, f.Name())
	if first == before {
		t.Fatalf("this file system does not timestamp writes through a mapping: %+v", first)
	}
	if got := cmdtest.LsJSON(t, repo)[0].Changes; got != 1 {
		t.Fatalf("ls after the first edit: %d changes, want 1", got)
	}
	looked := time.Since(edited)
	copy(mem, "# demo\n") // back to the committed content
	if statOf(t, f.Name()) != first || looked >= window {
		t.Logf("the page was written back, or ls looked %v after the edit; again", looked)
		return false
	}
	if got, want := cmdtest.LsJSON(t, repo)[0].Changes, gitStatusCount(t, wt); got != want || want != 0 {
		t.Fatalf("ls after an edit that kept the stat: %d changes, git status %d (want 0)", got, want)
	}
	return true
}

type fileStat struct {
	size         int64
	mtime, ctime unix.Timespec
	ino          uint64
}

func statOf(t *testing.T, path string) fileStat {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fileStat{size: st.Size, mtime: st.Mtim, ctime: st.Ctim, ino: st.Ino}
}

func gitStatusCount(t *testing.T, wt string) int {
	t.Helper()
	out := gittest.Git(t, wt, "status", "--porcelain")
	if out == "" {
		return 0
	}
	return len(strings.Split(out, "\n"))
}
