package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
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

// OwnAll is Own without its shortcut: every entry is given again.
func OwnAll(dir string, uid, gid int) error {
	if os.Getuid() != 0 || uid == 0 {
		return nil
	}
	r, err := os.OpenRoot(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("give %s to the sandbox's user: %w", dir, err)
	}
	defer r.Close()
	err = fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone meanwhile (the sandbox works in it)
			}
			return err
		}
		if !d.IsDir() {
			// A file with another name elsewhere is not given away: a
			// sandbox that ran as root could have linked a host file in
			// (hard links cross no mount, but the state dir is on the
			// repository's file system).
			if fi, err := r.Lstat(p); err == nil {
				if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 && fi.Mode().IsRegular() {
					return nil
				}
			}
		}
		if err := r.Lchown(p, uid, gid); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("give %s to the sandbox's user: %w", dir, err)
	}
	return nil
}
