package cmdtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/status"
)

// LsJSON is "git loop ls --json" in dir.
func LsJSON(t *testing.T, dir string) []status.LoopStatus {
	t.Helper()
	r := MustRun(t, dir, "ls", "--json")
	var out []status.LoopStatus
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("ls --json: %v\n%s", err, r.Stdout)
	}
	return out
}

// LoopBranches are repo's loop branches (full ref names), from plumbing.
func LoopBranches(t *testing.T, repo string) []string {
	t.Helper()
	out := gittest.Git(t, repo, "for-each-ref", "--format=%(refname)", "refs/heads/loop/")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// WorktreePaths are the worktrees git lists for repo, main one first.
func WorktreePaths(t *testing.T, repo string) []string {
	t.Helper()
	var paths []string
	for _, f := range strings.Split(gittest.Git(t, repo, "worktree", "list", "--porcelain", "-z"), "\x00") {
		if p, ok := strings.CutPrefix(f, "worktree "); ok {
			paths = append(paths, p)
		}
	}
	return paths
}

// WithHome is a run's options with user dirs of its own (GIT_LOOP_HOME),
// so tests that set up context layers never share them, and that dir.
func WithHome(t *testing.T) (Options, string) {
	home := t.TempDir()
	return Options{Env: map[string]string{"GIT_LOOP_HOME": home}}, home
}

// InitRepo is a test repository after "git loop init" (solo context
// layers under user dirs of its own), the options that use those dirs,
// and the dirs.
func InitRepo(t *testing.T) (repo string, o Options, home string) {
	t.Helper()
	repo = gittest.Repo(t)
	o, home = WithHome(t)
	MustRunWith(t, repo, o, "init", "-q")
	return repo, o, home
}

// ReadMeta is the record (meta.json) of loop name in repo.
func ReadMeta(t *testing.T, repo, name string) state.Meta {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, ".git", "loop", "host", name, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m state.Meta
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// MustRunWith is RunWith for a command that must succeed.
func MustRunWith(t *testing.T, dir string, o Options, args ...string) Result {
	t.Helper()
	r := RunWith(t, dir, o, args...)
	if r.Code != 0 {
		t.Fatalf("git loop %v: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// NotesSetup runs init in a fresh repo with its own user dirs and returns
// the repo, the run options, the notes clone and the notes origin.
func NotesSetup(t *testing.T) (repo string, o Options, clone, origin string) {
	t.Helper()
	repo = gittest.Repo(t)
	o, home := WithHome(t)
	MustRunWith(t, repo, o, "init", "-q")
	m, _ := filepath.Glob(filepath.Join(home, "data", "context", "notes-*"))
	if len(m) != 1 {
		t.Fatalf("notes clone: %v", m)
	}
	return repo, o, m[0], filepath.Join(home, "data", "origins", "notes.git")
}

// OriginFile is a file of main on a bare origin (its final newline
// dropped).
func OriginFile(t *testing.T, origin, file string) string {
	t.Helper()
	return gittest.Git(t, origin, "show", "main:"+file)
}
