package root_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// binDir holds a git-loop binary built once for the tests that need a
// real process (concurrency, kills, git's own "git loop" dispatch).
var binDir string

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "gitloop-root-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = filepath.Join(root, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(binDir, "git-loop"), "../../git-loop")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build git-loop:", err)
		os.Exit(1)
	}
	if err := gittest.Hermetic(root); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}
