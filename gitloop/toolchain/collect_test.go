package toolchain_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/toolchain"
)

// TestCollect: a toolchain is removed once every loop recorded as its user
// is gone or names another one; one a live loop names, one whose users
// are unknown (built before users were recorded) and one being built (its
// lock held) are kept.
func TestCollect(t *testing.T) {
	cache := t.TempDir()
	loops := t.TempDir()
	mk := func(key string) string {
		dir := filepath.Join(cache, key)
		if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "bin", "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		// A read-only tree, as Go's module cache installs.
		if err := os.Chmod(filepath.Join(dir, "bin"), 0o555); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+".json", []byte(`{"dir":"`+dir+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	record := func(name, toolchainDir string) string {
		p := filepath.Join(loops, name, "meta.json")
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(`{"name":"`+name+`","sandbox":{"driver":"bwrap","toolchain":"`+toolchainDir+`"}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	used, gone, moved, unknown, busy := mk("aaa"), mk("bbb"), mk("ccc"), mk("ddd"), mk("eee")
	for dir, owner := range map[string]string{
		used:  record("live", used),
		gone:  filepath.Join(loops, "removed", "meta.json"),
		moved: record("moved", used), // its loop now names another toolchain
		busy:  filepath.Join(loops, "removed2", "meta.json"),
	} {
		if err := toolchain.AddUser(dir, owner); err != nil {
			t.Fatal(err)
		}
	}
	// Two users, one still there: kept.
	if err := toolchain.AddUser(used, filepath.Join(loops, "removed", "meta.json")); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(busy+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := flock(lock); err != nil {
		t.Fatal(err)
	}

	dry, err := toolchain.Collect(cache, "", true)
	if err != nil || len(dry) != 2 {
		t.Fatalf("dry run: %v %+v, want 2", err, dry)
	}
	if _, err := os.Stat(gone); err != nil {
		t.Fatalf("a dry run removed %s", gone)
	}
	got, err := toolchain.Collect(cache, "", false)
	if err != nil {
		t.Fatal(err)
	}
	removed := map[string]bool{}
	for _, c := range got {
		removed[c.Dir] = true
		if c.Bytes == 0 {
			t.Errorf("%s: no size", c.Dir)
		}
	}
	for dir, want := range map[string]bool{used: false, gone: true, moved: true, unknown: false, busy: false} {
		_, err := os.Stat(dir)
		if removed[dir] != want || os.IsNotExist(err) != want {
			t.Errorf("%s: removed %v (stat %v), want %v", filepath.Base(dir), removed[dir], err, want)
		}
		if want {
			if _, err := os.Stat(dir + ".json"); !os.IsNotExist(err) {
				t.Errorf("%s: its record is left", filepath.Base(dir))
			}
		}
	}
}
func flock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
