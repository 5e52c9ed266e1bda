package newcmd_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestLoopLifecycle(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	r := cmdtest.MustRun(t, repo, "new", "feature-x", "--driver", "none", "--detach", "-v")
	wt := strings.TrimSpace(r.Stdout)
	commonDir := filepath.Join(repo, ".git")
	if want := filepath.Join(commonDir, "loop", "loops", "feature-x", "workdir"); wt != want {
		t.Fatalf("worktree path = %q, want %q", wt, want)
	}
	if !strings.Contains(r.Stderr, "git worktree add") {
		t.Errorf("with -v, mutating git commands are not logged on stderr:\n%s", r.Stderr)
	}
	if got := cmdtest.LoopBranches(t, repo); len(got) != 1 || got[0] != "refs/heads/loop/feature-x" {
		t.Fatalf("loop branches = %v", got)
	}
	if wts := cmdtest.WorktreePaths(t, repo); len(wts) != 2 || wts[1] != wt {
		t.Fatalf("worktrees = %v", wts)
	}
	var meta map[string]any
	data, err := os.ReadFile(filepath.Join(commonDir, "loop", "host", "feature-x", "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	if meta["base"] != "main" || meta["baseRef"] != "refs/heads/main" || meta["schema"] != float64(1) {
		t.Errorf("meta = %v", meta)
	}

	loops := cmdtest.LsJSON(t, repo)
	if len(loops) != 1 || loops[0].Name != "feature-x" || loops[0].Dirty || loops[0].State != "ready" || loops[0].Driver != "none" {
		t.Fatalf("ls = %+v", loops)
	}

	// Work in the loop: a commit and an uncommitted file.
	cmdtest.MustRun(t, repo, "exec", "feature-x", "--", "sh", "-c", `test "$GIT_LOOP_NAME" = feature-x && echo change > new.txt && git add new.txt && git commit -qm "add new" && echo wip > wip.txt`)
	loops = cmdtest.LsJSON(t, repo)
	if !loops[0].Dirty || loops[0].Changes != 1 || loops[0].Ahead != 1 || loops[0].Behind != 0 {
		t.Fatalf("after work: %+v", loops[0])
	}
	// The base moves on: the loop is behind it.
	gittest.WriteFile(t, repo, "base.txt", "base\n")
	gittest.Commit(t, repo, "base moves")
	loops = cmdtest.LsJSON(t, repo)
	if loops[0].Behind != 1 || loops[0].Ahead != 1 {
		t.Fatalf("after base moved: %+v", loops[0])
	}

	diff := cmdtest.MustRun(t, repo, "diff", "feature-x", "--", "--stat")
	if !strings.Contains(diff.Stdout, "new.txt") || strings.Contains(diff.Stdout, "base.txt") {
		t.Errorf("diff against merge base:\n%s", diff.Stdout)
	}

	// rm refuses: uncommitted work, then unmerged commits.
	rm := cmdtest.Run(t, repo, "rm", "feature-x")
	if rm.Code != 5 || !strings.Contains(rm.Stderr, "commit") {
		t.Fatalf("rm with unmerged work: exit %d\n%s", rm.Code, rm.Stderr)
	}
	if err := os.Remove(filepath.Join(wt, "wip.txt")); err != nil {
		t.Fatal(err)
	}
	rm = cmdtest.Run(t, repo, "rm", "feature-x")
	if rm.Code != 5 || !strings.Contains(rm.Stderr, "1 commit not on main or any remote") {
		t.Fatalf("rm with an unmerged commit: exit %d\n%s", rm.Code, rm.Stderr)
	}
	// Once the work is on a remote, nothing is at risk.
	gittest.Git(t, repo, "push", "-q", "origin", "loop/feature-x")
	cmdtest.MustRun(t, repo, "rm", "feature-x")
	if got := cmdtest.LoopBranches(t, repo); len(got) != 0 {
		t.Fatalf("branches after rm: %v", got)
	}
	if wts := cmdtest.WorktreePaths(t, repo); len(wts) != 1 {
		t.Fatalf("worktrees after rm: %v", wts)
	}
	if _, err := os.Stat(filepath.Join(commonDir, "loop", "loops", "feature-x")); !os.IsNotExist(err) {
		t.Fatalf("loop state left after rm: %v", err)
	}
	if r := cmdtest.Run(t, repo, "rm", "feature-x"); r.Code != 1 || !strings.Contains(r.Stderr, `no loop named "feature-x"`) {
		t.Fatalf("rm of a removed loop: %d %s", r.Code, r.Stderr)
	}
}

func TestInvalidNamesChangeNothing(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	for _, name := range []string{"", ".hidden", "-flag", "a..b", "x.lock", "has space", "slash/name", "ünï", strings.Repeat("a", 65), "semi;colon", "end.", "@{", "back\\slash"} {
		r := cmdtest.Run(t, repo, "new", name, "--driver", "none", "-d")
		if r.Code != 2 {
			t.Errorf("new %q: exit %d, want 2\n%s", name, r.Code, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "error:") {
			t.Errorf("new %q: no error message: %q", name, r.Stderr)
		}
	}
	if got := cmdtest.LoopBranches(t, repo); len(got) != 0 {
		t.Fatalf("branches created by refused names: %v", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(repo, ".git", "loop", "loops")); len(entries) != 0 {
		t.Fatalf("state created by refused names: %v", entries)
	}
}

func TestNewRefusals(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	cmdtest.MustRun(t, repo, "new", "dup", "--driver", "none", "-d")
	if r := cmdtest.Run(t, repo, "new", "dup", "--driver", "none", "-d"); r.Code != 1 || !strings.Contains(r.Stderr, "already exists") || strings.Contains(r.Stderr, "--help") {
		t.Errorf("second new dup: %d %s", r.Code, r.Stderr)
	}
	if r := cmdtest.Run(t, repo, "new", "nobase", "--base", "no-such-ref", "--driver", "none", "-d"); r.Code != 2 || !strings.Contains(r.Stderr, "no-such-ref") {
		t.Errorf("bad base: %d %s", r.Code, r.Stderr)
	}
	// A repository without commits needs a first commit, not a --base.
	empty := t.TempDir()
	gittest.Git(t, empty, "init", "-q", "-b", "trunk")
	if r := cmdtest.Run(t, empty, "new", "first", "--driver", "none", "-d"); r.Code != 1 || !strings.Contains(r.Stderr, "no commits yet (trunk is unborn): make a first commit") || strings.Contains(r.Stderr, "--base") {
		t.Errorf("new in a repository without commits: %d %s", r.Code, r.Stderr)
	}
	if r := cmdtest.Run(t, repo, "new", "x", "--driver", "warp", "-d"); r.Code == 0 || !strings.Contains(r.Stderr, "warp") {
		t.Errorf("bad driver: %d %s", r.Code, r.Stderr)
	}
	if r := cmdtest.Run(t, t.TempDir(), "ls"); r.Code != 1 || !strings.Contains(r.Stderr, "not a git repository") {
		t.Errorf("outside a repo: %d %s", r.Code, r.Stderr)
	}
	if got := cmdtest.LoopBranches(t, repo); len(got) != 1 {
		t.Fatalf("branches: %v", got)
	}
}

func TestWorktreeInclude(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	gittest.WriteFile(t, repo, ".worktreeinclude", ".env\nconfig/*.local\nREADME.md\n")
	gittest.Commit(t, repo, "include list")
	gittest.WriteFile(t, repo, ".env", "TOKEN=abc\n")
	gittest.WriteFile(t, repo, "config/db.local", "db\n")
	gittest.WriteFile(t, repo, "config/.gitignore", "*.local\n")
	gittest.Commit(t, repo, "ignore locals")
	gittest.WriteFile(t, repo, "config/db.local", "db\n")
	gittest.WriteFile(t, repo, "app.log", "not listed\n")
	if err := os.Symlink("/etc/passwd", filepath.Join(repo, "config", "link.local")); err != nil {
		t.Fatal(err)
	}
	wt := strings.TrimSpace(cmdtest.MustRun(t, repo, "new", "inc", "--driver", "none", "-d").Stdout)
	if b, err := os.ReadFile(filepath.Join(wt, ".env")); err != nil || string(b) != "TOKEN=abc\n" {
		t.Errorf(".env not copied: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(wt, "config", "db.local")); err != nil || string(b) != "db\n" {
		t.Errorf("config/db.local not copied: %q %v", b, err)
	}
	if target, err := os.Readlink(filepath.Join(wt, "config", "link.local")); err != nil || target != "/etc/passwd" {
		t.Errorf("symlink should be copied as a link: %q %v", target, err)
	}
	if _, err := os.Stat(filepath.Join(wt, "app.log")); !os.IsNotExist(err) {
		t.Errorf("app.log is not listed in .worktreeinclude but was copied")
	}
	// Copies are ignored files: the new worktree is clean.
	if l := cmdtest.LsJSON(t, repo); l[0].Dirty {
		t.Errorf("worktree dirty after include copy: %+v", l[0])
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	r := cmdtest.MustRun(t, repo, "new", "dry", "--driver", "none", "--dry-run")
	if !strings.Contains(r.Stderr, "git worktree add --no-track -b loop/dry") {
		t.Errorf("dry run does not print the command:\n%s", r.Stderr)
	}
	if got := cmdtest.LoopBranches(t, repo); len(got) != 0 {
		t.Fatalf("dry run created %v", got)
	}
	cmdtest.MustRun(t, repo, "new", "real", "--driver", "none", "-d")
	r = cmdtest.MustRun(t, repo, "rm", "real", "--dry-run")
	if !strings.Contains(r.Stderr, "git branch -D loop/real") {
		t.Errorf("rm --dry-run output:\n%s", r.Stderr)
	}
	if got := cmdtest.LoopBranches(t, repo); len(got) != 1 {
		t.Fatalf("rm --dry-run removed: %v", got)
	}
}

// TestNewSparseCheckout: in a sparse checkout git's own add copies the
// patterns into the new worktree, so new leaves the add to git there and
// the loop is as sparse as its repository.
func TestNewSparseCheckout(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	gittest.WriteFile(t, repo, "keep/a.txt", "a\n")
	gittest.WriteFile(t, repo, "skip/b.txt", "b\n")
	gittest.Commit(t, repo, "two dirs")
	gittest.Git(t, repo, "sparse-checkout", "set", "keep")
	wt := strings.TrimSpace(cmdtest.MustRun(t, repo, "new", "sparse", "--driver", "none", "-d").Stdout)
	if _, err := os.Stat(filepath.Join(wt, "keep", "a.txt")); err != nil {
		t.Errorf("sparse loop lacks keep/a.txt: %v", err)
	}
	if _, err := os.Stat(filepath.Join(wt, "skip")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sparse loop has skip/: %v", err)
	}
	if got := gittest.Git(t, wt, "sparse-checkout", "list"); got != "keep" {
		t.Errorf("loop's sparse patterns %q", got)
	}
}

// TestNewOutputIsOneLine: without -v, new says what it made in one line
// on stderr (with an abbreviated SHA) and prints the worktree on stdout;
// the git commands are for -v and --dry-run.
func TestNewOutputIsOneLine(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, _ := cmdtest.WithHome(t)
	cmdtest.MustRunWith(t, repo, o, "init", "-q")
	r := cmdtest.MustRunWith(t, repo, o, "new", "quiet-x", "--driver", "none", "-d")
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	if len(lines) != 1 || !regexp.MustCompile(`^Created loop quiet-x on loop/quiet-x from main \([0-9a-f]{7}\), sandbox none$`).MatchString(lines[0]) {
		t.Errorf("new printed on stderr:\n%s", r.Stderr)
	}
	if strings.Count(strings.TrimSpace(r.Stdout), "\n") != 0 {
		t.Errorf("new printed on stdout:\n%s", r.Stdout)
	}
	if r := cmdtest.MustRunWith(t, repo, o, "rm", "quiet-x"); strings.TrimSpace(r.Stderr) != "Removed loop quiet-x" {
		t.Errorf("rm printed:\n%s", r.Stderr)
	}
}
