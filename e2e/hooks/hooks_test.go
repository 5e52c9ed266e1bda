// Package hookse2e tests git loop's git hooks end to end: real git running
// the installed shims, which run the real git-loop binary.
package hookse2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/status"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

var binDir string

func TestMain(m *testing.M) {
	cmdtest.Main(m, func(dir string) { binDir = dir })
}

// env is one user (a code repo with an origin, user dirs of its own) and
// the PATH git runs their hooks with.
type env struct {
	*cmdtest.User
	path string // PATH for git (and so for the hooks it runs)
}

func setup(t testing.TB, initArgs ...string) *env {
	t.Helper()
	e := &env{User: cmdtest.NewUser(t, gittest.Repo(t)), path: os.Getenv("PATH")}
	e.OK("config", "set", "sandbox.driver", "none")
	e.OK(append([]string{"init", "-q"}, initArgs...)...)
	return e
}

// git runs real git in dir as this user, so the hooks git runs see the
// user's git loop dirs; it returns the exit code and both outputs.
func (e *env) git(dir string, args ...string) (int, string, string) {
	e.T.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_LOOP_HOME="+e.Home, "PATH="+e.path)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.T.Fatalf("git %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

func (e *env) gitOK(dir string, args ...string) string {
	e.T.Helper()
	code, out, errs := e.git(dir, args...)
	if code != 0 {
		e.T.Fatalf("git %v in %s: exit %d\n%s%s", args, dir, code, out, errs)
	}
	return errs
}

// TestAdoptWorktreeFromPlainGit: "git worktree add -b loop/x" makes a loop
// with its record, context worktrees and composed agent dir; so does a
// worktree of an existing loop branch; other branches are left alone.
func TestAdoptWorktreeFromPlainGit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	x := filepath.Join(t.TempDir(), "x")
	stderr := e.gitOK(e.Repo, "worktree", "add", "-b", "loop/x", x)
	if !strings.Contains(stderr, `is loop "x"`) {
		t.Errorf("post-checkout said:\n%s", stderr)
	}
	e.gitOK(e.Repo, "branch", "loop/y", "main")
	y := filepath.Join(t.TempDir(), "y")
	e.gitOK(e.Repo, "worktree", "add", y, "loop/y")
	e.gitOK(e.Repo, "worktree", "add", "-b", "feature", filepath.Join(t.TempDir(), "f"))

	loops := e.Loops()
	if len(loops) != 2 {
		t.Fatalf("loops %v, want x and y", loops)
	}
	for name, wt := range map[string]string{"x": x, "y": y} {
		l := loops[name]
		if l.State != status.StateReady || l.Worktree != wt || l.Base != "main" || l.Driver != "none" {
			t.Errorf("loop %s: %+v", name, l)
		}
		if l.Versions["knowledge"] == "" || l.Versions["notes"] == "" {
			t.Errorf("loop %s has no context versions: %v", name, l.Versions)
		}
		if _, err := os.Stat(filepath.Join(e.HostDir(name), "meta.json")); err != nil {
			t.Errorf("loop %s: %v", name, err)
		}
		for _, p := range []string{"context/knowledge/.git", "context/notes/.git", "agent/CLAUDE.md", "home/.gitconfig"} {
			if _, err := os.Stat(filepath.Join(e.LoopDir(name), p)); err != nil {
				t.Errorf("loop %s: %v", name, err)
			}
		}
	}
	// A loop adopted is a loop like any other: exec runs in it, rm removes it.
	if r := e.OK("exec", "x", "--", "sh", "-c", "test \"$GIT_LOOP_NAME\" = x && pwd"); strings.TrimSpace(r.Stdout) != x {
		t.Errorf("exec in x ran in %q", r.Stdout)
	}
	e.OK("rm", "y")
	if _, err := os.Stat(y); !os.IsNotExist(err) {
		t.Errorf("rm y left its worktree: %v", err)
	}
	if r := e.OK("doctor"); strings.Contains(r.Stdout, "adopt") {
		t.Errorf("doctor after adoption:\n%s", r.Stdout)
	}
}

