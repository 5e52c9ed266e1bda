// Package promotee2e tests promote, sync and review end to end: real
// repositories, real bare remotes, real git-loop processes racing.
package promotee2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// binDir holds a git-loop binary built once, for the tests that need real
// processes (concurrency, PATH lookups of gh).
var binDir string

func TestMain(m *testing.M) {
	cmdtest.Main(m, func(dir string) { binDir = dir })
}

// env is one user's git loop (cmdtest.User) with the context layers set
// up in solo mode.
type env struct {
	*cmdtest.User
	kind kind // how the code tests' loops are made (kinds_test.go)
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{User: cmdtest.NewUser(t, gittest.Repo(t))}
	e.OK("init", "-q")
	return e
}

// proc is "git-loop args…" as a real process with this user's dirs.
func (e *env) proc(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, "git-loop"), args...)
	cmd.Dir = e.Repo
	cmd.Env = append(os.Environ(), "GIT_LOOP_HOME="+e.Home)
	if path != "" {
		cmd.Env = append(cmd.Env, "PATH="+path)
	}
	return cmd
}

func (e *env) newLoop(name string) {
	e.T.Helper()
	e.OK("new", name, "--driver", "none", "-d", "-q")
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
	// A sealed loop's own context clone is its sandbox user's (as root,
	// not root's), which git refuses as dubious: the test reads it anyway.
	return exec.Command("git", "-c", "safe.directory=*", "-C", repo, "merge-base", "--is-ancestor", a, b).Run() == nil
}

// cmdtestRunIn runs git loop in another directory with e's user dirs.
func cmdtestRunIn(t *testing.T, e *env, dir string, args ...string) cmdtest.Result {
	t.Helper()
	return cmdtest.RunWith(t, dir, e.Opts, args...)
}
