package vault

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// MinSecretLen is the shortest value checked for leaks: shorter ones
// ("1", "true", a port) occur everywhere by chance, and refusing on them
// would refuse every push.
const MinSecretLen = 8

// maxMountScan bounds how much of a mount file is read for key lines.
const maxMountScan = 1 << 20

// Secret is one value a leak scan looks for. Name says where it comes
// from ("VAULT/VAR", or "VAULT/mounts/home/ENTRY" for a line of a private
// key file); Value never leaves the process.
type Secret struct {
	Name  string
	Value []byte
}

// Secrets returns the values of every vault of the repo, for a leak scan:
// each variable's value (surrounding white space trimmed, as a shell
// strips it), and each base64 line of a PEM private key among the mounts
// (a key is pasted line by line as often as whole). Values shorter than
// MinSecretLen are left out. It needs the repo unlocked when it holds any
// vault (LockedError otherwise); a repo without vaults gives none.
func (r *Repo) Secrets(ctx context.Context) ([]Secret, error) {
	if _, err := os.Stat(filepath.Join(r.Dir, Dir)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	files, err := r.tracked(ctx, Dir)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	if err := r.requireUnlocked(); err != nil {
		return nil, err
	}
	var out []Secret
	for _, f := range files {
		parts := strings.SplitN(f, "/", 4)
		if len(parts) < 4 || ValidName(parts[1]) != nil {
			continue
		}
		name, kind, rest := parts[1], parts[2], parts[3]
		switch {
		case kind == "envs" && ValidVar(rest) == nil:
			val, err := r.Get(ctx, name, rest)
			if err != nil {
				return nil, err
			}
			if v := bytes.TrimSpace(val); len(v) >= MinSecretLen {
				out = append(out, Secret{Name: name + "/" + rest, Value: v})
			}
		case kind == "mounts" && strings.HasPrefix(rest, "home/"):
			lines, err := r.keyLines(filepath.Join(r.Dir, filepath.FromSlash(f)))
			if err != nil {
				return nil, err
			}
			for _, l := range lines {
				out = append(out, Secret{Name: path.Join(name, kind, rest), Value: l})
			}
		}
	}
	return out, nil
}

// keyLines are the body lines of the PEM blocks in a mount file: the
// private key itself, base64, each long enough to be unmistakable.
func (r *Repo) keyLines(p string) ([][]byte, error) {
	if err := r.inside(p); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, nil // a symlink or a dir: Mounts refuses those
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMountScan))
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(data, []byte(Header)) {
		return nil, &LockedError{Repo: r.Dir}
	}
	var out [][]byte
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := bytes.TrimSpace(sc.Bytes())
		switch {
		case bytes.HasPrefix(l, []byte("-----BEGIN ")):
			in = true
		case bytes.HasPrefix(l, []byte("-----END ")):
			in = false
		case in && len(l) >= 16 && !bytes.ContainsRune(l, ':'):
			out = append(out, bytes.Clone(l))
		}
	}
	return out, nil
}
