package status

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"golang.org/x/sys/unix"
)

// The status cache lets "git loop ls" answer without running git for loops
// that have not changed since git last looked, while staying exactly as
// correct as git status:
//
//   - ahead/behind depends only on the two commits, so it is keyed by them.
//   - the dirty count is keyed by a fingerprint of everything git status
//     reads: HEAD, the index file, config and exclude files, and the lstat
//     of every non-ignored file and directory in the worktree. Creating,
//     deleting or renaming an entry changes its directory's mtime;
//     editing a file changes its own. A fingerprint is only stored when
//     no timestamp in it is recent enough to be racy, as git does for its
//     index.
type statusCache struct {
	AB    *abEntry    `json:"ab,omitempty"`
	Dirty *dirtyEntry `json:"dirty,omitempty"`
	dirty bool        // needs writing
}

type abEntry struct {
	Head   string `json:"head"`
	Base   string `json:"base"`
	Ahead  int    `json:"ahead"`
	Behind int    `json:"behind"`
}

type dirtyEntry struct {
	Fingerprint string   `json:"fingerprint"`
	Changes     int      `json:"changes"`
	Paths       []string `json:"paths"`    // worktree-relative files and dirs to lstat
	Excludes    string   `json:"excludes"` // core.excludesFile as resolved
}

func statusCachePath(s *workspace.Workspace, name string) string {
	return filepath.Join(s.Store().LoopDir(name), "status-cache.json")
}

func readStatusCache(s *workspace.Workspace, name string) *statusCache {
	c := &statusCache{}
	data, err := os.ReadFile(statusCachePath(s, name))
	if err == nil {
		_ = json.Unmarshal(data, c) // a bad cache is an empty cache
	}
	return c
}

func writeStatusCache(s *workspace.Workspace, name string, c *statusCache) {
	if !c.dirty {
		return
	}
	data, err := json.Marshal(c)
	if err != nil {
		return
	}
	// Best effort: a cache that fails to write only costs speed.
	_ = state.WriteFileAtomic(statusCachePath(s, name), data, 0o644)
}

func (c *statusCache) aheadBehind(head, base string) (int, int, bool) {
	if c.AB != nil && c.AB.Head == head && c.AB.Base == base {
		return c.AB.Ahead, c.AB.Behind, true
	}
	return 0, 0, false
}

func (c *statusCache) setAheadBehind(head, base string, ahead, behind int) {
	c.AB = &abEntry{Head: head, Base: base, Ahead: ahead, Behind: behind}
	c.dirty = true
}

// dirty returns the cached change count if the worktree's fingerprint is
// unchanged.
func (c *statusCache) dirtyCount(repo *workspace.Repo, wt string) (int, bool) {
	if c.Dirty == nil {
		return 0, false
	}
	fp, _, ok := fingerprint(repo, wt, c.Dirty.Paths, c.Dirty.Excludes, time.Time{}, 0)
	if !ok || fp != c.Dirty.Fingerprint {
		return 0, false
	}
	return c.Dirty.Changes, true
}

// refreshDirty counts changes with git and stores a new fingerprint when
// it is safe to.
func refreshDirty(ctx context.Context, s *workspace.Workspace, c *statusCache, wt string) (int, error) {
	start := time.Now()
	changes, ignored, err := countChanges(ctx, s, wt)
	if err != nil {
		return 0, err
	}
	c.Dirty, c.dirty = nil, true
	excludes := s.ExcludesFile(ctx)
	paths, err := fingerprintPaths(wt, ignored)
	if err != nil {
		return changes, nil // no cache, still a correct answer
	}
	fp, racy, ok := fingerprint(s.Repo, wt, paths, excludes, start, racyWindow(s))
	if ok && !racy {
		c.Dirty = &dirtyEntry{Fingerprint: fp, Changes: changes, Paths: paths, Excludes: excludes}
	}
	return changes, nil
}

// fingerprintPaths walks the worktree and lists every file and directory
// git status would look at: all but .git and what git ignores.
func fingerprintPaths(wt string, ignoredPaths []string) ([]string, error) {
	ignored := map[string]bool{}
	for _, p := range ignoredPaths {
		ignored[strings.TrimSuffix(p, "/")] = true
	}
	var paths []string
	err := filepath.WalkDir(wt, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(wt, path)
		if rel == "." {
			return nil
		}
		if d.Name() == ".git" || ignored[filepath.ToSlash(rel)] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		paths = append(paths, rel)
		return nil
	})
	return paths, err
}

// fingerprint hashes the stat data of everything git status depends on.
// racy is true when a timestamp is not older than since (then the
// fingerprint could miss a change made in the same clock tick).
func fingerprint(repo *workspace.Repo, wt string, paths []string, excludes string, since time.Time, window time.Duration) (string, bool, bool) {
	h := sha256.New()
	racy := false
	add := func(path string, must bool) bool {
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			fmt.Fprintf(h, "%s missing\n", path)
			return !must
		}
		mt := time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
		ct := time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
		if !since.IsZero() && (!mt.Before(since.Add(-window)) || !ct.Before(since.Add(-window))) {
			racy = true
		}
		fmt.Fprintf(h, "%s %d %d %d %d %d %o\n", path, st.Ino, st.Size, mt.UnixNano(), ct.UnixNano(), st.Uid, st.Mode)
		return true
	}
	gitFile, err := os.ReadFile(filepath.Join(wt, ".git"))
	if err != nil {
		return "", false, false
	}
	admin := strings.TrimSpace(strings.TrimPrefix(string(gitFile), "gitdir:"))
	head, err := os.ReadFile(filepath.Join(admin, "HEAD"))
	if err != nil {
		return "", false, false
	}
	fmt.Fprintf(h, "head %s\n", head)
	if ref, ok := strings.CutPrefix(strings.TrimSpace(string(head)), "ref: "); ok {
		// The commit HEAD names: a loose ref file or packed-refs.
		add(filepath.Join(repo.CommonDir, ref), false)
		add(filepath.Join(repo.CommonDir, "packed-refs"), false)
	}
	fmt.Fprintf(h, "env %s\n", os.Getenv("GIT_CONFIG_PARAMETERS"))
	for _, p := range []string{
		filepath.Join(admin, "index"),
		filepath.Join(admin, "config.worktree"),
		filepath.Join(repo.CommonDir, "config"),
		filepath.Join(repo.CommonDir, "info", "exclude"),
		excludes,
		globalFile("git/ignore"),
		globalFile("git/config"),
		os.Getenv("GIT_CONFIG_GLOBAL"),
		filepath.Join(os.Getenv("HOME"), ".gitconfig"),
	} {
		if p != "" {
			add(p, false)
		}
	}
	if !add(wt, true) {
		return "", false, false
	}
	for _, rel := range paths {
		add(filepath.Join(wt, rel), false)
	}
	return hex.EncodeToString(h.Sum(nil)), racy, true
}

// globalFile is a file under git's XDG config directory.
func globalFile(rel string) string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		dir = filepath.Join(os.Getenv("HOME"), ".config")
	}
	return filepath.Join(dir, rel)
}

// racyWindow is how recent a timestamp may be before a fingerprint is not
// trusted: file timestamps come from a coarse clock, so a change in the
// same tick as the last look could leave them unchanged.
func racyWindow(s *workspace.Workspace) time.Duration {
	if s.StatusRacyWindow > 0 {
		return s.StatusRacyWindow
	}
	return time.Second
}