// TestAdoptionNeverFailsTheCheckout: an adoption that cannot finish says so,
// leaves the worktree, and doctor --fix finishes it later; a worktree made
// with the hooks off is found and adopted by doctor --fix too.
func TestAdoptionNeverFailsTheCheckout(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// A file where the loop's state dir must go: adoption fails.
	if err := os.MkdirAll(filepath.Join(e.Repo, ".git", "loop", "loops"), 0o755); err != nil {
		t.Fatal(err)
	}
	blocker := e.LoopDir("bad")
	if err := os.WriteFile(blocker, []byte("in the way\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	stderr := e.gitOK(e.Repo, "worktree", "add", "-b", "loop/bad", bad)
	if !strings.Contains(stderr, "doctor --fix") {
		t.Errorf("failed adoption said:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(bad, "README.md")); err != nil {
		t.Errorf("the worktree is not whole: %v", err)
	}
	off := filepath.Join(t.TempDir(), "off")
	e.gitOK(e.Repo, "-c", "core.hooksPath=/dev/null", "worktree", "add", "-b", "loop/off", off)
	if r := e.OK("doctor"); !strings.Contains(r.Stdout, "2 worktrees on loop branches are not loops") {
		t.Errorf("doctor:\n%s", r.Stdout)
	}
	os.Remove(blocker)
	if r := e.OK("doctor", "--fix"); !strings.Contains(r.Stdout, "made 2 worktrees on loop branches loops") {
		t.Errorf("doctor --fix:\n%s", r.Stdout)
	}
	if l := e.Loops(); l["bad"].Worktree != bad || l["off"].Worktree != off {
		t.Errorf("after doctor --fix: %+v", l)
	}
}

// TestChainedHookAndUninstall: a hook that was there runs first and its
// failure stops the push; install twice changes nothing; uninstall puts
// the user's hook back byte for byte and records the opt-out.
func TestChainedHookAndUninstall(t *testing.T) {
	t.Parallel()
	e := &env{User: cmdtest.NewUser(t, gittest.Repo(t)), path: os.Getenv("PATH")}
	userHook := "#!/bin/sh\n# the team's own pre-push\necho ran >> \"$(git rev-parse --git-dir)/user-hook-ran\"\ncat > \"$(git rev-parse --git-dir)/user-hook-input\"\nexit 1\n"
	hookPath := filepath.Join(e.Repo, ".git", "hooks", "pre-push")
	if err := os.WriteFile(hookPath, []byte(userHook), 0o750); err != nil {
		t.Fatal(err)
	}
	e.OK("config", "set", "sandbox.driver", "none")
	e.OK("init", "-q")
	before := snapshot(t, filepath.Join(e.Repo, ".git", "hooks"))
	r := e.OK("hooks", "install", "--json")
	if after := snapshot(t, filepath.Join(e.Repo, ".git", "hooks")); after != before {
		t.Errorf("a second install changed the hooks:\n%s\n---\n%s", before, after)
	}
	if strings.Contains(r.Stdout, `"installed"`) || strings.Contains(r.Stdout, `"chained"`) {
		t.Errorf("second install reported changes: %s", r.Stdout)
	}

	gittest.WriteFile(t, e.Repo, "new.txt", "x\n")
	e.gitOK(e.Repo, "add", "new.txt")
	e.gitOK(e.Repo, "commit", "-qm", "new")
	code, _, stderr := e.git(e.Repo, "push", "-q", "origin", "main")
	if code == 0 {
		t.Fatalf("push went through a failing user hook:\n%s", stderr)
	}
	ran, _ := os.ReadFile(filepath.Join(e.Repo, ".git", "user-hook-ran"))
	input, _ := os.ReadFile(filepath.Join(e.Repo, ".git", "user-hook-input"))
	if string(ran) != "ran\n" || !strings.HasPrefix(string(input), "refs/heads/main ") || !strings.HasSuffix(string(input), "\n") {
		t.Errorf("user hook ran %q with input %q", ran, input)
	}

	r = e.OK("hooks", "uninstall")
	if !strings.Contains(r.Stdout, "the hook it replaced is back") {
		t.Errorf("uninstall said:\n%s", r.Stdout)
	}
	got, err := os.ReadFile(hookPath)
	fi, _ := os.Stat(hookPath)
	if err != nil || string(got) != userHook || fi.Mode().Perm() != 0o750 {
		t.Errorf("user hook after uninstall: %q %v (mode %v)", got, err, fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(e.Repo, ".git", "hooks", "post-checkout")); !os.IsNotExist(err) {
		t.Errorf("post-checkout shim left behind: %v", err)
	}
	if r := e.OK("doctor"); !strings.Contains(r.Stdout, "off (loop.hooks=false") {
		t.Errorf("doctor after uninstall:\n%s", r.Stdout)
	}
	// Installing again clears the opt-out.
	e.OK("hooks", "install")
	if r := e.OK("doctor"); !strings.Contains(r.Stdout, "ok   hooks") {
		t.Errorf("doctor after reinstall:\n%s", r.Stdout)
	}
}

func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, en := range entries {
		fi, _ := en.Info()
		data, _ := os.ReadFile(filepath.Join(dir, en.Name()))
		b.WriteString(en.Name() + " " + fi.Mode().String() + " " + fi.ModTime().String() + "\n" + string(data))
	}
	return b.String()
}

// TestSharedHooksPath: core.hooksPath is where the shims go, and they work
// from there.
func TestSharedHooksPath(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	e := &env{User: cmdtest.NewUser(t, gittest.Repo(t)), path: os.Getenv("PATH")}
	gittest.Git(t, e.Repo, "config", "core.hooksPath", shared)
	e.OK("config", "set", "sandbox.driver", "none")
	e.OK("init", "-q")
	for _, ev := range []string{"post-checkout", "pre-push"} {
		if _, err := os.Stat(filepath.Join(shared, ev)); err != nil {
			t.Errorf("%s not in core.hooksPath: %v", ev, err)
		}
		if _, err := os.Stat(filepath.Join(e.Repo, ".git", "hooks", ev)); err == nil {
			t.Errorf("%s written to .git/hooks although core.hooksPath is set", ev)
		}
	}
	z := filepath.Join(t.TempDir(), "z")
	e.gitOK(e.Repo, "worktree", "add", "-b", "loop/z", z)
	if l := e.Loops()["z"]; l.Worktree != z {
		t.Errorf("loop z not adopted through core.hooksPath: %+v", l)
	}
}

// TestHooksWithoutGitLoop: with git-loop gone from its recorded path and
// from PATH, commits, pushes and worktrees still work; the hooks warn.
func TestHooksWithoutGitLoop(t *testing.T) {
	t.Parallel()
	e := &env{User: cmdtest.NewUser(t, gittest.Repo(t))}
	e.OK("config", "set", "sandbox.driver", "none")
	e.OK("init", "-q", "--no-hooks")
	// Install with a copy of git-loop that is then deleted.
	tmpBin := t.TempDir()
	// cp, not os.WriteFile: a parallel test's fork could inherit our
	// write descriptor and make the exec below fail with "text file busy".
	if out, err := exec.Command("cp", filepath.Join(binDir, "git-loop"), filepath.Join(tmpBin, "git-loop")).CombinedOutput(); err != nil {
		t.Fatalf("cp git-loop: %v\n%s", err, out)
	}
	install := exec.Command(filepath.Join(tmpBin, "git-loop"), "hooks", "install")
	install.Dir = e.Repo
	install.Env = append(os.Environ(), "GIT_LOOP_HOME="+e.Home, "PATH="+tmpBin+":"+withoutDir(os.Getenv("PATH"), binDir))
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("hooks install: %v\n%s", err, out)
	}
	shim, _ := os.ReadFile(filepath.Join(e.Repo, ".git", "hooks", "pre-push"))
	if !strings.Contains(string(shim), tmpBin) {
		t.Fatalf("shim does not record the binary it was installed with:\n%s", shim)
	}
	os.RemoveAll(tmpBin)
	e.path = withoutDir(os.Getenv("PATH"), binDir)
	if p := lookIn(e.path, "git-loop"); p != "" {
		sandboxtest.Require(t, fmt.Errorf("%s is on PATH", p), "no-git-loop-on-path", "these tests need a PATH without an installed git-loop")
	}

	personal := e.Clone("personal")
	gittest.WriteFile(t, personal, "notes.md", "hello\n")
	e.gitOK(personal, "add", "notes.md")
	if stderr := e.gitOK(personal, "commit", "-qm", "notes"); !strings.Contains(stderr, "git-loop is not installed") {
		t.Errorf("pre-commit without git-loop said %q", stderr)
	}
	gittest.WriteFile(t, e.Repo, "c.txt", "c\n")
	e.gitOK(e.Repo, "add", "c.txt")
	e.gitOK(e.Repo, "commit", "-qm", "c")
	if stderr := e.gitOK(e.Repo, "push", "-q", "origin", "main"); !strings.Contains(stderr, "its pre-push hook did nothing") {
		t.Errorf("pre-push without git-loop said %q", stderr)
	}
	e.gitOK(e.Repo, "worktree", "add", "-q", "-b", "loop/w", filepath.Join(t.TempDir(), "w"))
}

// lookIn is the file exec.LookPath would find on path, or "".
func lookIn(path, name string) string {
	for _, dir := range filepath.SplitList(path) {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return filepath.Join(dir, name)
		}
	}
	return ""
}

func withoutDir(path, dir string) string {
	var keep []string
	for _, p := range filepath.SplitList(path) {
		if p != dir {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, string(os.PathListSeparator))
}

// TestPrePushGuard: loop work pushed straight to a gated main is refused
// (from the loop's worktree or as its branch from anywhere, code and
// knowledge), with promote named as the way; ungated notes, other remote
// branches and --no-verify go through.
func TestPrePushGuard(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.OK("new", "g", "--driver", "none", "-d", "-q")
	wt := filepath.Join(e.LoopDir("g"), "workdir")
	gittest.WriteFile(t, wt, "work.txt", "work\n")
	e.gitOK(wt, "add", "work.txt")
	e.gitOK(wt, "commit", "-qm", "work")
	originMain := func() string { return gittest.Git(t, e.Repo, "ls-remote", "origin", "refs/heads/main") }
	before := originMain()

	for _, c := range []struct{ dir, refspec string }{
		{wt, "HEAD:main"},
		{e.Repo, "loop/g:main"},
		{e.Repo, "loop/g:refs/heads/main"},
	} {
		code, _, stderr := e.git(c.dir, "push", "origin", c.refspec)
		if code == 0 || !strings.Contains(stderr, `git loop promote g --layer code`) {
			t.Errorf("push %s from %s: exit %d\n%s", c.refspec, c.dir, code, stderr)
		}
	}
	if originMain() != before {
		t.Fatal("origin's main moved")
	}
	e.gitOK(wt, "push", "-q", "origin", "HEAD:refs/heads/loop/g")
	e.gitOK(e.Repo, "push", "-q", "origin", "main")

	k := filepath.Join(e.LoopDir("g"), "context", "knowledge")
	gittest.WriteFile(t, k, "k.md", "k\n")
	e.gitOK(k, "add", "k.md")
	e.gitOK(k, "commit", "-qm", "k")
	if code, _, stderr := e.git(k, "push", "origin", "HEAD:main"); code == 0 || !strings.Contains(stderr, "--layer knowledge") {
		t.Errorf("knowledge push to main: exit %d\n%s", code, stderr)
	}
	e.gitOK(k, "push", "-q", "--no-verify", "origin", "HEAD:main")

	n := filepath.Join(e.LoopDir("g"), "context", "notes")
	gittest.WriteFile(t, n, "n.md", "n\n")
	e.gitOK(n, "add", "n.md")
	e.gitOK(n, "commit", "-qm", "n")
	e.gitOK(n, "push", "-q", "origin", "HEAD:main")

	// With code's gate set to direct, the loop may push its base.
	e.OK("config", "set", "code.gate", "direct")
	e.gitOK(wt, "push", "-q", "origin", "HEAD:main")
}

// TestPreCommitVaultGuard: in the personal repo, a plaintext vault file is
// refused by plain git commit, also when named on the command line (git
// commits those from a temporary index); git-crypt's ciphertext passes.
func TestPreCommitVaultGuard(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.Clone("personal")
	gittest.WriteFile(t, p, "vaults/work/env/API_TOKEN", "plaintext-secret\n")
	e.gitOK(p, "add", "-f", "vaults/work/env/API_TOKEN")
	code, _, stderr := e.git(p, "commit", "-qm", "token")
	if code == 0 || !strings.Contains(stderr, "refusing to commit unencrypted vault files") {
		t.Fatalf("plaintext commit: exit %d\n%s", code, stderr)
	}
	gittest.WriteFile(t, p, "vaults/work/env/API_TOKEN", "plaintext-secret-2\n")
	if code, _, stderr := e.git(p, "commit", "-qm", "token", "--", "vaults/work/env/API_TOKEN"); code == 0 || !strings.Contains(stderr, "unencrypted") {
		t.Fatalf("plaintext commit of a named path: exit %d\n%s", code, stderr)
	}
	e.gitOK(p, "reset", "-q")
	os.RemoveAll(filepath.Join(p, "vaults"))

	_, err := exec.LookPath("git-crypt")
	sandboxtest.Require(t, err, "git-crypt", `install git-crypt ("sudo apt-get install git-crypt")`)
	e.OK("vault", "init", "--export-key", filepath.Join(t.TempDir(), "key"))
	gittest.WriteFile(t, p, "vaults/work/env/OTHER", "secret-through-git-crypt\n")
	e.gitOK(p, "add", "vaults/work/env/OTHER")
	e.gitOK(p, "commit", "-qm", "encrypted")
	blob := gittest.Git(t, p, "cat-file", "blob", "HEAD:vaults/work/env/OTHER")
	if strings.Contains(blob, "secret-through-git-crypt") {
		t.Fatal("the committed blob is plaintext")
	}
}

// TestCloneMoveMarksContextBehind: pulling new knowledge into its clone
// (post-merge) makes ls say which loops' context is behind; sync NAME
// brings it in; git loop sync's own fast-forward is recorded too.
func TestCloneMoveMarksContextBehind(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.OK("new", "c", "--driver", "none", "-d", "-q")
	if l := e.Loops()["c"]; len(l.ContextBehind) != 0 {
		t.Fatalf("a new loop is behind: %v", l.ContextBehind)
	}
	mate := filepath.Join(t.TempDir(), "mate")
	gittest.Git(t, filepath.Dir(mate), "clone", "-q", filepath.Join(e.Home, "data", "origins", "knowledge.git"), mate)
	teammate := func(file string) {
		gittest.WriteFile(t, mate, file, "news\n")
		gittest.Commit(t, mate, file)
		gittest.Git(t, mate, "push", "-q", "origin", "HEAD:main")
	}
	teammate("one.md")
	e.gitOK(e.Clone("knowledge"), "pull", "-q")
	if l := e.Loops()["c"]; strings.Join(l.ContextBehind, ",") != "knowledge" {
		t.Errorf("after a pull in the clone: behind %v", l.ContextBehind)
	}
	if r := e.OK("ls"); !strings.Contains(r.Stdout, "behind: knowledge") {
		t.Errorf("ls:\n%s", r.Stdout)
	}
	e.OK("sync", "c")
	if l := e.Loops()["c"]; len(l.ContextBehind) != 0 {
		t.Errorf("after sync c: behind %v", l.ContextBehind)
	}
	teammate("two.md")
	e.OK("sync")
	if l := e.Loops()["c"]; strings.Join(l.ContextBehind, ",") != "knowledge" {
		t.Errorf("after git loop sync: behind %v", l.ContextBehind)
	}
	// A move no hook sees (pull --rebase fast-forwards without post-merge)
	// is found from the clone's HEAD.
	e.OK("sync", "c")
	teammate("three.md")
	e.gitOK(e.Clone("knowledge"), "pull", "-q", "--rebase")
	if l := e.Loops()["c"]; strings.Join(l.ContextBehind, ",") != "knowledge" {
		t.Errorf("after pull --rebase: behind %v", l.ContextBehind)
	}
}

// TestDoctorKeepsHooksCurrent: a deleted shim and one for another binary
// are reported by doctor and rewritten by doctor --fix.
func TestDoctorKeepsHooksCurrent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	os.Remove(filepath.Join(e.Repo, ".git", "hooks", "pre-push"))
	postMerge := filepath.Join(e.Clone("notes"), ".git", "hooks", "post-merge")
	data, _ := os.ReadFile(postMerge)
	if err := os.WriteFile(postMerge, bytes.Replace(data, []byte(binDir), []byte("/old/place"), 1), 0o755); err != nil {
		t.Fatal(err)
	}
	r := e.OK("doctor")
	if !strings.Contains(r.Stdout, "2 hooks not current: repo: pre-push missing; notes: post-merge outdated") {
		t.Errorf("doctor:\n%s", r.Stdout)
	}
	if r := e.OK("doctor", "--fix"); !strings.Contains(r.Stdout, "reinstalled 2 hooks") {
		t.Errorf("doctor --fix:\n%s", r.Stdout)
	}
	if r := e.OK("hooks", "status"); strings.Contains(r.Stdout, "missing") || strings.Contains(r.Stdout, "outdated") {
		t.Errorf("hooks status after fix:\n%s", r.Stdout)
	}
}

// BenchmarkCommit measures git commit in the personal repo (the pre-commit
// vault guard runs) and in the code repo (no commit hook), with the hooks
// installed and without. bench/hooks.sh compares more hooks side by side.
func BenchmarkCommit(b *testing.B) {
	for _, c := range []struct {
		name     string
		initArgs []string
		personal bool
	}{
		{"personal/hooks", nil, true},
		{"personal/no-hooks", []string{"--no-hooks"}, true},
		{"code/hooks", nil, false},
		{"code/no-hooks", []string{"--no-hooks"}, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := setup(b, c.initArgs...)
			dir := e.Repo
			if c.personal {
				dir = e.Clone("personal")
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				gittest.WriteFile(b, dir, "bench.md", fmt.Sprintf("%d\n", i))
				e.gitOK(dir, "add", "bench.md")
				b.StartTimer()
				e.gitOK(dir, "commit", "-q", "-m", "bench")
			}
		})
	}
}

