package cmdtest

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/status"
)

// User is one user of git loop in a test: a code repository and user
// dirs of their own (GIT_LOOP_HOME), so tests in parallel share nothing.
type User struct {
	T    testing.TB
	Repo string
	Home string  // GIT_LOOP_HOME: config, context clones, origins, vaults
	Opts Options // every run carries GIT_LOOP_HOME=Home
}

// NewUser is a user of repo with fresh user dirs.
func NewUser(t testing.TB, repo string) *User {
	home := t.TempDir()
	return &User{T: t, Repo: repo, Home: home, Opts: Options{Env: map[string]string{"GIT_LOOP_HOME": home}}}
}

// Run runs "git loop args…" in the user's repository.
func (u *User) Run(args ...string) Result {
	u.T.Helper()
	return RunWith(u.T, u.Repo, u.Opts, args...)
}

// OK is Run that fails the test unless the command exits 0.
func (u *User) OK(args ...string) Result {
	u.T.Helper()
	r := u.Run(args...)
	if r.Code != 0 {
		u.T.Fatalf("git loop %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// WithStdin is the user's options with stdin.
func (u *User) WithStdin(stdin string) Options {
	o := u.Opts
	o.Stdin = stdin
	return o
}

// Loops is "git loop ls --json" by loop name.
func (u *User) Loops() map[string]status.LoopStatus {
	u.T.Helper()
	var ls []status.LoopStatus
	if err := json.Unmarshal([]byte(u.OK("ls", "--json").Stdout), &ls); err != nil {
		u.T.Fatal(err)
	}
	out := map[string]status.LoopStatus{}
	for _, l := range ls {
		out[l.Name] = l
	}
	return out
}

// Origin is the local bare origin of a layer (solo mode).
func (u *User) Origin(layer string) string {
	return filepath.Join(u.Home, "data", "origins", layer+".git")
}

// Clone is the user's main clone of a layer.
func (u *User) Clone(layer string) string {
	u.T.Helper()
	if layer == "personal" {
		return filepath.Join(u.Home, "data", "personal")
	}
	m, _ := filepath.Glob(filepath.Join(u.Home, "data", "context", layer+"-*"))
	if len(m) != 1 {
		u.T.Fatalf("%s clone: %v", layer, m)
	}
	return m[0]
}

// LoopDir is a loop's sandbox part (agent dir, $HOME, contexts, worktree).
func (u *User) LoopDir(name string) string {
	return filepath.Join(u.Repo, ".git", "loop", "loops", name)
}

// HostDir is a loop's host-only part (record, run logs, locks).
func (u *User) HostDir(name string) string {
	return filepath.Join(u.Repo, ".git", "loop", "host", name)
}

// Worktree is a loop's code worktree (at the default place).
func (u *User) Worktree(name string) string { return filepath.Join(u.LoopDir(name), "workdir") }

// Context is a loop's worktree of a context layer.
func (u *User) Context(name, layer string) string {
	return filepath.Join(u.LoopDir(name), "context", layer)
}
