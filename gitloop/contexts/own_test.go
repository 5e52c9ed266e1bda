package contexts

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/state"
)

// TestReadOwnRef: the host reads a loop's branch in its own clone as
// data, and never through a link out of the loop dir, a FIFO, or
// anything but one object name.
func TestReadOwnRef(t *testing.T) {
	sha := strings.Repeat("ab", 20)
	loopDir := filepath.Join(t.TempDir(), "loops", "a")
	c := state.ContextWorktree{Layer: "notes", Dir: filepath.Join(loopDir, "context", "notes"), Branch: "refs/heads/loop/a"}
	ref := filepath.Join(c.Dir, ".git", "refs", "heads", "loop", "a")
	if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(data string) {
		t.Helper()
		_ = os.Remove(ref)
		if err := os.WriteFile(ref, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(sha + "\n")
	if got, ok := ReadOwnRef(c); !ok || got != sha {
		t.Errorf("a plain ref: %q %v", got, ok)
	}
	for _, bad := range []string{"ref: refs/heads/main\n", "-x\n", strings.Repeat("z", 40), sha + sha + "\n"} {
		write(bad)
		if got, ok := ReadOwnRef(c); ok {
			t.Errorf("ref %q read as %q", bad, got)
		}
	}
	// A link out of the loop dir, to a file that holds an object name.
	outside := filepath.Join(t.TempDir(), "host-ref")
	if err := os.WriteFile(outside, []byte(sha+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(ref)
	if err := os.Symlink(outside, ref); err != nil {
		t.Fatal(err)
	}
	if got, ok := ReadOwnRef(c); ok {
		t.Errorf("followed a link out of the loop dir: %q", got)
	}
	// The git dir itself a link out.
	gitDir := filepath.Join(c.Dir, ".git")
	if err := os.RemoveAll(gitDir); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "git")
	if err := os.MkdirAll(filepath.Join(elsewhere, "refs", "heads", "loop"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(elsewhere, "refs", "heads", "loop", "a"), []byte(sha+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, gitDir); err != nil {
		t.Fatal(err)
	}
	if got, ok := ReadOwnRef(c); ok {
		t.Errorf("followed .git linked out of the loop dir: %q", got)
	}
	// A FIFO must not hang the host.
	if err := os.Remove(gitDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(ref, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, ok := ReadOwnRef(c); ok {
		t.Errorf("read a FIFO: %q", got)
	}
}
