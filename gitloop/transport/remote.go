package transport

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// A remote loop (state.PlacementRemote) keeps its clone, $HOME and agent
// dir on its engine, which cannot see this host: the clone is seeded by a
// push (SeedByPush), files go in as tar streams on an exec's stdin
// (PutDir), and transcripts come out the same way, read as data
// (GetFiles).

// SeedRemote makes a remote loop's clone inside its sandbox, on m.Branch
// at sha, by a push over gitloop::. t is the loop's target (new has no
// record to read it from yet).
func SeedRemote(ctx context.Context, s *workspace.Workspace, m *state.Meta, t Target, sha string) error {
	return SeedByPush(ctx, s.Git, s.Repo.CommonDir, m.Name, t, m.Branch, sha, nil)
}

// putScript unpacks a tar stream from stdin into $1 inside the sandbox,
// as the sandbox's user (no owner taken from the stream).
const putScript = `mkdir -p "$1" && exec tar -x -f - -C "$1" --no-same-owner`

// PutDir streams the regular files and dirs under the host dir src into
// dst in the sandbox (made when missing), over one exec's stdin. Links
// and special files are left out: the sandbox gets content, never a
// pointer. A missing src puts nothing.
func PutDir(ctx context.Context, t Target, src, dst string) error {
	if _, err := os.Lstat(src); err != nil {
		return nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, src)) }()
	defer pr.Close()
	var errb bytes.Buffer
	code, err := t.Engine.Exec(ctx, t.Spec, sandbox.Exec{
		Cmd: []string{"sh", "-c", putScript, "sh", dst}, Dir: "/", Offline: true, Stdin: pr, Stderr: &errb,
	})
	if err != nil {
		return fmt.Errorf("copy %s into the sandbox: %w", src, err)
	}
	if code != 0 {
		if code == 127 {
			return fmt.Errorf("copy %s into the sandbox: the image has no tar: %s (add tar to sandbox.image)", src, strings.TrimSpace(errb.String()))
		}
		return fmt.Errorf("copy %s into the sandbox: exit %d: %s", src, code, strings.TrimSpace(errb.String()))
	}
	return nil
}

// writeTar writes the tree under src, regular files and dirs only, never
// following a link.
func writeTar(w io.Writer, src string) error {
	root, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer root.Close()
	tw := tar.NewWriter(w)
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime()})
		case fi.Mode().IsRegular():
			f, err := root.OpenFile(p, os.O_RDONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			// The size read from the open file: what is written is what
			// was opened.
			st, err := f.Stat()
			if err != nil || !st.Mode().IsRegular() {
				return err
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: int64(st.Mode().Perm()), Size: st.Size(), ModTime: st.ModTime()}); err != nil {
				return err
			}
			_, err = io.CopyN(tw, f, st.Size())
			return err
		}
		return nil // a link or a special file: left out
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// StagingDir is a host-only scratch dir of a remote loop (its
// .worktreeinclude copies before they are streamed in).
func StagingDir(s *workspace.Workspace, name string) string {
	return filepath.Join(filepath.Dir(ClonePath(s, name)), "staging")
}
