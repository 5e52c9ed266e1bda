package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// A sealed loop's exec used to be followed by a fetch back: a second exec
// (upload-pack after the snapshot), which doubled "git loop exec" on
// docker. Now the exec's own session records the snapshot once the
// command ends (WrapExec), and the host reads the clone's branch and
// snapshot refs as data (rooted, no links, bounded, a sha or nothing) and
// fetches only when either moved since its last fetch. What it reads is
// never trusted beyond that comparison: a sandbox that lies about its refs
// only skips a fetch it could have made empty anyway, and every fetch
// point that decides something (diff, status, promote, sync, rm) fetches
// through the quarantine as before.

// missingMarker is the file, in the clone's git dir, where the exec
// wrapper says the command's program was not there (127) or could not be
// executed (126): the command never ran, and the caller reports it as the
// engine would have (sandbox.ProgramError). Read only after an exit code
// of 126 or 127; what it can change is the wording of that error.
const missingMarker = "gitloop-exec-missing"

// execWrapScript runs a command in a sealed loop's sandbox and then, in
// the same session, records the snapshot of uncommitted work in the clone
// ($1). The command keeps the exec's stdin, stdout, stderr, terminal,
// working dir and environment; the snapshot gets none of them, and the
// shell's own reports (a child's "Terminated") go nowhere. The shell
// waits through the terminal's INT and QUIT (its child, reset to the
// default on exec, gets them as before) and exits with the command's
// status (128+N when a signal ended it, as the engines report it).
//
// A program that is not there is reported as the unwrapped exec would
// have it ($2, MissingMode): the command never runs and the marker says
// so to the host. (g is on the first line: the shell's report names the
// line, and bwrap's network gate says "sh: 1: exec: …".)
const execWrapScript = `g() { exec "$@" 2>&9 9>&-; }
` + snapshotFunc + `
d=$1 mode=$2; shift 2
exec 9>&2 2>/dev/null
mk="$d/.git/` + missingMarker + `"
[ -e "$mk" ] && rm -f "$mk"
m=
case $1 in
*/*) if [ ! -e "$1" ]; then m=127; elif [ -d "$1" ] || [ ! -x "$1" ]; then m=126; fi ;;
*) command -v -- "$1" >/dev/null || m=127 ;;
esac
if [ -n "$m" ]; then
  echo "$m" >"$mk"
  case $mode in
  exec) g "$@" ;;
  execvp) r="No such file or directory"; [ "$m" = 126 ] && r="Permission denied"
    printf 'bwrap: execvp %s: %s\n' "$1" "$r" >&9 ;;
  esac
  exit "$m"
fi
trap : INT QUIT
(exec "$@" 2>&9 9>&-)
rc=$?
cd "$d" && snapshot </dev/null >/dev/null
exit "$rc"`

// MissingMode says how the exec wrapper reports a program that is not
// there, as the engine would for the command run bare.
type MissingMode string

const (
	// MissingQuiet prints nothing (docker: the engine's own error).
	MissingQuiet MissingMode = "quiet"
	// MissingExec lets the shell say it, as bwrap's network gate does.
	MissingExec MissingMode = "exec"
	// MissingExecvp prints bwrap's own execvp report.
	MissingExecvp MissingMode = "execvp"
)

// WrapExec is cmd as a sealed loop's exec runs it: through the wrapper
// that records the snapshot of the clone at dir (the loop's worktree
// path inside) when the command ends.
func WrapExec(dir string, mode MissingMode, cmd []string) []string {
	return append([]string{"/bin/sh", "-c", execWrapScript, "sh", dir, string(mode)}, cmd...)
}

// ExecMissing says whether the exec wrapper found the command's program
// missing (127) or not executable (126), read as data from the clone.
func ExecMissing(s *workspace.Workspace, m *state.Meta, code int) bool {
	if code != 126 && code != 127 {
		return false
	}
	clone := ClonePath(s, m.Name)
	b, ok := readSmallUnder(filepath.Dir(clone), filepath.Join(filepath.Base(clone), ".git", missingMarker))
	return ok && strings.TrimSpace(b) == strconv.Itoa(code)
}

// readSmallUnder reads a short regular file under root, never through a
// link, bounded.
func readSmallUnder(root, rel string) (string, bool) {
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
	b, err := io.ReadAll(io.LimitReader(f, 64))
	return string(b), err == nil
}

// noSnapshot stands, in the seen record, for a clone with no snapshot
// ref (nothing uncommitted).
const noSnapshot = "none"

// readCloneSnapshot reads the clone's snapshot ref as data: its sha,
// noSnapshot when there is none, ok false when it cannot tell (a link,
// a packed ref, anything but a sha).
func readCloneSnapshot(s *workspace.Workspace, name string) (string, bool) {
	clone := ClonePath(s, name)
	root, base := filepath.Dir(clone), filepath.Base(clone)
	rel := filepath.Join(base, ".git", filepath.FromSlash(SnapshotRef))
	if sha, ok := workspace.ReadRefFileUnder(root, rel); ok {
		return sha, true
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", false
	}
	defer r.Close()
	// Absent only when neither the loose ref nor a packed-refs file (which
	// could hold it) is there.
	for _, p := range []string{rel, filepath.Join(base, ".git", "packed-refs")} {
		if _, err := r.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			return "", false
		}
	}
	return noSnapshot, true
}

