package git_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestMain(m *testing.M) { gittest.Main(m, nil) }

// worktreeRepo is a repository with files in directories, an executable
// and a symlink, a post-checkout hook that records its arguments and
// where it ran, and branch.autoSetupMerge=always (which --no-track must
// beat).
func worktreeRepo(t *testing.T, format string) (repo, hookLog string) {
	t.Helper()
	repo = filepath.Join(t.TempDir(), "repo")
	gittest.Git(t, filepath.Dir(repo), "init", "-q", "--object-format="+format, "-b", "main", repo)
	gittest.WriteFile(t, repo, "a/b/c.txt", "c\n")
	gittest.WriteFile(t, repo, "top.txt", "top\n")
	gittest.WriteFile(t, repo, "run.sh", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(repo, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("top.txt", filepath.Join(repo, "link")); err != nil {
		t.Fatal(err)
	}
	gittest.Commit(t, repo, "one")
	gittest.Git(t, repo, "config", "branch.autoSetupMerge", "always")
	hookLog = filepath.Join(t.TempDir(), "hook.log")
	gittest.WriteFile(t, repo, ".git/hooks/post-checkout", "#!/bin/sh\necho \"$* $(pwd -P)\" >> "+hookLog+"\n")
	if err := os.Chmod(filepath.Join(repo, ".git/hooks/post-checkout"), 0o755); err != nil {
		t.Fatal(err)
	}
	return repo, hookLog
}

func adminDir(t *testing.T, worktree string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(worktree, ".git"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(strings.TrimPrefix(string(data), "gitdir: "))
}

// TestStartWorktreeMatchesGit makes one worktree with git's own
// "worktree add --no-track -b" and one directly, in the same repository,
// and compares everything git keeps of them.
func TestStartWorktreeMatchesGit(t *testing.T) {
	for _, format := range []string{"sha1", "sha256"} {
		t.Run(format, func(t *testing.T) {
			repo, hookLog := worktreeRepo(t, format)
			sha := gittest.Git(t, repo, "rev-parse", "HEAD")
			common, _ := filepath.EvalSymlinks(filepath.Join(repo, ".git"))
			dir := t.TempDir()
			viaGit, direct := filepath.Join(dir, "g"), filepath.Join(dir, "d")
			gittest.Git(t, repo, "worktree", "add", "-q", "--no-track", "-b", "viagit", viaGit, sha)
			var log strings.Builder
			r := &git.Runner{Log: &log}
			err := r.StartWorktree(context.Background(), git.NewWorktree{CommonDir: filepath.Join(repo, ".git"), Path: direct, Branch: "direct", Start: sha, Label: "x", ID: "direct", Direct: true})()
			if err != nil {
				t.Fatal(err)
			}
			if want := "[x] git worktree add --no-track -b direct " + direct + " " + sha + "\n"; log.String() != want {
				t.Errorf("logged %q, want %q", log.String(), want)
			}

			// The admin dirs: the same files (git's "reset --hard" also
			// leaves an ORIG_HEAD; an empty refs/ is made by git 2.47's
			// add, and by 2.39 when first needed), the same links both
			// ways.
			names := func(admin string) []string {
				entries, _ := os.ReadDir(admin)
				var out []string
				for _, e := range entries {
					if refs, err := os.ReadDir(filepath.Join(admin, e.Name())); e.Name() == "refs" && err == nil && len(refs) == 0 {
						continue
					}
					if e.Name() != "ORIG_HEAD" {
						out = append(out, e.Name())
					}
				}
				return out
			}
			ga, da := adminDir(t, viaGit), adminDir(t, direct)
			if da != filepath.Join(common, "worktrees", "direct") || ga != filepath.Join(common, "worktrees", "g") {
				t.Errorf("admin dirs %s and %s", ga, da)
			}
			if g, d := names(ga), names(da); !reflect.DeepEqual(g, d) {
				t.Errorf("admin files: git %v, direct %v", g, d)
			}
			read := func(p string) string {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				return string(data)
			}
			for _, c := range []struct{ file, git, direct string }{
				{"commondir", "../..\n", "../..\n"},
				{"HEAD", "ref: refs/heads/viagit\n", "ref: refs/heads/direct\n"},
				{"gitdir", viaGit + "/.git\n", direct + "/.git\n"},
			} {
				if g, d := read(filepath.Join(ga, c.file)), read(filepath.Join(da, c.file)); g != c.git || d != c.direct {
					t.Errorf("%s: git %q, direct %q", c.file, g, d)
				}
			}
			if g, d := read(filepath.Join(viaGit, ".git")), read(filepath.Join(direct, ".git")); g != "gitdir: "+ga+"\n" || d != "gitdir: "+da+"\n" {
				t.Errorf(".git files: git %q, direct %q", g, d)
			}

			// The index and the files, the branch and its reflog, no
			// tracking, the same hook call, and nothing left locked. (The
			// worktree's HEAD reflog differs in words: git's add says
			// "reset: moving to HEAD", the checkout "checkout: moving
			// from B to B".)
			for _, args := range [][]string{{"ls-files", "-s"}, {"ls-files", "-s", "--", "link"}, {"ls-tree", "-r", "HEAD"}, {"status", "--porcelain"}, {"rev-parse", "HEAD"}} {
				if g, d := gittest.Git(t, viaGit, args...), gittest.Git(t, direct, args...); g != d {
					t.Errorf("git %s: via git %q, direct %q", strings.Join(args, " "), g, d)
				}
			}
			for _, b := range []string{"viagit", "direct"} {
				if got := gittest.Git(t, repo, "reflog", "show", "--format=%gs", "refs/heads/"+b); got != "branch: Created from "+sha {
					t.Errorf("reflog of %s: %q", b, got)
				}
				if out, err := exec.Command("git", "-C", repo, "config", "--get-regexp", "^branch\\."+b+"\\.").Output(); err == nil {
					t.Errorf("branch %s tracks: %s", b, out)
				}
			}
			for _, wt := range []string{viaGit, direct} {
				// Stat data is fresh: nothing to refresh, nothing racy.
				if err := exec.Command("git", "-C", wt, "diff-files", "--quiet").Run(); err != nil {
					t.Errorf("%s: index not fresh: %v", wt, err)
				}
			}
			zero := strings.Repeat("0", len(sha))
			hooks := strings.Split(strings.TrimSpace(read(hookLog)), "\n")
			if want := []string{zero + " " + sha + " 1 " + viaGit, zero + " " + sha + " 1 " + direct}; !reflect.DeepEqual(hooks, want) {
				t.Errorf("post-checkout calls:\n%q\nwant\n%q", hooks, want)
			}
			list := gittest.Git(t, repo, "worktree", "list", "--porcelain")
			if !strings.Contains(list, "worktree "+direct+"\nHEAD "+sha+"\nbranch refs/heads/direct\n") || strings.Contains(list, "locked") {
				t.Errorf("worktree list:\n%s", list)
			}

			// git's own commands treat it as theirs.
			gittest.Git(t, repo, "worktree", "lock", direct)
			gittest.Git(t, repo, "worktree", "unlock", direct)
			gittest.Git(t, repo, "worktree", "move", direct, direct+"2")
			gittest.Git(t, repo, "worktree", "remove", direct+"2")
			gittest.Git(t, repo, "worktree", "prune")
			if _, err := os.Stat(da); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("admin dir left after remove: %v", err)
			}
		})
	}
}

// TestStartWorktreeIDTaken numbers the admin dir as git does when the ID
// is taken.
func TestStartWorktreeIDTaken(t *testing.T) {
	repo, _ := worktreeRepo(t, "sha1")
	dir := t.TempDir()
	gittest.Git(t, repo, "worktree", "add", "-q", "-b", "other", filepath.Join(dir, "same"))
	wt := filepath.Join(dir, "mine")
	sha := gittest.Git(t, repo, "rev-parse", "HEAD")
	if err := (&git.Runner{}).StartWorktree(context.Background(), git.NewWorktree{CommonDir: filepath.Join(repo, ".git"), Path: wt, Branch: "mine", Start: sha, ID: "same", Direct: true})(); err != nil {
		t.Fatal(err)
	}
	if got := filepath.Base(adminDir(t, wt)); got != "same1" {
		t.Errorf("admin dir %s, want same1", got)
	}
	gittest.Git(t, wt, "status")
}

// TestStartWorktreeFailure: a checkout that fails leaves no worktree, no
// admin dir and no branch, as git's add does.
func TestStartWorktreeFailure(t *testing.T) {
	repo, _ := worktreeRepo(t, "sha1")
	wt := filepath.Join(t.TempDir(), "w")
	err := (&git.Runner{}).StartWorktree(context.Background(), git.NewWorktree{CommonDir: filepath.Join(repo, ".git"), Path: wt, Branch: "w", Start: "no-such-commit", ID: "w", Direct: true})()
	var ge *git.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v, want a git error", err)
	}
	if _, err := os.Stat(wt); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("worktree left: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(repo, ".git", "worktrees")); len(entries) != 0 {
		t.Errorf("admin dirs left: %v", entries)
	}
	if out := gittest.Git(t, repo, "branch", "--list", "w"); out != "" {
		t.Errorf("branch left: %q", out)
	}
}

// TestStartWorktreeStaleRegistration leaves a path git still has
// registered to git's own add, and its refusal.
func TestStartWorktreeStaleRegistration(t *testing.T) {
	repo, _ := worktreeRepo(t, "sha1")
	wt := filepath.Join(t.TempDir(), "w")
	gittest.Git(t, repo, "worktree", "add", "-q", "-b", "old", wt)
	if err := os.RemoveAll(wt); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sha := gittest.Git(t, repo, "rev-parse", "HEAD")
	err := (&git.Runner{Log: &log}).StartWorktree(context.Background(), git.NewWorktree{CommonDir: filepath.Join(repo, ".git"), Path: wt, Branch: "new", Start: sha, ID: "w", Direct: true})()
	if err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("error %v, want git's \"already registered\"", err)
	}
}

// TestUnlockAbandonedWorktrees: an admin dir a kill left before git could
// see it goes; a registered one, or another's, stays.
func TestUnlockAbandonedWorktrees(t *testing.T) {
	repo, _ := worktreeRepo(t, "sha1")
	common := filepath.Join(repo, ".git")
	dir := t.TempDir()
	mine, other := filepath.Join(dir, "mine"), filepath.Join(dir, "other")
	write := func(admin string, files map[string]string) {
		t.Helper()
		for name, data := range files {
			gittest.WriteFile(t, filepath.Join(common, "worktrees", admin), name, data)
		}
	}
	write("half", map[string]string{"locked": "initializing " + mine, "HEAD": "ref: refs/heads/x\n"})
	write("others", map[string]string{"locked": "initializing " + other})
	gittest.Git(t, repo, "worktree", "add", "-q", "-b", "whole", mine)
	gittest.Git(t, repo, "worktree", "lock", "--reason", "initializing "+mine, mine)
	if err := git.UnlockAbandonedWorktrees(common, mine); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(common, "worktrees"))
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	sort.Strings(left)
	if want := []string{"mine", "others"}; !reflect.DeepEqual(left, want) {
		t.Errorf("admin dirs left %v, want %v", left, want)
	}
}
