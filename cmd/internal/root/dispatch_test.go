package root_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestSubdirectoriesWorktreesAndDashC(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	cmdtest.MustRun(t, filepath.Join(repo, "src"), "new", "from-sub", "--driver", "none", "-d")
	cmdtest.MustRun(t, t.TempDir(), "-C", repo, "new", "from-c", "--driver", "none", "-d", "--base", "main")
	// From inside a loop's worktree, the same repository's loops.
	wt := strings.TrimSpace(cmdtest.MustRun(t, repo, "path", "from-sub").Stdout)
	r := cmdtest.MustRun(t, filepath.Join(wt, "src"), "new", "nested", "--driver", "none", "-d")
	if !strings.HasPrefix(strings.TrimSpace(r.Stdout), filepath.Join(repo, ".git", "loop", "loops")) {
		t.Errorf("loop made from a worktree lives at %s", r.Stdout)
	}
	names := []string{}
	for _, l := range cmdtest.LsJSON(t, wt) {
		names = append(names, l.Name+"@"+l.Base)
	}
	if got := strings.Join(names, " "); got != "from-c@main from-sub@main nested@loop/from-sub" {
		t.Errorf("loops = %s", got)
	}
	// status without a name: the loop you are in.
	st := cmdtest.MustRun(t, filepath.Join(wt, "src"), "status")
	if !strings.Contains(st.Stdout, "loop from-sub") {
		t.Errorf("status inside worktree:\n%s", st.Stdout)
	}
}

// TestRefusedInSandbox: inside a loop's sandbox (where git-loop is mounted
// for the hooks) only the hook entry point and version run.
func TestRefusedInSandbox(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	in := cmdtest.Options{Env: map[string]string{"GIT_LOOP_SANDBOX": "docker", "GIT_LOOP_NAME": "x"}}
	for _, args := range [][]string{{"ls"}, {"new", "y"}, {"vault", "ls"}, {"review", "merge", "p"}} {
		r := cmdtest.RunWith(t, repo, in, args...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "git loop runs on the host; this is loop x's docker sandbox") {
			t.Errorf("git loop %v in a sandbox: exit %d\n%s", args, r.Code, r.Stderr)
		}
	}
	if got := cmdtest.LoopBranches(t, repo); len(got) != 0 {
		t.Errorf("branches made from a sandbox: %v", got)
	}
	for _, args := range [][]string{{"version"}, {"hook", "post-merge"}} {
		if r := cmdtest.RunWith(t, repo, in, args...); r.Code != 0 {
			t.Errorf("git loop %v in a sandbox: exit %d\n%s", args, r.Code, r.Stderr)
		}
	}
}

// TestGitDispatch runs through "git loop" and "git -c loop.x=… loop", which
// only git's own config reading delivers.
func TestGitDispatch(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	out, err := exec.Command("git", "-C", repo, "-c", "loop.agent=codex", "loop", "config", "get", "agent", "--show-origin").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "git:git -c\tcodex" {
		t.Fatalf("git -c loop.agent: %v %q", err, out)
	}
	out, err = exec.Command("git", "-C", filepath.Join(repo, "src"), "loop", "new", "via-git", "--driver", "none", "-d", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("git loop new: %v %s", err, out)
	}
	out, err = exec.Command("git", "-C", repo, "loop", "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "git loop new") {
		t.Fatalf("git loop -h: %v %s", err, out)
	}
}

// TestUsageExitCodes: what root itself refuses (an unknown command or
// flag) is a usage error naming the help to read.
func TestUsageExitCodes(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	if r := cmdtest.Run(t, repo, "frobnicate"); r.Code != 2 {
		t.Errorf("unknown command: %d %s", r.Code, r.Stderr)
	}
	if r := cmdtest.Run(t, repo, "ls", "--bogus"); r.Code != 2 || !strings.Contains(r.Stderr, "git loop ls --help") {
		t.Errorf("unknown flag: %d %s", r.Code, r.Stderr)
	}
}
