package promotee2e

import (
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// kind is how a test's loops are made: with the none driver, whose
// worktree is a host one the test writes in directly, or sealed on a
// sandbox driver, whose clone only its sandbox works in (the test's work
// goes in through "git loop exec", as an agent's would). The code-layer
// tests run on every kind.
type kind struct {
	name   string
	driver *cmdtest.Driver // nil: none
}

func kinds() []kind {
	out := []kind{{name: "none"}}
	for i := range cmdtest.SealedDrivers {
		out = append(out, kind{name: cmdtest.SealedDrivers[i].Name, driver: &cmdtest.SealedDrivers[i]})
	}
	return out
}

// forKinds runs f as a parallel subtest per kind, on a fresh env.
func forKinds(t *testing.T, f func(t *testing.T, e *env, k kind)) {
	t.Helper()
	forEach(t, kinds(), f)
}

// forSealed is forKinds on the sealed kinds only.
func forSealed(t *testing.T, f func(t *testing.T, e *env, k kind)) {
	t.Helper()
	forEach(t, kinds()[1:], f)
}

func forEach(t *testing.T, ks []kind, f func(t *testing.T, e *env, k kind)) {
	t.Helper()
	for _, k := range ks {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			if k.driver != nil {
				k.driver.Prepare(t, e.Repo)
				cmdtest.CleanUp(t, e.Repo, e.Run)
			}
			e.kind = k
			f(t, e, k)
		})
	}
}

// newLoopKind is "git loop new NAME" of the env's kind, with extra args.
func (e *env) newLoopKind(name string, extra ...string) {
	e.T.Helper()
	driver := "none"
	if e.kind.driver != nil {
		driver = strings.TrimSuffix(e.kind.driver.Name, "-sealed")
	}
	e.OK(append([]string{"new", name, "--driver", driver, "-d", "-q"}, extra...)...)
	if m := cmdtest.ReadMeta(e.T.(*testing.T), e.Repo, name); m.Sandbox.Sealed != (e.kind.driver != nil) {
		e.T.Fatalf("loop %s: sealed %v on kind %s", name, m.Sandbox.Sealed, e.kind.name)
	}
}

// commitIn writes file in loop name's tree and commits it (in its
// worktree, or inside its sandbox), returning the commit.
func (e *env) commitIn(name, file, content, msg string) string {
	e.T.Helper()
	if e.kind.driver == nil {
		gittest.WriteFile(e.T.(*testing.T), e.Worktree(name), file, content)
		return gittest.Commit(e.T.(*testing.T), e.Worktree(name), msg)
	}
	r := e.OK("exec", name, "--", "sh", "-c", `printf %s "$2" > "$1" && git add -- "$1" && git commit -qm "$3" && git rev-parse HEAD`, "sh", file, content, msg)
	return strings.TrimSpace(r.Stdout)
}

// writeIn writes file in loop name's tree without committing it.
func (e *env) writeIn(name, file, content string) {
	e.T.Helper()
	if e.kind.driver == nil {
		gittest.WriteFile(e.T.(*testing.T), e.Worktree(name), file, content)
		return
	}
	e.OK("exec", name, "--", "sh", "-c", `printf %s "$2" > "$1"`, "sh", file, content)
}

// shIn runs a script in loop name's tree (its worktree, or its sandbox)
// and returns its stdout.
func (e *env) shIn(name, script string) string {
	e.T.Helper()
	return e.OK("exec", name, "--", "sh", "-c", script).Stdout
}

// head is loop name's branch as the host has it.
func (e *env) head(name string) string {
	e.T.Helper()
	return gittest.Git(e.T.(*testing.T), e.Repo, "rev-parse", "refs/heads/loop/"+name)
}
