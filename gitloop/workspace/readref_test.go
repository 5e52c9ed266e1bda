package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadRefFileUnder: a ref file a sandbox writes is read as data: a
// link anywhere on its path (the last component or a directory above
// it) leads nowhere outside the root, a FIFO does not hang the read, and
// only one object name is an answer.
func TestReadRefFileUnder(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	sha := strings.Repeat("a", 40)
	write := func(path, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "clone/.git/refs/heads/loop/ok"), sha+"\n")
	write(filepath.Join(outside, "heads/loop/x"), strings.Repeat("b", 40)+"\n")
	if err := os.Symlink(filepath.Join(outside, "heads"), filepath.Join(root, "clone/.git/refs/linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "heads/loop/x"), filepath.Join(root, "clone/.git/refs/heads/loop/lastlink")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "clone/.git/refs/heads/loop/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(root, "clone/.git/refs/heads/loop/junk"), "ref: refs/heads/main\n")
	for rel, want := range map[string]bool{
		"clone/.git/refs/heads/loop/ok":                  true,
		"clone/.git/refs/linked/loop/x":                  false,
		"clone/.git/refs/heads/loop/lastlink":            false,
		"clone/.git/refs/heads/loop/fifo":                false,
		"clone/.git/refs/heads/loop/junk":                false,
		"clone/.git/refs/heads/loop/absent":              false,
		"../" + filepath.Base(outside) + "/heads/loop/x": false,
	} {
		got, ok := ReadRefFileUnder(root, rel)
		if ok != want || (ok && got != sha) {
			t.Errorf("%s: %q, %v; want ok=%v", rel, got, ok, want)
		}
	}
}
