package lifecycle

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// A git killed mid-update (SIGKILL, the OOM killer, a crash) leaves its
// lock files: packed-refs.lock, which then refuses every later ref
// deletion in the repository, and ref locks, which refuse updates of
// their ref. git cannot tell a stale lock from a live one (a git holding
// a prepared transaction keeps its locks closed, as files only), and
// neither can a lock's age. clearStaleLocks removes one only when no
// git could hold it: recovery holds the state lock, which every git that
// git loop starts inherits, so none of git loop's gits lives; and no
// other git process the host lets it see works in this repository (its
// working dir, GIT_DIR or command line in the repository's git dir or
// one of its worktrees). A git of another user, invisible in /proc, is
// the one case it cannot see; such a git would be working in a loop's
// refs, which are git loop's.

// staleLockCandidates lists the lock files of the host's ref store that
// git loop may clear: packed-refs.lock (and .new), and ref locks under the loops'
// branches (refs/heads/<prefix>...) and their quarantine (refs/gitloop/).
func staleLockCandidates(s *workspace.Workspace) []string {
	var locks []string
	common := s.Repo.CommonDir
	// packed-refs.new is the file git writes the new packed-refs into,
	// under packed-refs.lock.
	for _, f := range []string{"packed-refs.lock", "packed-refs.new"} {
		if fi, err := os.Lstat(filepath.Join(common, f)); err == nil && fi.Mode().IsRegular() {
			locks = append(locks, filepath.Join(common, f))
		}
	}
	prefix := strings.Trim(s.Config.BranchPrefix(), "/")
	if prefix == "" || strings.Contains(prefix, "..") {
		prefix = "loop"
	}
	for _, dir := range []string{filepath.Join(common, "refs", "heads", filepath.FromSlash(prefix)), filepath.Join(common, "refs", "gitloop")} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, ".lock") {
				locks = append(locks, p)
			}
			return nil
		})
	}
	return locks
}

// clearStaleLocks removes the candidates when no live git works in the
// repository. The caller holds the state lock.
func clearStaleLocks(s *workspace.Workspace) {
	locks := staleLockCandidates(s)
	if len(locks) == 0 {
		return
	}
	if pid := gitAlive(s); pid != "" {
		s.Reporter().Step("kept " + strings.Join(locks, ", ") + ": git process " + pid + " may hold them")
		return
	}
	for _, l := range locks {
		if os.Remove(l) == nil {
			s.Reporter().Warn("removed " + l + ", which a git killed mid-update left")
		}
	}
}

// gitAlive names a git process that may work in s's repository and is
// alive (as far as /proc shows this process), or returns "".
func gitAlive(s *workspace.Workspace) string {
	dirs := []string{s.Repo.CommonDir}
	if s.Repo.MainWorktree != "" {
		dirs = append(dirs, s.Repo.MainWorktree)
	}
	gitdirs, _ := filepath.Glob(filepath.Join(s.Repo.CommonDir, "worktrees", "*", "gitdir"))
	for _, g := range gitdirs {
		if data, err := readBounded(g, 4096); err == nil {
			dirs = append(dirs, filepath.Dir(filepath.Clean(strings.TrimSpace(string(data)))))
		}
	}
	under := func(p string) bool {
		for _, d := range dirs {
			if p == d || strings.HasPrefix(p, d+"/") {
				return true
			}
		}
		return false
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return "?" // cannot tell: leave the locks
	}
	self := os.Getpid()
	for _, e := range procs {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' || pid == strconv.Itoa(self) {
			continue
		}
		comm, err := os.ReadFile("/proc/" + pid + "/comm")
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(comm))
		if name != "git" && !strings.HasPrefix(name, "git-") {
			continue
		}
		if strings.HasPrefix(name, "git-loop") {
			continue // another git loop: it takes the state lock before it touches refs
		}
		if stat, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil {
			// This process's own gits (a cat-file --batch it keeps) are
			// readers, or hold the state lock with it.
			if _, rest, ok := bytes.Cut(stat, []byte(") ")); ok {
				f := strings.Fields(string(rest))
				if len(f) > 1 && f[1] == strconv.Itoa(self) {
					continue
				}
				// A zombie (dead, not yet reaped by its parent: common
				// while other processes run many gits) holds nothing.
				if len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
					continue
				}
			}
		}
		cwd, err := os.Readlink("/proc/" + pid + "/cwd")
		if errors.Is(err, os.ErrNotExist) {
			continue // gone since the listing, or a zombie
		}
		if err != nil || under(cwd) {
			return pid // unreadable: it may be one
		}
		if env, err := os.ReadFile("/proc/" + pid + "/environ"); err == nil {
			for _, kv := range bytes.Split(env, []byte{0}) {
				k, v, _ := strings.Cut(string(kv), "=")
				if (k == "GIT_DIR" || k == "GIT_COMMON_DIR" || k == "GIT_WORK_TREE") && under(filepath.Clean(v)) {
					return pid
				}
			}
		}
		if cmd, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil {
			for _, arg := range bytes.Split(cmd, []byte{0}) {
				for _, d := range dirs {
					if bytes.Contains(arg, []byte(d)) {
						return pid
					}
				}
			}
		}
	}
	return ""
}