// TestCommittedHooksPathLeftAlone: core.hooksPath pointing at hooks
// committed in the working tree is never written to (the shims would show
// up as changes to the team's hooks); init says how to call git loop.
func TestCommittedHooksPathLeftAlone(t *testing.T) {
	t.Parallel()
	e := &env{User: cmdtest.NewUser(t, gittest.Repo(t)), path: os.Getenv("PATH")}
	gittest.WriteFile(t, e.Repo, ".githooks/pre-push", "#!/bin/sh\nexit 0\n")
	gittest.Commit(t, e.Repo, "team hooks")
	gittest.Git(t, e.Repo, "config", "core.hooksPath", ".githooks")
	e.OK("config", "set", "sandbox.driver", "none")
	r := e.OK("init")
	if !strings.Contains(r.Stderr, "inside the working tree") || !strings.Contains(r.Stderr, "git-loop hook EVENT") {
		t.Errorf("init said:\n%s", r.Stderr)
	}
	if st := gittest.Git(t, e.Repo, "status", "--porcelain"); st != "" {
		t.Errorf("the committed hooks changed:\n%s", st)
	}
	// The context clones still got theirs.
	if _, err := os.Stat(filepath.Join(e.Clone("knowledge"), ".git", "hooks", "pre-push")); err != nil {
		t.Error(err)
	}
}

