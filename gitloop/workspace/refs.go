package workspace

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// readRef resolves a full ref name to a sha by reading the files-backend
// ref store directly: a loose ref file, else packed-refs. ok is false when
// that cannot be answered without git (another ref backend, a symbolic
// ref, anything unexpected); found is false when the ref does not exist.
// It saves a git process on the hot path of "git loop new".
func ReadRef(commonDir, ref string) (sha string, found, ok bool) {
	if _, err := os.Stat(filepath.Join(commonDir, "reftable")); err == nil {
		return "", false, false
	}
	if !strings.HasPrefix(ref, "refs/") || strings.Contains(ref, "..") {
		return "", false, false
	}
	data, err := os.ReadFile(filepath.Join(commonDir, filepath.FromSlash(ref)))
	if err == nil {
		s := strings.TrimSpace(string(data))
		if !IsSHA(s) {
			return "", false, false // symbolic or odd: let git decide
		}
		return s, true, true
	}
	if !os.IsNotExist(err) {
		return "", false, false
	}
	f, err := os.Open(filepath.Join(commonDir, "packed-refs"))
	if os.IsNotExist(err) {
		return "", false, true
	}
	if err != nil {
		return "", false, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	suffix := []byte(" " + ref)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) > 0 && (line[0] == '#' || line[0] == '^') {
			continue
		}
		if bytes.HasSuffix(line, suffix) {
			s := string(line[:len(line)-len(suffix)])
			if !IsSHA(s) {
				return "", false, false
			}
			return s, true, true
		}
	}
	if sc.Err() != nil {
		return "", false, false
	}
	return "", false, true
}

// readHead returns what a worktree's HEAD names: the branch ref (empty
// when detached) and the commit.
func ReadHead(gitDir, commonDir string) (ref, sha string, ok bool) {
	data, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return "", "", false
	}
	s := strings.TrimSpace(string(data))
	if target, isSym := strings.CutPrefix(s, "ref: "); isSym {
		sha, found, ok := ReadRef(commonDir, target)
		if !ok || !found {
			return "", "", false // unborn branch or unreadable: ask git
		}
		return target, sha, true
	}
	if IsSHA(s) {
		return "", s, true
	}
	return "", "", false
}

func IsSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ReadRefFileUnder reads a loose ref file a sandbox can write as data:
// rel is opened under an os.Root on root (a directory the sandbox cannot
// replace), so no link anywhere below root leads out of it; only a
// regular file is read (a FIFO cannot hang the open), at most 128 bytes,
// and only one object name is an answer. ok is false when the file
// cannot say (packed, absent, anything else): the caller then asks by a
// fetch, never by running git there.
func ReadRefFileUnder(root, rel string) (sha string, ok bool) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", false
	}
	defer r.Close()
	f, err := r.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	b, err := io.ReadAll(io.LimitReader(f, 128))
	if err != nil {
		return "", false
	}
	sha = strings.TrimSpace(string(b))
	return sha, IsSHA(sha)
}
