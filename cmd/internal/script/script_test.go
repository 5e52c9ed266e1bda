// Package script runs git loop's user stories end to end as testscript
// scripts (testdata/*.txtar), through git's own dispatch: "exec git loop
// new demo" finds the git-loop binary on PATH, so -C, -c, subdirectories
// and -h are exercised the way a user meets them.
package script

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

func TestMain(m *testing.M) { cmdtest.Main(m, nil) }

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			// Each script gets its own hermetic git and git loop state.
			gitconfig := filepath.Join(env.WorkDir, ".gitconfig")
			env.Setenv("GIT_CONFIG_GLOBAL", gitconfig)
			env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			env.Setenv("GIT_LOOP_HOME", filepath.Join(env.WorkDir, ".git-loop"))
			env.Setenv("NO_COLOR", "1")
			return os.WriteFile(gitconfig, []byte("[user]\n\tname = Script\n\temail = script@example.com\n[init]\n\tdefaultBranch = main\n"), 0o644)
		},
	})
}
