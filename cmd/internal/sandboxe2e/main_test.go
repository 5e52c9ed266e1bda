// Package sandboxe2e_test runs git loop's sandbox commands end to end
// against a real Docker engine and real bubblewrap: loops made by "git loop
// new", worked in with "git loop exec", managed with stop, start and
// uninstall, observed from the host and through the Engine API.
//
// Tests needing an engine skip without one (and fail under
// GIT_LOOP_TEST_REQUIRE=all). The Debian image with git is built once per
// engine (see dockertest.DebianImage); after that the package takes well
// under a minute and a half.
package sandboxe2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// binDir holds a git-loop binary built once, for the tests that run it as
// a real process (what its own environment leaks into a sandbox).
var binDir string

// hostHome is the hermetic $HOME of the tests, outside every mount table.
var hostHome string

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "gitloop-sandboxe2e-")
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
	hostHome = os.Getenv("HOME")
	os.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}
