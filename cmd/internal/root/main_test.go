package root_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

// A git-loop binary built once is first on PATH, for the tests of git's
// own "git loop" dispatch.
func TestMain(m *testing.M) { cmdtest.Main(m, nil) }
