package git_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"golang.org/x/sys/unix"
)

// racyWindow is the status cache's racy window in these tests: shorter
// than the default second so a test can wait it out, and still several
// ticks of the kernel's coarse file clock.
const racyWindow = 25 * time.Millisecond

// statusWorld is a linked worktree (as a loop's is) with the status
// cache's record of it, asked the way "git loop ls" asks.
type statusWorld struct {
	t              *testing.T
	common, wt     string
	entry          *git.DirtyEntry
	fromCache, all int
	racy, sameTick int // racy steps, and those whose rewrite kept every timestamp
	rng            *rand.Rand
	files          []string // tracked files
	n              int      // names made so far
}

func newStatusWorld(t *testing.T, seed uint64) *statusWorld {
	repo := gittest.Repo(t)
	gittest.WriteFile(t, repo, "docs/a.txt", "alpha\n")
	gittest.WriteFile(t, repo, "docs/deep/b.txt", "bravo\n")
	gittest.Commit(t, repo, "more files")
	wt := filepath.Join(t.TempDir(), "wt")
	gittest.Git(t, repo, "worktree", "add", "-q", "-b", "w", wt)
	return &statusWorld{t: t, common: filepath.Join(repo, ".git"), wt: wt, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		files: []string{"README.md", "src/main.go", ".gitignore", "docs/a.txt", "docs/deep/b.txt"}}
}

// changes is the status cache's answer: from the record when its
// fingerprint still holds, else from git status, keeping a new record
// when that is safe.
func (w *statusWorld) changes() int {
	w.t.Helper()
	w.all++
	if n, ok := w.entry.Cached(w.common, w.wt); ok {
		w.fromCache++
		return n
	}
	start := time.Now()
	out, err := git.Querier{}.Output(context.Background(), git.Cmd{Dir: w.wt, Args: git.StatusArgs})
	if err != nil {
		w.t.Fatal(err)
	}
	n, ignored := git.ParseStatus(out)
	w.entry = git.NewDirtyEntry(w.common, w.wt, n, ignored, "", start, racyWindow)
	return n
}

// porcelain is what git status --porcelain says, counted.
func (w *statusWorld) porcelain() int {
	w.t.Helper()
	cmd := exec.Command("git", "status", "--porcelain", "--ignore-submodules=none")
	cmd.Dir = w.wt
	// The oracle must not write the index (refreshing its stat data),
	// which would change what it judges.
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
	out, err := cmd.Output()
	if err != nil {
		w.t.Fatal(err)
	}
	return strings.Count(string(out), "\n")
}

func (w *statusWorld) path(rel string) string { return filepath.Join(w.wt, rel) }

