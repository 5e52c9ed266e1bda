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
	"os"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

// binDir holds a git-loop binary built once, for the tests that run it as
// a real process (what its own environment leaks into a sandbox).
var binDir string

// hostHome is the hermetic $HOME of the tests, outside every mount table.
var hostHome string

func TestMain(m *testing.M) {
	cmdtest.Main(m, func(dir string) {
		binDir = dir
		hostHome = os.Getenv("HOME")
	})
}