// TestUninstallRemovesHooksAndSettings: after "git loop uninstall" plain
// git is plain again. A post-checkout shim left behind made the next "git
// worktree add -b loop/x" recreate the state dir and adopt the worktree,
// right after uninstall said everything was removed; the user's own hook
// comes back and the repository's [loop] settings are gone.
func TestUninstallRemovesHooksAndSettings(t *testing.T) {
	t.Parallel()
	e := &env{User: cmdtest.NewUser(t, gittest.Repo(t)), path: os.Getenv("PATH")}
	userHook := "#!/bin/sh\nexit 0\n"
	hookPath := filepath.Join(e.Repo, ".git", "hooks", "pre-push")
	if err := os.WriteFile(hookPath, []byte(userHook), 0o755); err != nil {
		t.Fatal(err)
	}
	e.OK("config", "set", "sandbox.driver", "none")
	e.OK("init", "-q")
	e.OK("new", "a", "--driver", "none", "-d", "-q")
	r := e.OK("uninstall", "--yes")
	for _, want := range []string{"hooks (chained hooks are restored):", "post-checkout", "loop.sandbox.driver"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the plan does not name %q:\n%s", want, r.Stdout)
		}
	}
	if got, err := os.ReadFile(hookPath); err != nil || string(got) != userHook {
		t.Errorf("the user's pre-push after uninstall: %q, %v", got, err)
	}
	if code, out, _ := e.git(e.Repo, "config", "--local", "--get-regexp", `^loop\.`); code == 0 {
		t.Errorf("loop settings left in .git/config:\n%s", out)
	}
	x := filepath.Join(t.TempDir(), "x")
	stderr := e.gitOK(e.Repo, "worktree", "add", "-q", "-b", "loop/x", x)
	if strings.Contains(stderr, "loop") {
		t.Errorf("git worktree add after uninstall ran git loop:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(e.Repo, ".git", "loop")); !os.IsNotExist(err) {
		t.Errorf("the state dir is back after uninstall and a plain git worktree add: %v", err)
	}
}
