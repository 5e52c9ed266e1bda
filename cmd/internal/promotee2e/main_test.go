// Package promotee2e tests promote, sync and review end to end: real
// repositories, real bare remotes, real git-loop processes racing.
package promotee2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// binDir holds a git-loop binary built once, for the tests that need real
// processes (concurrency, PATH lookups of gh).
var binDir string

func TestMain(m *testing.M) {
	cmdtest.Main(m, func(dir string) { binDir = dir })
}

// env is one user's git loop: a code repo and user dirs of its own, with
// the context layers set up in solo mode.
type env struct {
	t    *testing.T
	repo string
	home string
	o    cmdtest.Options
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, repo: gittest.Repo(t), home: t.TempDir()}
	e.o = cmdtest.Options{Env: map[string]string{"GIT_LOOP_HOME": e.home}}
	e.ok("init", "-q")
	return e
}

func (e *env) run(args ...string) cmdtest.Result {
	e.t.Helper()
	return cmdtest.RunWith(e.t, e.repo, e.o, args...)
}

func (e *env) ok(args ...string) cmdtest.Result {
	e.t.Helper()
	r := e.run(args...)
	if r.Code != 0 {
		e.t.Fatalf("git loop %v: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// proc is "git-loop args…" as a real process with this user's dirs.
func (e *env) proc(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, "git-loop"), args...)
	cmd.Dir = e.repo
	cmd.Env = append(os.Environ(), "GIT_LOOP_HOME="+e.home)
	if path != "" {
		cmd.Env = append(cmd.Env, "PATH="+path)
	}
	return cmd
}

func (e *env) newLoop(name string) {
	e.t.Helper()
	e.ok("new", name, "--driver", "none", "-d", "-q")
}

func (e *env) origin(l string) string { return filepath.Join(e.home, "data", "origins", l+".git") }

func (e *env) clone(l string) string {
	e.t.Helper()
	if l == "personal" {
		return filepath.Join(e.home, "data", "personal")
	}
	m, _ := filepath.Glob(filepath.Join(e.home, "data", "context", l+"-*"))
	if len(m) != 1 {
		e.t.Fatalf("%s clone: %v", l, m)
	}
	return m[0]
}

// ctx is a loop's worktree of a context layer.
func (e *env) ctx(name, l string) string {
	return filepath.Join(e.repo, ".git", "loop", "loops", name, "context", l)
}

func (e *env) worktree(name string) string {
	return filepath.Join(e.repo, ".git", "loop", "loops", name, "workdir")
}

// teammate clones a layer's origin elsewhere, as another user would.
func teammate(t *testing.T, origin string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mate")
	gittest.Git(t, filepath.Dir(dir), "clone", "-q", origin, dir)
	return dir
}

func push(t *testing.T, dir string) {
	t.Helper()
	gittest.Git(t, dir, "push", "-q", "origin", "HEAD:main")
}

// show is a file of main on a bare origin ("" when missing).
func show(t *testing.T, origin, file string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", origin, "show", "main:"+file).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func branches(t *testing.T, repo string) []string {
	t.Helper()
	out := gittest.Git(t, repo, "for-each-ref", "--format=%(refname)", "refs/heads")
	return strings.Fields(out)
}

func isAncestor(t *testing.T, repo, a, b string) bool {
	t.Helper()
	return exec.Command("git", "-C", repo, "merge-base", "--is-ancestor", a, b).Run() == nil
}

// cmdtestRunIn runs git loop in another directory with e's user dirs.
func cmdtestRunIn(t *testing.T, e *env, dir string, args ...string) cmdtest.Result {
	t.Helper()
	return cmdtest.RunWith(t, dir, e.o, args...)
}
