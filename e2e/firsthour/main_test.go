// Package firsthoure2e walks a new user's first hour end to end, as one
// story: team repositories just made on a forge (empty bare remotes),
// "git loop init" against them, a vault, a loop, work committed in it,
// promote and sync. Each step is a row of the story's table: a command,
// what it must print, and what it must leave in the repositories.
package firsthoure2e

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

func TestMain(m *testing.M) { cmdtest.Main(m, nil) }
