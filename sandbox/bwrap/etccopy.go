package bwrap

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Each bind costs bwrap a mount and a walk of the mount table (~0.15 ms
// of CPU on a 2-core VM): the ~40 binds of etcMounts were half of what a
// short exec (a fetch's upload-pack) costs. So the allow-listed /etc is
// copied once per content into a dir of git loop's cache and bound
// read-only as /etc in one mount: the same entries (what everyone may
// read of etcAllow), copies instead of binds. The copy is named after a
// digest of what it holds (paths, modes, sizes, modification times,
// link targets), taken on the host's /etc once per process, so a change
// on the host gives a new copy from the next command on, as a new file
// did with the binds. Anything that goes wrong falls back to the binds.

// etcCopyVersion changes the copies' names when what goes in them does.
const etcCopyVersion = "1"

// etcEntry is one thing of the sandbox's /etc: a dir, a regular file or
// a symlink, at rel (slash-separated, relative to etc).
type etcEntry struct {
	rel    string
	mode   os.FileMode
	size   int64
	mtime  int64
	target string // a symlink's
}

// etcPlan is what etcEntries found: the entries, and the binds of
// top-level symlinks' targets out of the dirs the sandbox sees
// (resolv.conf under systemd-resolved).
type etcPlan struct {
	entries []etcEntry
	extra   []string
}

// etcEntries lists what etcMounts would show of etc, as entries.
func etcEntries(etc string) etcPlan {
	var p etcPlan
	seen := map[string]bool{}
	add := func(path string, fi os.FileInfo, target string) {
		rel, err := filepath.Rel(etc, path)
		if err != nil || seen[rel] {
			return
		}
		// The parents of a nested entry (ssh/ssh_config): dirs of the
		// copy, as etcMounts makes them.
		for d := filepath.Dir(rel); d != "." && !seen[d]; d = filepath.Dir(d) {
			seen[d] = true
			p.entries = append(p.entries, etcEntry{rel: d, mode: os.ModeDir | 0o755})
		}
		seen[rel] = true
		e := etcEntry{rel: rel, mode: fi.Mode(), target: target}
		if fi.Mode().IsRegular() {
			e.size, e.mtime = fi.Size(), fi.ModTime().UnixNano()
		}
		p.entries = append(p.entries, e)
	}
	for _, pat := range etcAllow {
		matches, _ := filepath.Glob(filepath.Join(etc, pat))
		for _, m := range matches {
			fi, err := os.Lstat(m)
			if err != nil {
				continue
			}
			if fi.Mode()&os.ModeSymlink != 0 {
				target, err := os.Readlink(m)
				if err != nil {
					continue
				}
				add(m, fi, target)
				if link := etcSymlink(m); len(link) > 3 {
					p.extra = append(p.extra, link[3:]...)
				}
				continue
			}
			if !worldReadable(fi) {
				continue
			}
			if !fi.IsDir() {
				if fi.Mode().IsRegular() {
					add(m, fi, "")
				}
				continue
			}
			_ = filepath.WalkDir(m, func(path string, d os.DirEntry, err error) error {
				if err != nil {
					return nil
				}
				fi, err := d.Info()
				if err != nil {
					return nil
				}
				switch {
				case fi.Mode()&os.ModeSymlink != 0:
					if target, err := os.Readlink(path); err == nil {
						add(path, fi, target)
					}
				case !worldReadable(fi):
					// Left out, as etcMounts masks it.
					if fi.IsDir() {
						return filepath.SkipDir
					}
				case fi.IsDir(), fi.Mode().IsRegular():
					add(path, fi, "")
				}
				return nil
			})
		}
	}
	sort.Slice(p.entries, func(i, j int) bool { return p.entries[i].rel < p.entries[j].rel })
	return p
}

// digest names a copy of entries.
func (p etcPlan) digest() string {
	h := sha256.New()
	fmt.Fprintf(h, "v%s\n", etcCopyVersion)
	for _, e := range p.entries {
		fmt.Fprintf(h, "%q %o %d %d %q\n", e.rel, uint32(e.mode), e.size, e.mtime, e.target)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// etcCopy returns the dir under base holding the copy of etc's plan,
// making it when missing. base must be this user's and writable by no
// one else (a planted dir is not trusted).
func etcCopy(etc, base string, p etcPlan) (string, error) {
	dir := filepath.Join(base, "etc-"+p.digest())
	if fi, err := os.Lstat(dir); err == nil && fi.IsDir() && owned(fi) {
		if time.Since(fi.ModTime()) > etcCopyTouch {
			// Its time says when a sandbox last took it (dropOldEtcCopies).
			_ = os.Chtimes(dir, time.Time{}, time.Now())
		}
		return dir, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	if fi, err := os.Lstat(base); err != nil || !fi.IsDir() || !owned(fi) || fi.Mode().Perm()&0o022 != 0 {
		return "", fmt.Errorf("etc copy: %s is not this user's own dir", base)
	}
	tmp, err := os.MkdirTemp(base, ".etc-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // once renamed, there is nothing left to remove
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	for _, e := range p.entries {
		src, dst := filepath.Join(etc, e.rel), filepath.Join(tmp, e.rel)
		switch {
		case e.mode&os.ModeSymlink != 0:
			err = os.Symlink(e.target, dst)
		case e.mode.IsDir():
			err = os.Mkdir(dst, 0o755)
		default:
			err = copyFile(src, dst, e.mode.Perm())
		}
		if err != nil {
			return "", fmt.Errorf("etc copy: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Made meanwhile by another process: theirs is as good.
		if fi, err2 := os.Lstat(dir); err2 == nil && fi.IsDir() && owned(fi) {
			return dir, nil
		}
		return "", err
	}
	dropOldEtcCopies(base, dir)
	return dir, nil
}

// A copy no sandbox has taken for etcCopyAge is removed when a new one is
// made (every change of the host's /etc makes one, so they would pile up).
// Not sooner: a sandbox that took a copy (a session, which may run for
// days) sees its files until it ends, and removing them would empty its
// /etc. A copy's time is renewed when it is taken, at most every
// etcCopyTouch.
const (
	etcCopyAge   = 30 * 24 * time.Hour
	etcCopyTouch = time.Hour
)

// dropOldEtcCopies removes base's copies but keep that no sandbox took
// for etcCopyAge.
func dropOldEtcCopies(base, keep string) {
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range ents {
		path := filepath.Join(base, e.Name())
		if !strings.HasPrefix(e.Name(), "etc-") || !e.IsDir() || path == keep {
			continue
		}
		if fi, err := e.Info(); err == nil && owned(fi) && time.Since(fi.ModTime()) > etcCopyAge {
			_ = os.RemoveAll(path)
		}
	}
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The umask may have taken bits the sandbox's user needs.
		err = os.Chmod(dst, perm)
	}
	return err
}

func owned(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

// etcCopyBase is where the copies go: this user's cache dir (kept out of
// the host's temp dir, which cleaners empty file by file).
func etcCopyBase() string {
	cache, err := os.UserCacheDir()
	if err != nil || !filepath.IsAbs(cache) {
		return ""
	}
	return filepath.Join(cache, "git-loop", "bwrap")
}

// hostEtcCopy is the host's /etc plan and its copy ("" when it could not
// be made), once per process.
var hostEtcCopy = sync.OnceValues(func() (etcPlan, string) {
	p := etcEntries("/etc")
	base := etcCopyBase()
	if base == "" {
		return p, ""
	}
	dir, err := etcCopy("/etc", base, p)
	if err != nil {
		return p, ""
	}
	return p, dir
})

// hostEtcBinds is etcMounts of the host's /etc, walked once per process.
var hostEtcBinds = sync.OnceValue(func() []string { return etcMounts("/etc") })

// hostEtc is the sandbox's /etc: the copy in one read-only bind, or, when
// there is none (or it was removed since), etcMounts' binds. A command
// that runs an exec and then fetches from it (every exec of a sealed
// loop) walks /etc once, not twice.
func hostEtc() []string {
	p, dir := hostEtcCopy()
	if dir != "" {
		if fi, err := os.Lstat(dir); err == nil && fi.IsDir() {
			return append([]string{"--ro-bind", dir, "/etc"}, p.extra...)
		}
	}
	return hostEtcBinds()
}

// etcCopyArgs is hostEtc's shape for an etc dir and a cache base (tests).
func etcCopyArgs(etc, base string) ([]string, error) {
	p := etcEntries(etc)
	dir, err := etcCopy(etc, base, p)
	if err != nil {
		return nil, err
	}
	return append([]string{"--ro-bind", dir, strings.TrimSuffix(etc, "/")}, p.extra...), nil
}
