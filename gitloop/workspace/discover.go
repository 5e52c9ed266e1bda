package workspace

import (
	"os"
	"path/filepath"
	"strings"
)

// discoverFast finds the repository containing dir without running git,
// for the common layouts: a ".git" directory (main worktree) or a ".git"
// file pointing at a linked worktree's git dir. Anything unusual (GIT_DIR
// and friends set, ceiling directories, being inside a git dir, a bare
// repository) returns false and Discover asks git, so the answer is
// always the one git would give. It saves two git processes on every
// command: the git.RepoDiscovery shortcut, which Discover takes.
func discoverFast(dir string) (*Repo, bool) {
	for _, v := range []string{"GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM"} {
		if os.Getenv(v) != "" {
			return nil, false
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, false
	}
	abs, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, false
	}
	for d := abs; ; d = filepath.Dir(d) {
		if filepath.Base(d) == ".git" {
			return nil, false // inside a git dir: git's rules differ there
		}
		dotgit := filepath.Join(d, ".git")
		fi, err := os.Lstat(dotgit)
		if err == nil {
			switch {
			case fi.IsDir():
				if !isGitDir(dotgit) {
					return nil, false
				}
				return &Repo{CommonDir: dotgit, GitDir: dotgit, TopLevel: d, MainWorktree: d}, true
			case fi.Mode().IsRegular():
				return linkedWorktree(d, dotgit)
			default:
				return nil, false
			}
		}
		if parent := filepath.Dir(d); parent == d {
			return nil, false
		}
	}
}

func linkedWorktree(top, dotgit string) (*Repo, bool) {
	data, err := os.ReadFile(dotgit)
	if err != nil {
		return nil, false
	}
	gitdir, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "gitdir: ")
	if !ok {
		return nil, false
	}
	if !filepath.IsAbs(gitdir) {
		gitdir = filepath.Join(top, gitdir)
	}
	gitdir, err = filepath.EvalSymlinks(gitdir)
	if err != nil || !isGitDir(gitdir) {
		return nil, false
	}
	common := gitdir
	if c, err := os.ReadFile(filepath.Join(gitdir, "commondir")); err == nil {
		common = strings.TrimSpace(string(c))
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitdir, common)
		}
		if common, err = filepath.EvalSymlinks(common); err != nil {
			return nil, false
		}
	}
	r := &Repo{CommonDir: filepath.Clean(common), GitDir: filepath.Clean(gitdir), TopLevel: top}
	if filepath.Base(r.CommonDir) != ".git" {
		return nil, false // a bare repository's worktree: let git say
	}
	r.MainWorktree = filepath.Dir(r.CommonDir)
	return r, true
}

// isGitDir checks the minimum git itself requires of a git dir.
func isGitDir(d string) bool {
	if _, err := os.Stat(filepath.Join(d, "HEAD")); err != nil {
		return false
	}
	if _, err := os.Stat(filepath.Join(d, "commondir")); err == nil {
		return true // linked worktree git dir: objects live in the common dir
	}
	_, err := os.Stat(filepath.Join(d, "objects"))
	return err == nil
}
