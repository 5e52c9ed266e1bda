package execcmd_test

import (
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestExecExitCode(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	cmdtest.MustRun(t, repo, "new", "ex", "--driver", "none", "-d")
	if r := cmdtest.Run(t, repo, "exec", "ex", "--", "sh", "-c", "exit 7"); r.Code != 7 || r.Stderr != "" {
		t.Errorf("exec exit code: %d, stderr %q", r.Code, r.Stderr)
	}
	if r := cmdtest.Run(t, repo, "exec", "ex"); r.Code != 2 {
		t.Errorf("exec without a command: %d %s", r.Code, r.Stderr)
	}
	if r := cmdtest.Run(t, repo, "exec", "nope", "--", "true"); r.Code != 1 || !strings.Contains(r.Stderr, `no loop named "nope"`) {
		t.Errorf("exec in a missing loop: %d %s", r.Code, r.Stderr)
	}
}