func (w *statusWorld) write(rel, content string) {
	w.t.Helper()
	if err := os.MkdirAll(filepath.Dir(w.path(rel)), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(w.path(rel), []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *statusWorld) read(rel string) string {
	data, err := os.ReadFile(w.path(rel))
	if err != nil {
		return ""
	}
	return string(data)
}

func (w *statusWorld) tracked() string { return w.files[w.rng.IntN(len(w.files))] }

// sameSize is content of the length of old that differs from it.
func sameSize(old string) string {
	if old == "" {
		return ""
	}
	b := []byte(old)
	if b[0] == 'x' {
		b[0] = 'y'
	} else {
		b[0] = 'x'
	}
	return string(b)
}

// untracked lists the untracked and ignored files of the worktree.
func (w *statusWorld) untracked() []string {
	cmd := exec.Command("git", "ls-files", "--others")
	cmd.Dir = w.wt
	out, err := cmd.Output()
	if err != nil {
		w.t.Fatal(err)
	}
	return strings.Fields(string(out))
}

// step does the edit op names and returns what it did.
func (w *statusWorld) step(op byte) string {
	t := w.t
	t.Helper()
	w.n++
	switch op % 14 {
	case 0:
		f := w.tracked()
		w.write(f, w.read(f)+fmt.Sprintln("line", w.n))
		return "append to " + f
	case 1:
		f := w.tracked()
		w.write(f, sameSize(w.read(f)))
		return "rewrite " + f + " at the same size"
	case 2:
		f := w.tracked()
		now := time.Now()
		if err := os.Chtimes(w.path(f), now, now); err != nil {
			return "touch nothing"
		}
		return "touch " + f
	case 3:
		f := w.tracked()
		fi, err := os.Stat(w.path(f))
		if err != nil {
			return "chmod nothing"
		}
		if err := os.Chmod(w.path(f), fi.Mode()^0o111); err != nil {
			t.Fatal(err)
		}
		return "chmod " + f
	case 4:
		dirs := []string{"", "docs/", "docs/deep/", "new/", "new/sub/", "logs/"}
		f := fmt.Sprintf("%su%d.txt", dirs[w.rng.IntN(len(dirs))], w.n)
		w.write(f, "untracked\n")
		return "add untracked " + f
	case 5:
		f := fmt.Sprintf("logs/i%d.log", w.n)
		if w.rng.IntN(2) == 0 {
			f = fmt.Sprintf("i%d.log", w.n)
		}
		w.write(f, "ignored\n")
		return "add ignored " + f
	case 6:
		u := w.untracked()
		if len(u) == 0 {
			return "remove no untracked file"
		}
		f := u[w.rng.IntN(len(u))]
		if err := os.Remove(w.path(f)); err != nil {
			t.Fatal(err)
		}
		return "remove " + f
	case 7:
		gittest.Git(t, w.wt, "add", "-A")
		return "stage everything"
	case 8:
		gittest.Git(t, w.wt, "reset", "-q")
		return "unstage everything"
	case 9:
		f := w.tracked()
		_ = os.Remove(w.path(f))
		return "delete " + f
	case 10:
		gittest.Git(t, w.wt, "checkout", "-q", "--", ".")
		return "restore tracked files"
	case 11:
		gittest.Git(t, w.wt, "commit", "-q", "--allow-empty", "-am", fmt.Sprint("step ", w.n))
		return "commit tracked changes"
	case 12:
		// The racy case: a look between two same-size writes of one file,
		// all as fast as possible, so the second may share the first's
		// timestamps; git loop must not trust a record taken then.
		f := w.tracked()
		orig := w.read(f)
		w.write(f, sameSize(orig))
		before := statOf(w.path(f))
		w.check("racy: " + f + " rewritten")
		w.write(f, orig)
		w.racy++
		if before != "" && statOf(w.path(f)) == before {
			w.sameTick++ // only the racy rule tells these apart
		}
		return "racy: " + f + " put back"
	default:
		time.Sleep(racyWindow + 5*time.Millisecond)
		return "wait out the racy window"
	}
}

func (w *statusWorld) check(what string) {
	w.t.Helper()
	got := w.changes()
	if want := w.porcelain(); got != want {
		w.t.Fatalf("after %s: the status cache says %d changes, git status --porcelain %d", what, got, want)
	}
}

// run does ops, checking after each one that the cache agrees with git
// status: thrice, sometimes past the racy window, so later looks can be
// answered from a record kept by an earlier one.
func (w *statusWorld) run(ops []byte) {
	w.check("nothing")
	for i, op := range ops {
		what := w.step(op)
		w.check(fmt.Sprintf("step %d (%s)", i, what))
		if w.rng.IntN(2) == 0 {
			time.Sleep(racyWindow + 5*time.Millisecond)
		}
		w.check(fmt.Sprintf("step %d (%s), looking again", i, what))
		w.check(fmt.Sprintf("step %d (%s), and again", i, what))
	}
}

// TestStatusFingerprintRandom is a differential test of the status cache
// against git status: random edits in a real worktree, each followed by
// looks that must agree with git status --porcelain. The seed is logged;
// GIT_LOOP_TEST_SEED replays one.
func TestStatusFingerprintRandom(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GIT_LOOP_TEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GIT_LOOP_TEST_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with GIT_LOOP_TEST_SEED=%d)", seed, seed)
	w := newStatusWorld(t, seed)
	ops := make([]byte, 60)
	for i := range ops {
		ops[i] = byte(w.rng.IntN(256))
	}
	w.run(ops)
	if w.fromCache < w.all/10 {
		t.Errorf("only %d of %d looks were answered from the record: the test did not exercise the cache", w.fromCache, w.all)
	}
	t.Logf("%d of %d looks answered from the record; %d racy rewrites, %d of them in the same clock tick as the first write", w.fromCache, w.all, w.racy, w.sameTick)
}

// FuzzStatusFingerprint: each byte is one edit of statusWorld.step
// ("go test -fuzz StatusFingerprint ./gitloop/git/"; each input runs git
// a few dozen times, so inputs are cut to 12 edits).
func FuzzStatusFingerprint(f *testing.F) {
	f.Add([]byte{0, 13, 1, 13, 12, 13, 2, 3, 13, 4, 5, 13})
	f.Add([]byte{6, 7, 13, 8, 9, 13, 10, 11})
	f.Add([]byte{12, 12, 12, 1, 1, 13, 1})
	f.Add([]byte{4, 4, 7, 13, 6, 6, 11, 13, 3, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 12 {
			ops = ops[:12]
		}
		newStatusWorld(t, 1).run(ops)
	})
}

// TestRacyRecordRefused: a record whose timestamps are within the racy
// window of the look is not kept; the same worktree looked at later is.
func TestRacyRecordRefused(t *testing.T) {
	t.Parallel()
	w := newStatusWorld(t, 1)
	w.write("README.md", sameSize(w.read("README.md")))
	if e := git.NewDirtyEntry(w.common, w.wt, 1, nil, "", time.Now(), racyWindow); e != nil {
		t.Error("a record was kept of a file written in the racy window")
	}
	if e := git.NewDirtyEntry(w.common, w.wt, 1, nil, "", time.Now().Add(2*racyWindow), racyWindow); e == nil {
		t.Error("no record was kept of a worktree unchanged for longer than the racy window")
	}
}

// statOf is what the fingerprint keeps of a file's stat data.
func statOf(path string) string {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return ""
	}
	return fmt.Sprint(st.Ino, st.Size, st.Mtim, st.Ctim, st.Mode)
}
