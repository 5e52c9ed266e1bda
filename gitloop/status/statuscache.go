package status

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
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
	// plain: the git.StatusCache shortcut is off; git status answers.
	plain bool
}

type abEntry struct {
	Head   string `json:"head"`
	Base   string `json:"base"`
	Ahead  int    `json:"ahead"`
	Behind int    `json:"behind"`
}

// dirtyEntry is the git.StatusCache shortcut's record.
type dirtyEntry = git.DirtyEntry

func statusCachePath(s *workspace.Workspace, name string) string {
	return filepath.Join(s.Store().HostDir(name), "status-cache.json")
}

func readStatusCache(s *workspace.Workspace, name string) *statusCache {
	c := &statusCache{plain: !s.Shortcuts().Use(git.StatusCache)}
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
	if c.plain {
		return 0, false
	}
	return c.Dirty.Cached(repo.CommonDir, wt)
}

// refreshDirty counts changes with git and stores a new fingerprint when
// it is safe to.
func refreshDirty(ctx context.Context, s *workspace.Workspace, c *statusCache, wt string) (int, error) {
	start := time.Now()
	changes, ignored, err := countChanges(ctx, s, wt)
	if err != nil {
		return 0, err
	}
	if c.plain {
		// The record is left as it is: the shortcut checks it again
		// before it trusts it, should it be turned back on.
		return changes, nil
	}
	c.Dirty, c.dirty = git.NewDirtyEntry(s.Repo.CommonDir, wt, changes, ignored, s.ExcludesFile(ctx), start, racyWindow(s)), true
	return changes, nil
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
