package git

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// StatusArgs ask git status for what ParseStatus reads: every changed,
// staged and untracked entry, and what git ignores. "matching" lists a
// directory only when a pattern matches the directory itself: a directory
// that merely holds ignored files can still gain an untracked one, so it
// must be walked.
var StatusArgs = []string{"status", "--porcelain=v2", "-z", "--ignored=matching", "--ignore-submodules=none"}

// ParseStatus counts the changed, staged and untracked entries in the
// output of StatusArgs, exactly as git status reports them, and lists the
// ignored paths.
func ParseStatus(out []byte) (changes int, ignored []string) {
	for _, rec := range bytes.Split(out, []byte{0}) {
		if len(rec) < 3 || rec[1] != ' ' {
			continue
		}
		switch rec[0] {
		case '1', '2', 'u', '?':
			changes++
		case '!':
			ignored = append(ignored, string(rec[2:]))
		}
	}
	return changes, ignored
}

// DirtyEntry is the StatusCache shortcut's record of one worktree: the
// change count git status gave, and the fingerprint of everything it read
// then.
type DirtyEntry struct {
	Fingerprint string   `json:"fingerprint"`
	Changes     int      `json:"changes"`
	Paths       []string `json:"paths"`    // worktree-relative files and dirs to lstat
	Excludes    string   `json:"excludes"` // core.excludesFile as resolved
}

// Cached returns the change count of e if the worktree's fingerprint is
// still e's.
func (e *DirtyEntry) Cached(commonDir, wt string) (int, bool) {
	if e == nil {
		return 0, false
	}
	fp, _, ok := StatusFingerprint(commonDir, wt, e.Paths, e.Excludes, time.Time{}, 0)
	if !ok || fp != e.Fingerprint {
		return 0, false
	}
	return e.Changes, true
}

// NewDirtyEntry records changes and ignored (ParseStatus of a git status
// started at start) for the worktree wt, or returns nil when the
// fingerprint cannot be trusted: a timestamp in it is within window of
// start (git's racy-timestamp rule: a change in the same clock tick as
// the look would leave it unchanged), or the worktree cannot be read.
func NewDirtyEntry(commonDir, wt string, changes int, ignored []string, excludes string, start time.Time, window time.Duration) *DirtyEntry {
	paths, err := StatusPaths(wt, ignored)
	if err != nil {
		return nil
	}
	fp, racy, ok := StatusFingerprint(commonDir, wt, paths, excludes, start, window)
	if !ok || racy {
		return nil
	}
	return &DirtyEntry{Fingerprint: fp, Changes: changes, Paths: paths, Excludes: excludes}
}

// StatusPaths walks the worktree and lists every file and directory git
// status would look at: all but .git and what git ignores.
func StatusPaths(wt string, ignoredPaths []string) ([]string, error) {
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

// StatusFingerprint hashes the stat data of everything git status depends
// on: HEAD, the index file, config and exclude files, and the lstat of
// every non-ignored file and directory in the worktree (creating,
// deleting or renaming an entry changes its directory's mtime; editing a
// file changes its own). racy is true when a timestamp is not older than
// since minus window (then the fingerprint could miss a change made in the
// same clock tick).
func StatusFingerprint(commonDir, wt string, paths []string, excludes string, since time.Time, window time.Duration) (fp string, racy, ok bool) {
	h := sha256.New()
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
		add(filepath.Join(commonDir, ref), false)
		add(filepath.Join(commonDir, "packed-refs"), false)
	}
	fmt.Fprintf(h, "env %s\n", os.Getenv("GIT_CONFIG_PARAMETERS"))
	for _, p := range []string{
		filepath.Join(admin, "index"),
		filepath.Join(admin, "config.worktree"),
		filepath.Join(commonDir, "config"),
		filepath.Join(commonDir, "info", "exclude"),
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
