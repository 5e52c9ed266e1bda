package archtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoInstallable keeps "go install github.com/gitloop-dev/git-loop/cmd/git-loop@VERSION"
// working: go refuses to install a module whose go.mod has replace or
// exclude directives. A dependency that needs a change is changed
// upstream, not patched here.
func TestGoInstallable(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "replace" || f[0] == "exclude") {
			t.Errorf("go.mod:%d: %q: with it go install …@version refuses the module", i+1, line)
		}
	}
}

// TestNoCopiedLibraries keeps other projects' code out of the module: a
// copy (third_party/, vendor/) is code nobody here reviews that stops
// getting upstream's fixes. Dependencies come through go.mod.
func TestNoCopiedLibraries(t *testing.T) {
	root := "../.."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || path == root {
			return nil
		}
		switch name := d.Name(); {
		case strings.HasPrefix(name, "."): // .git, editors' and CI's state
			return filepath.SkipDir
		case name == "third_party" || name == "vendor":
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s/: no copied libraries in the module; depend on upstream through go.mod", rel)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
