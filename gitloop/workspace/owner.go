package workspace

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// SandboxFallbackUID is the uid (and gid) a docker or bwrap sandbox runs
// as when git loop runs as root on a repository root owns: no login of
// the host's, and not 1000, which images and hosts often give a person.
const SandboxFallbackUID = 65532

// SandboxUser is who a loop's sandbox runs as. As a user, yourself. As
// root, never root: the repository's owner when that is a user, else
// SandboxFallbackUID. The files the sandbox works in are made its own
// first (Own); the host's stay root's, out of its reach.
func (s *Workspace) SandboxUser() (uid, gid int) {
	if os.Getuid() != 0 {
		return os.Getuid(), os.Getgid()
	}
	if fi, err := os.Stat(s.Repo.CommonDir); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			return int(st.Uid), int(st.Gid)
		}
	}
	return SandboxFallbackUID, SandboxFallbackUID
}

// SandboxUserSpec is SandboxUser as "uid:gid".
func (s *Workspace) SandboxUserSpec() string {
	uid, gid := s.SandboxUser()
	return strconv.Itoa(uid) + ":" + strconv.Itoa(gid)
}

// ParseUser reads a numeric "uid:gid" (ok false for anything else).
func ParseUser(spec string) (uid, gid int, ok bool) {
	u, g, found := strings.Cut(spec, ":")
	var err1, err2 error
	uid, err1 = strconv.Atoi(u)
	gid, err2 = strconv.Atoi(g)
	return uid, gid, found && err1 == nil && err2 == nil && uid >= 0 && gid >= 0
}

// Own gives dir and everything in it to uid:gid, when git loop runs as
// root and uid is not root's (as a user, a sandbox's files are yours
// already). It is a no-op for a missing dir, and cheap for one already
// given (its top is uid's: what the host adds later inside it, it gives
// with OwnAll). The walk is rooted at dir: a link the sandbox planted is
// changed itself, never followed, also when swapped mid-walk.
func Own(dir string, uid, gid int) error {
	if os.Getuid() != 0 || uid == 0 {
		return nil
	}
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && int(st.Gid) == gid {
		return nil
	}
	return OwnAll(dir, uid, gid)
}

// OwnAll is Own without its shortcut: every entry is given again (also
// one that is uid's already: a chown clears setuid bits).
func OwnAll(dir string, uid, gid int) error {
	if os.Getuid() != 0 || uid == 0 {
		return nil
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("give %s to the sandbox's user: %w", dir, &os.PathError{Op: "open", Path: dir, Err: err})
	}
	if err := ownTree(fd, ".", uid, gid); err != nil {
		return fmt.Errorf("give %s to the sandbox's user: %w", dir, err)
	}
	return nil
}

// ownTree gives the dir open at fd (closing it), what is in it and itself
// to uid:gid. Every step is relative to an open dir and a single name,
// opened with O_NOFOLLOW and changed with AT_SYMLINK_NOFOLLOW: a link the
// sandbox planted, or swapped in for a dir mid-walk, is changed itself,
// never followed. Some 3 syscalls an entry, against the 7 of a walk
// through an os.Root (which opens each parent of each path again).
func ownTree(fd int, path string, uid, gid int) error {
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return &os.PathError{Op: "readdir", Path: path, Err: err}
	}
	for _, d := range ents {
		name := d.Name()
		p := path + "/" + name
		if d.IsDir() {
			sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			switch {
			case err == nil:
				if err := ownTree(sub, p, uid, gid); err != nil {
					return err
				}
				continue
			case errors.Is(err, unix.ENOENT):
				continue // gone meanwhile (the sandbox works in it)
			case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
				// Swapped for a link or a file since it was listed: it
				// is given as what it is now, below.
			default:
				return &os.PathError{Op: "open", Path: p, Err: err}
			}
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		// A file with another name elsewhere is not given away: a
		// sandbox that ran as root could have linked a host file in
		// (hard links cross no mount, but the state dir is on the
		// repository's file system).
		if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink > 1 {
			continue
		}
		if err := unix.Fchownat(fd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.ENOENT) {
			return &os.PathError{Op: "lchown", Path: p, Err: err}
		}
	}
	// The dir itself, through its open fd: whatever its name is now.
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return &os.PathError{Op: "chown", Path: path, Err: err}
	}
	return nil
}