// Current reports whether the host already holds what a sealed loop's
// clone has: its branch and its snapshot read as data, both the same as
// at the last fetch. False when it cannot tell.
func Current(s *workspace.Workspace, m *state.Meta) bool {
	branch, ok := ReadCloneRef(s, m)
	if !ok {
		return false
	}
	snap, ok := readCloneSnapshot(s, m.Name)
	if !ok {
		return false
	}
	seenBranch, seenSnap := readSeen(s, m.Name)
	return seenBranch == branch && seenSnap == snap
}

// AfterExec brings a sealed loop's work to the host after a wrapped exec
// (WrapExec): nothing when the clone's refs did not move since the last
// fetch, else a fetch through the quarantine. wrapped says the wrapper
// ran to its end (the exec returned its code): then the snapshot it made
// is fetched as it is, without making another.
func AfterExec(ctx context.Context, s *workspace.Workspace, m *state.Meta, wrapped bool) error {
	if Current(s, m) {
		return nil
	}
	_, err := refresh(ctx, s, m, nil, !wrapped)
	return err
}

// Pre is a script run inside a sealed loop's sandbox, in its clone, in
// the same exec as a fetch's snapshot and upload-pack, ahead of them: a
// merge inside and the fetch of its result in one exec (sync) instead of
// two. It writes what it has to say for the host (conflicted files,
// NUL-separated) on fd 3, its chatter on stdout or stderr; a non-zero
// exit stops it there, with nothing fetched.
type Pre struct {
	Script string
	Args   []string
	Env    map[string]string
}

// PreError is a Pre that exited non-zero: its code, what it wrote on
// stdout (NULs as newlines, bounded, as the sandbox's text) and its
// stderr.
type PreError struct {
	Code   int
	Stdout string
	Stderr string
}

func (e *PreError) Error() string {
	return fmt.Sprintf("the script in the sandbox exited %d: %s", e.Code, workspace.FirstLine(e.Stderr))
}

// preMark separates, on the exec's stderr, the Pre's chatter from what it
// wrote on stdout (newline-separated there: a NUL would not pass as
// text). preScript prints it.
const preMark = "\n--- gitloop pre output ---\n"

// preScript runs the Pre ($2, args after it) in the clone ($1), then,
// when it succeeded, the snapshot and upload-pack; stdout is the
// protocol's, so the Pre's goes through a temp file to stderr, after
// preMark, when it failed.
const preScript = "exec 3>&1 1>&2\n" + snapshotFunc + `
d=$1 pre=$2; shift 2
# Its output in a file of the clone's git dir (no mktemp, no rm to
# start): only this exec writes it.
o="$d/.git/gitloop-pre-out"
(sh -c "$pre" sh "$@" >"$o" </dev/null)
c=$?
if [ "$c" != 0 ]; then
  printf '\n--- gitloop pre output ---\n'
  tr '\0' '\n' <"$o"
  exit "$c"
fi
snapshot
exec git upload-pack "$d" 1>&3 3>&-`

// uploadCmd is what a snapshot fetch runs inside: the snapshot, then
// upload-pack; with pre, pre first.
func uploadCmd(dir string, pre *Pre) []string {
	if pre == nil {
		return []string{"sh", "-c", snapshotScript, "sh", dir}
	}
	return append([]string{"sh", "-c", preScript, "sh", dir, pre.Script}, pre.Args...)
}

// preError parses the exec's stderr of a failed Pre.
func preError(code int, stderr string) *PreError {
	e := &PreError{Code: code, Stderr: stderr}
	if i := strings.LastIndex(stderr, preMark); i >= 0 {
		e.Stderr, e.Stdout = stderr[:i], stderr[i+len(preMark):]
	}
	e.Stderr = strings.TrimSpace(e.Stderr)
	return e
}

// RefreshAfter runs pre inside a sealed loop's sandbox, then fetches as
// Refresh does, in one exec when the loop's target serves a direct fetch
// (else an exec for pre, then Refresh). A failing pre returns *PreError
// and fetches nothing.
func RefreshAfter(ctx context.Context, s *workspace.Workspace, m *state.Meta, pre *Pre) (FetchResult, error) {
	if _, err := LoopTarget(ctx, s, m.Name); err != nil || s.Git.DryRun {
		res, err := Inside(ctx, s, m, pre.Script, pre.Env, pre.Args...)
		if err != nil {
			return FetchResult{}, err
		}
		if res.Code != 0 {
			return FetchResult{}, &PreError{Code: res.Code, Stdout: strings.ReplaceAll(res.Stdout, "\x00", "\n"), Stderr: res.Stderr}
		}
		return Refresh(ctx, s, m)
	}
	return refresh(ctx, s, m, pre, true)
}
