package cmdtest

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	sha      = regexp.MustCompile(`\b[0-9a-f]{40}\b`)
	shortSHA = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
)

// Abbrev replaces the abbreviated SHAs git loop prints (12 digits) with
// <short>, for goldens of output whose commits carry paths or times.
func Abbrev(s string) string { return shortSHA.ReplaceAllString(s, "<short>") }

// Golden compares got with testdata/NAME.golden in the test's package
// after replacing each key of replace (temp paths) with its value and
// every full SHA with <sha>. With -update it writes the file instead.
func Golden(t *testing.T, name, got string, replace map[string]string) {
	t.Helper()
	// Longer paths first: a temp dir inside another is replaced whole.
	from := make([]string, 0, len(replace))
	for k := range replace {
		from = append(from, k)
	}
	slices.SortFunc(from, func(a, b string) int { return len(b) - len(a) })
	for _, k := range from {
		got = strings.ReplaceAll(got, k, replace[k])
	}
	got = sha.ReplaceAllString(got, "<sha>")
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./%s -run %s -update)", err, pkgDir(), t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from golden (go test ./%s -run %s -update to accept):\n--- got\n%s\n--- want\n%s", path, pkgDir(), t.Name(), got, want)
	}
}

// pkgDir is the test's package directory relative to the module root, for
// the command that rewrites its goldens.
func pkgDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rel, err := filepath.Rel(dir, wd)
			if err != nil {
				return "."
			}
			return filepath.ToSlash(rel)
		}
		if filepath.Dir(dir) == dir {
			return "."
		}
	}
}
