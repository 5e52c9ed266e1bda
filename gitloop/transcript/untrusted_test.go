package transcript

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadFileUnderRefusesEscapes: the sandbox writes the agent dir, so a
// session file replaced by a symlink (or a dir replaced by one) to a host
// file is refused, and the host file's content never comes out.
func TestReadFileUnderRefusesEscapes(t *testing.T) {
	host := t.TempDir()
	const marker = "HOST-SECRET-7d1e"
	secret := filepath.Join(host, "s.jsonl")
	line := `{"type":"user","timestamp":"2026-01-01T00:00:00Z","message":{"role":"user","content":"` + marker + `"}}` + "\n"
	if err := os.WriteFile(secret, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	agent := filepath.Join(base, "agent")
	if err := os.MkdirAll(filepath.Join(agent, "projects", "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(agent, "projects", "p", "a.jsonl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(agent, "projects", "q")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(agent, "projects", "p", "f.jsonl"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The planted file symlink and FIFO are not listed; a file reached
	// through a symlinked dir may be, and its open is refused below.
	for _, f := range ClaudeSessionFiles(agent) {
		if !strings.Contains(f, "/q/") {
			t.Errorf("listed planted file %s", f)
		}
	}
	files := []string{filepath.Join(agent, "projects", "p", "a.jsonl"), filepath.Join(agent, "projects", "q", "s.jsonl"), filepath.Join(agent, "projects", "p", "f.jsonl")}
	for _, f := range files {
		var got strings.Builder
		var errs []error
		ReadFileUnder(base, f, Claude, func(e Entry, err error) bool {
			if err != nil {
				errs = append(errs, err)
			}
			got.WriteString(e.Text)
			return true
		})
		if strings.Contains(got.String(), marker) {
			t.Errorf("%s: the host file came through the sandbox's symlink", f)
		}
		if len(errs) == 0 {
			t.Errorf("%s: no error", f)
		}
	}
	// Not even through the agent dir replaced by a symlink.
	if err := os.RemoveAll(agent); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(host, "projects", "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "projects", "p", "b.jsonl"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, agent); err != nil {
		t.Fatal(err)
	}
	for _, f := range ClaudeSessionFiles(agent) {
		if _, err := OpenUnder(base, f); err == nil {
			t.Errorf("%s opened through a symlinked agent dir", f)
		}
	}
}

// TestReadFileCapped: a file over MaxFile is read up to it, with a note.
func TestReadFileCapped(t *testing.T) {
	old := MaxFile
	MaxFile = 4 << 20
	defer func() { MaxFile = old }()
	dir := t.TempDir()
	p := filepath.Join(dir, "big.jsonl")
	var b strings.Builder
	for i := 0; b.Len() < int(MaxFile)+1<<20; i++ {
		fmt.Fprintf(&b, `{"type":"user","timestamp":"2026-01-01T00:00:00Z","message":{"role":"user","content":"line %d %s"}}`+"\n", i, strings.Repeat("x", 200))
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var last Entry
	n := 0
	ReadFile(p, Claude, func(e Entry, err error) bool {
		if err != nil {
			t.Fatal(err)
		}
		last = e
		n++
		return true
	})
	if !strings.Contains(last.Text, "transcript truncated") || !strings.Contains(last.Text, "4 MiB") {
		t.Errorf("last entry %+v after %d", last, n)
	}
}
