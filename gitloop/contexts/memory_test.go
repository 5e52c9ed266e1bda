package contexts

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadMemory: a loop's memory is read as data: regular files only,
// never through a link (in the dir, or the dir's own parts), no git
// repository, and bounded.
func TestReadMemory(t *testing.T) {
	host := t.TempDir()
	secret := filepath.Join(host, "secret")
	if err := os.WriteFile(secret, []byte("HOST"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "memory")
	for p, data := range map[string]string{"MEMORY.md": "index", "topics/a.md": "a", "nested/.git/config": "[core]", "sub/.GIT": "gitdir: x", "t/.gitattributes": "* filter=git-crypt"} {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.Symlink(secret, filepath.Join(dir, "leak.md")))
	must(t, os.Symlink(host, filepath.Join(dir, "linkdir")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	mem, err := ReadMemory(filepath.Dir(dir), "memory")
	if err != nil {
		t.Fatal(err)
	}
	if len(mem.Files) != 2 || string(mem.Files["MEMORY.md"]) != "index" || string(mem.Files["topics/a.md"]) != "a" {
		t.Errorf("files: %q", mem.Files)
	}
	if got := strings.Join(mem.Skipped, ","); got != "fifo,leak.md,linkdir,nested/.git,sub/.GIT,t/.gitattributes" {
		t.Errorf("skipped: %s", got)
	}
	// A link on the way to the memory dir (the sandbox replaced a dir of
	// its loop dir) is refused: the host's files never pass for memory.
	loop := t.TempDir()
	must(t, os.Symlink(host, filepath.Join(loop, "personal")))
	if mem, err := ReadMemory(loop, filepath.Join("personal", "memory")); err == nil {
		t.Errorf("memory read through a link out of the loop dir: %q", mem.Files)
	}
	must(t, os.Mkdir(filepath.Join(loop, "p2"), 0o755))
	must(t, os.Symlink(host, filepath.Join(loop, "p2", "memory")))
	if mem, err := ReadMemory(loop, filepath.Join("p2", "memory")); err == nil {
		t.Errorf("memory read through a link out of the loop dir: %q", mem.Files)
	}
	// Missing: empty.
	if mem, err := ReadMemory(host, "none"); err != nil || len(mem.Files) != 0 {
		t.Errorf("missing dir: %v %v", mem, err)
	}
	// Too big: nothing.
	big := t.TempDir()
	must(t, os.WriteFile(filepath.Join(big, "big.md"), make([]byte, maxMemoryFile+1), 0o644))
	if _, err := ReadMemory(big, "."); err == nil {
		t.Error("a file over the bound was read")
	}
	// WriteMemory never follows a link planted on its way.
	base := t.TempDir()
	must(t, os.Symlink(host, filepath.Join(base, "personal")))
	if err := WriteMemory(base, filepath.Join("personal", "memory"), map[string][]byte{"x.md": []byte("x")}); err == nil {
		t.Error("WriteMemory wrote through a link")
	}
	if _, err := os.Stat(filepath.Join(host, "memory")); err == nil {
		t.Error("WriteMemory wrote outside its base")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
