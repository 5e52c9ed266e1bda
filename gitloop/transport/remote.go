package transport

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

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
// at sha, by a push over gitloop::, with puts (host dir → dir inside:
// its .worktreeinclude copies, $HOME, agent dir) streamed in ahead of
// the push on the same exec's stdin. That one exec makes the empty
// repository, unpacks the files, looks for prog (the agent program, ""
// for none) on the sandbox's PATH, receives the push and checks the
// branch out: one round trip to the engine after the container's start,
// as a plain push over ext:: takes, and no helper process (the push is
// served from this process over git's fd::, as PushIn's is). t is the
// loop's target (new has no record to read it from yet). found is false
// when prog is not there.
func SeedRemote(ctx context.Context, s *workspace.Workspace, m *state.Meta, t Target, sha string, puts [][2]string, prog string) (found bool, err error) {
	if !workspace.IsSHA(sha) || !strings.HasPrefix(m.Branch, "refs/heads/") {
		return false, fmt.Errorf("seed %s: %q at %q is not a branch at a commit", m.Name, m.Branch, sha)
	}
	short := strings.TrimPrefix(m.Branch, "refs/heads/")
	// The tar stream is measured first, so that the script reads exactly
	// its bytes (head -c) and receive-pack the rest.
	var tarBuf bytes.Buffer
	if err := writeTars(&tarBuf, puts); err != nil {
		return false, fmt.Errorf("seed %s: %w", m.Name, err)
	}
	var errb bytes.Buffer
	at := t
	at.Dir = "/" // the clone's dir is made by the script
	x := directExtra{
		cmd:    []string{"sh", "-c", seedScript, "sh", t.Dir, short, seedRef, prog, strconv.Itoa(tarBuf.Len())},
		prefix: &tarBuf,
		stderr: &errb,
	}
	if err := pushSeedWith(ctx, s, m.Name, at, short, sha, x); err != nil {
		if strings.Contains(err.Error(), "exited 127") || strings.Contains(errb.String(), "not found") {
			err = fmt.Errorf("%w (the image needs sh, git, head and tar)", err)
		}
		return false, err
	}
	return prog == "" || !strings.Contains(errb.String(), seedMissing), nil
}

// seedMissing is what seedScript says on stderr when the agent program
// is not on the sandbox's PATH (stdout is git's protocol).
const seedMissing = "gitloop-seed: agent program missing"

// seedScript makes the empty repository at $1 on branch $2, unpacks the
// $5 bytes of tar stream that come first on stdin at / as the sandbox's
// user, says seedMissing when the program $4 is not on PATH, then
// receives the push (the rest of stdin) and checks $2 out at the side
// ref $3, which goes.
const seedScript = `mkdir -p "$1" && cd "$1" && { test -e .git || git init -q .; } && git symbolic-ref HEAD "refs/heads/$2" &&
head -c "$5" | tar -x -f - -C / --no-same-owner || exit 1
if [ -n "$4" ] && ! command -v "$4" >/dev/null 2>&1; then echo "` + seedMissing + `" >&2; fi
git -c receive.autogc=false receive-pack "$1" && git checkout -q -f -B "$2" "$3" && git update-ref -d "$3"`

// writeTars writes each host dir of puts under its dir inside (a path
// from /) into one tar stream, as writeTar does.
func writeTars(w io.Writer, puts [][2]string) error {
	tw := tar.NewWriter(w)
	for _, p := range puts {
		if _, err := os.Lstat(p[0]); err != nil {
			continue
		}
		if err := addTree(tw, p[0], strings.TrimPrefix(filepath.Clean(p[1]), "/")); err != nil {
			return err
		}
	}
	return tw.Close()
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
		Cmd: []string{"sh", "-c", putScript, "sh", dst}, Dir: "/", Offline: true, Stdin: pr, Stderr: &visible{w: &errb, left: 16 << 10},
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
	tw := tar.NewWriter(w)
	if err := addTree(tw, src, ""); err != nil {
		return err
	}
	return tw.Close()
}

// addTree adds the regular files and dirs under src to tw, named under
// prefix ("" for none), never following a link.
func addTree(tw *tar.Writer, src, prefix string) error {
	root, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// The root itself is not in the stream: inside, it is a mount
		// point (a claim's sub-path the kubelet made as root, a volume)
		// that the sandbox's user may write in but not chmod or utime,
		// which tar would try, and fail on.
		if p == "." {
			return nil
		}
		name := p
		if prefix != "" {
			name = path.Join(prefix, p)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime()})
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
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(st.Mode().Perm()), Size: st.Size(), ModTime: st.ModTime()}); err != nil {
				return err
			}
			_, err = io.CopyN(tw, f, st.Size())
			return err
		}
		return nil // a link or a special file: left out
	})
}

// StagingDir is a host-only scratch dir of a remote loop (its
// .worktreeinclude copies before they are streamed in).
func StagingDir(s *workspace.Workspace, name string) string {
	return filepath.Join(filepath.Dir(ClonePath(s, name)), "staging")
}

// TranscriptDirs are the dirs of a loop's agent dir where the agents keep
// their sessions (Claude's projects/, Codex's sessions/): what GetDirs
// brings out of a remote loop for log and the web viewer.
var TranscriptDirs = []string{"projects", "sessions"}

// MaxTranscriptBytes caps what one GetDirs reads from a sandbox.
const MaxTranscriptBytes = 64 << 20

