package archtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// skipCall is a test skipping itself, or asking whether it may.
var skipCall = regexp.MustCompile(`\.(Skip|Skipf|SkipNow)\(|testing\.Short\(\)`)

// TestSkipsGoThroughRequire: a test skips only through sandboxtest.Require
// (or Long), the one place that turns a skip into a failure when CI sets
// GIT_LOOP_TEST_REQUIRE=all. A skip anywhere else passes CI silently.
func TestSkipsGoThroughRequire(t *testing.T) {
	const allowed = "sandbox/sandboxtest/require.go"
	root := "../.."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || rel == "third_party" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || rel == allowed {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if code, _, _ := strings.Cut(line, "//"); skipCall.MatchString(code) {
				t.Errorf("%s:%d: %s\n\tskip through sandboxtest.Require or sandboxtest.Long", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
