package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree lays files out under dir. A value "symlink:T" makes a link to
// T; a value starting "#!" is made executable.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "symlink:"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(c, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(c), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// tier makes an on-disk tier dir under base named after the tier.
func tier(t testing.TB, base, name string, files map[string]string) Tier {
	t.Helper()
	dir := filepath.Join(base, strings.ReplaceAll(name, ":", "-"), ".claude")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, files)
	return Tier{Name: name, Dir: dir}
}

func read(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustCompose(t testing.TB, opts Options) (*Result, string) {
	t.Helper()
	if opts.Target == "" {
		opts.Target = filepath.Join(t.TempDir(), "loop", "agent")
	}
	res, err := Compose(opts)
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	return res, opts.Target
}

func fileOf(t testing.TB, r *Result, path string) *File {
	t.Helper()
	f, ok := r.File(path)
	if !ok {
		var have []string
		for _, f := range r.Files {
			have = append(have, f.Path)
		}
		t.Fatalf("no %s in result; files: %v", path, have)
	}
	return f
}

func keyOf(t testing.TB, f *File, key string) Key {
	t.Helper()
	k, ok := f.Key(key)
	if !ok {
		t.Fatalf("%s has no key %s; keys: %+v", f.Path, key, f.Keys)
	}
	return k
}

func eq[T comparable](t testing.TB, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