// getScript writes a tar of the named dirs under $1 (those that are
// dirs, not links) to stdout; nothing when there are none.
const getScript = `cd "$1" 2>/dev/null || exit 0
shift
n=$#
for d; do if [ -d "$d" ] && [ ! -L "$d" ]; then set -- "$@" "$d"; fi; done
shift $n
[ $# -gt 0 ] || exit 0
exec tar -c -f - -- "$@"`

// GetDirs copies the named dirs under src in the sandbox into the host
// dir dst, by a tar stream on one exec's stdout, read as hostile data:
// at most max bytes of it; only dirs and regular files, each under one
// of the named dirs, by a name with no ".." and no leading "/", written
// through an os.Root at dst so no link (of the stream's or dst's) is
// followed; links, devices and the rest are skipped. dst must be a dir
// the sandbox cannot write (a remote loop's host agent dir).
//
// The stream's tar is the sandbox's (its image, a dir first on its PATH
// it can write): it gets the transport's timeout (LimitsFromEnv), and
// the exec is ended as soon as the stream is read or refused, so a tar
// that never ends or never speaks holds no host command.
func GetDirs(ctx context.Context, t Target, src string, dirs []string, dst string, max int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if lim := LimitsFromEnv(); lim.Timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, lim.Timeout)
		defer stop()
	}
	pr, pw := io.Pipe()
	// The sandbox's stderr goes into the error: bounded, and no control
	// character reaches the user's terminal.
	var errb bytes.Buffer
	done := make(chan error, 1)
	go func() {
		code, err := t.Engine.Exec(ctx, t.Spec, sandbox.Exec{
			Cmd: append([]string{"sh", "-c", getScript, "sh", src}, dirs...), Dir: "/", Offline: true, Stdout: pw, Stderr: &visible{w: &errb, left: 16 << 10},
		})
		if err == nil && code != 0 {
			err = fmt.Errorf("exit %d: %s", code, strings.TrimSpace(errb.String()))
		}
		pw.CloseWithError(err)
		done <- err
	}()
	err := readTar(io.LimitReader(pr, max+1), dst, dirs, max)
	// Whatever is left is not read: the exec ends.
	_ = pr.CloseWithError(errStop)
	var eerr error
	if err != nil {
		cancel()
		eerr = <-done
	} else {
		// The stream is whole. A tar that then stays, holding its stdout
		// and saying nothing, has nothing more to give: it gets a moment
		// to exit (its status still counts), not the whole timeout.
		select {
		case eerr = <-done:
		case <-time.After(tarExitGrace):
			cancel()
			<-done
			return nil
		}
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("copy %s out of the sandbox: no end after %s", src, LimitsFromEnv().Timeout)
	}
	if err == nil && eerr != nil && !errors.Is(eerr, errStop) {
		err = eerr
	}
	if err != nil {
		return fmt.Errorf("copy %s out of the sandbox: %w", src, err)
	}
	return nil
}

var errStop = errors.New("read stopped")

// tarExitGrace is how long GetDirs waits for the sandbox's tar to exit
// once its stream has ended; a real tar exits at once, and a remote
// engine reports it within a round trip.
const tarExitGrace = 5 * time.Second

// readTar unpacks r into dst as GetDirs says.
func readTar(r io.Reader, dst string, dirs []string, max int64) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	cr := &countReader{r: r}
	tr := tar.NewReader(cr)
	// written bounds what lands on the host's disk, which the stream's
	// length does not: a sparse entry (PAX's GNU.sparse.*, which the
	// reader expands) is a few bytes of stream for any size of holes.
	var written int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if cr.n > max {
				return fmt.Errorf("more than %d bytes", max)
			}
			return err
		}
		name, ok := tarName(h.Name, dirs)
		if !ok {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if d := filepath.Dir(name); d != "." {
				if err := root.MkdirAll(d, 0o700); err != nil {
					return err
				}
			}
			// Written aside, then renamed over: a reader of the old file
			// (log, the viewer) never sees half of it.
			tmp := name + ".gitloop-tmp"
			f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
			if err != nil {
				return err
			}
			// h.Size is the file's size once unpacked (holes included).
			over := h.Size > max-written
			var n int64
			if !over {
				n, err = io.CopyN(f, tr, max-written+1)
				if err == io.EOF {
					err = nil
				}
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if written += n; err == nil && (over || cr.n > max || written > max) {
				err = fmt.Errorf("more than %d bytes", max)
			}
			if err == nil {
				err = root.Rename(tmp, name)
			}
			if err != nil {
				_ = root.Remove(tmp)
				return err
			}
		}
	}
}

// tarName is a stream's entry name made relative and clean, when it is
// under one of dirs.
func tarName(n string, dirs []string) (string, bool) {
	n = strings.TrimPrefix(n, "./")
	if n == "" || strings.HasPrefix(n, "/") || filepath.IsAbs(n) {
		return "", false
	}
	c := filepath.Clean(n)
	for _, part := range strings.Split(c, string(filepath.Separator)) {
		if part == ".." || part == "" {
			return "", false
		}
	}
	top, _, _ := strings.Cut(c, string(filepath.Separator))
	for _, d := range dirs {
		if top == d {
			return c, true
		}
	}
	return "", false
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// PullTranscripts brings a remote loop's agent sessions to its host agent
// dir (host-only for a remote loop), where log and the web viewer read
// them as any loop's.
func PullTranscripts(ctx context.Context, s *workspace.Workspace, m *state.Meta) error {
	t, err := LoopTarget(ctx, s, m.Name)
	if err != nil {
		return err
	}
	dir := s.AgentDir(m.Name)
	return GetDirs(ctx, t, dir, TranscriptDirs, dir, MaxTranscriptBytes)
}
