package toolchain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// A toolchain dir is shared by every loop, of any repository, whose tiers
// declare the same tools; so whether one is still used is told by its
// users: KEY.users/ beside it holds one file per loop that was given it,
// naming that loop's record (state's host-only meta.json). A loop uses
// the toolchain while its record exists and still names the dir.

// usersDir is the dir of a toolchain's users.
func usersDir(dir string) string { return dir + ".users" }

// AddUser records that the loop whose record is at owner uses the
// toolchain dir. It costs a stat when the user is known already (every
// exec calls it, so loops made before users were recorded are counted
// from their next use).
func AddUser(dir, owner string) error {
	users := usersDir(dir)
	f := filepath.Join(users, userName(owner))
	if _, err := os.Lstat(f); err == nil {
		return nil
	}
	if err := os.MkdirAll(users, 0o755); err != nil {
		return fmt.Errorf("toolchain: %w", err)
	}
	tmp, err := os.CreateTemp(users, ".tmp-")
	if err != nil {
		return fmt.Errorf("toolchain: %w", err)
	}
	_, err = io.WriteString(tmp, owner)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("toolchain: %w", err)
	}
	return nil
}

func addUser(dir, owner string) error {
	if owner == "" {
		return nil
	}
	return AddUser(dir, owner)
}

func userName(owner string) string {
	h := sha256.Sum256([]byte(owner))
	return hex.EncodeToString(h[:12])
}

// Collected is one toolchain Collect removed (or would remove).
type Collected struct {
	Dir   string `json:"dir"`
	Bytes int64  `json:"bytes"`
}

// Collect removes the toolchains in cache that no loop uses any more: each
// whose users all left (their records are gone, or name another
// toolchain), under its build lock, so a loop being given it meanwhile
// (Ensure) waits and then builds it again. A toolchain with no users dir
// was built before users were recorded: kept (its loops add themselves on
// their next exec). only, when set, limits it to that one dir (rm of a
// loop). dryRun removes nothing.
func Collect(cache, only string, dryRun bool) ([]Collected, error) {
	var dirs []string
	if only != "" {
		if filepath.Dir(only) != filepath.Clean(cache) {
			return nil, nil // not a toolchain of this cache
		}
		dirs = []string{only}
	} else {
		entries, err := os.ReadDir(cache)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("toolchain: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() && !strings.Contains(e.Name(), ".") {
				dirs = append(dirs, filepath.Join(cache, e.Name()))
			}
		}
	}
	var out []Collected
	for _, dir := range dirs {
		c, ok, err := collectOne(dir, dryRun)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func collectOne(dir string, dryRun bool) (Collected, bool, error) {
	if _, err := os.Lstat(usersDir(dir)); err != nil {
		return Collected{}, false, nil // no users recorded: kept
	}
	f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return Collected{}, false, fmt.Errorf("toolchain: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return Collected{}, false, nil // being built or given: in use
	}
	entries, _ := os.ReadDir(usersDir(dir))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		owner, err := os.ReadFile(filepath.Join(usersDir(dir), e.Name()))
		if err != nil {
			continue
		}
		if uses(string(owner), dir) {
			return Collected{}, false, nil
		}
	}
	c := Collected{Dir: dir, Bytes: size(dir)}
	if dryRun {
		return c, true, nil
	}
	// The record first: without it the dir is not found (read), so a
	// removal cut short leaves nothing a loop would mount half-gone.
	if err := os.Remove(dir + ".json"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return c, false, fmt.Errorf("toolchain: %w", err)
	}
	if err := removeAll(dir); err != nil {
		return c, false, fmt.Errorf("toolchain: remove %s: %w", dir, err)
	}
	if err := os.RemoveAll(usersDir(dir)); err != nil {
		return c, false, fmt.Errorf("toolchain: %w", err)
	}
	return c, true, nil
}

// maxRecord bounds a loop record read for its toolchain.
const maxRecord = 1 << 20

// uses reports whether the loop record at owner still names dir. The
// record is the host's (state's host-only part), read as JSON; a record
// that cannot be read counts as a user unless it is gone, so a
// toolchain is never removed under a loop on a doubt.
func uses(owner, dir string) bool {
	fh, err := os.Open(owner)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	defer fh.Close()
	var rec struct {
		Sandbox struct {
			Toolchain string `json:"toolchain"`
		} `json:"sandbox"`
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxRecord))
	if err != nil || json.Unmarshal(data, &rec) != nil {
		return true
	}
	return filepath.Clean(rec.Sandbox.Toolchain) == filepath.Clean(dir)
}

// size is the bytes of the regular files under dir.
func size(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// removeAll is os.RemoveAll that first makes the dirs writable: tools
// install read-only trees (Go's module cache), which an unprivileged
// user cannot empty otherwise.
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
