package focus_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

// The tests run git loop in-process against real repositories, with a
// git-loop binary on PATH for the git hooks and git's own dispatch.
func TestMain(m *testing.M) { cmdtest.Main(m, nil) }
