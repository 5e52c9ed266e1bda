package root_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

func TestGoldenHelp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{{"--help"}, {"new", "--help"}, {"ls", "--help"}, {"rm", "--help"}, {"config", "--help"}} {
		r := cmdtest.Run(t, dir, args...)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d %s", args, r.Code, r.Stderr)
		}
		name := "root"
		if args[0] != "--help" {
			name = args[0]
		}
		cmdtest.Golden(t, "help-"+name, r.Stdout, nil)
	}
}
