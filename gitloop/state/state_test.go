package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRecordsAreHostOnly: the record lives in the host-only part, never in
// the sandbox part, and List reads only the host-only part.
func TestRecordsAreHostOnly(t *testing.T) {
	s := Store{Root: t.TempDir()}
	if err := s.WriteMeta(&Meta{Name: "a", Branch: "refs/heads/loop/a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "host", "a", "meta.json")); err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(s.MetaPath("a"), s.LoopDir("a")) {
		t.Errorf("record %s inside the sandbox part %s", s.MetaPath("a"), s.LoopDir("a"))
	}
	// A record planted in the sandbox part of another name is not a loop.
	if err := os.MkdirAll(s.LoopDir("b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.LegacyMetaPath("b"), []byte(`{"schema":1,"name":"b"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	metas, errs := s.List()
	if len(errs) != 0 || len(metas) != 1 || metas[0].Name != "a" {
		t.Errorf("List: %v %v", metas, errs)
	}
	if got := s.LegacyLoops(); len(got) != 1 || got[0] != "b" {
		t.Errorf("LegacyLoops: %v", got)
	}
	// A planted meta.json in a loop that has a host record is not legacy.
	if err := os.MkdirAll(s.LoopDir("a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.LegacyMetaPath("a"), []byte(`{"schema":1,"name":"a","worktree":"/"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := s.LegacyLoops(); len(got) != 1 || got[0] != "b" {
		t.Errorf("LegacyLoops with a planted record beside a host one: %v", got)
	}
	if m, err := s.ReadMeta("a"); err != nil || m.Worktree != "" {
		t.Errorf("ReadMeta read the planted record: %+v %v", m, err)
	}
	if err := s.RemoveLoopDir("a"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{s.LoopDir("a"), s.HostDir("a")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after RemoveLoopDir: %v", p, err)
		}
	}
}

// TestReadLegacyMetaRefuses: an old-layout record is read as hostile data:
// no symlink, no FIFO, nothing huge.
func TestReadLegacyMetaRefuses(t *testing.T) {
	s := Store{Root: t.TempDir()}
	secret := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(secret, []byte(`{"schema":1,"name":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, plant := range map[string]func(p string) error{
		"symlink": func(p string) error { return os.Symlink(secret, p) },
		"fifo":    func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"huge": func(p string) error {
			return os.WriteFile(p, []byte(`{"schema":1,"name":"huge","base":"`+strings.Repeat("x", maxLegacyMeta)+`"}`), 0o644)
		},
		"dir-symlink": func(p string) error {
			return os.Remove(filepath.Dir(p)) // replaced below
		},
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.MkdirAll(s.LoopDir(name), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := plant(s.LegacyMetaPath(name)); err != nil {
				t.Fatal(err)
			}
			if name == "dir-symlink" {
				if err := os.Symlink(filepath.Dir(secret), s.LoopDir(name)); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(secret, filepath.Join(filepath.Dir(secret), "meta.json")); err != nil {
					t.Fatal(err)
				}
				defer os.Rename(filepath.Join(filepath.Dir(secret), "meta.json"), secret)
			}
			if m, err := s.ReadLegacyMeta(name); err == nil {
				t.Errorf("read %+v", m)
			}
		})
	}
}
