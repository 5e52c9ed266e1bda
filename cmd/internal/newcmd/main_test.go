package newcmd_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

// binDir holds a git-loop binary built once for the tests that need a
// real process (concurrency, kills).
var binDir string

func TestMain(m *testing.M) {
	cmdtest.Main(m, func(dir string) { binDir = dir })
}
