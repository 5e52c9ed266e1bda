package agente2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestRunWritesOnlyHostOnly: from inside its sandbox, an agent plants
// symlinks to a host file wherever the host used to write in the loop dir
// (the agent lock, run logs, the status cache, promote's state, the
// record). "git loop run" then writes its lock and log only in the loop's
// host-only part: the host file is untouched, and the run still works.
func TestRunWritesOnlyHostOnly(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := gittest.Repo(t)
			d.Prepare(t, repo)
			gittest.Git(t, repo, "config", "loop.agent", "claude")
			cmdtest.MustRun(t, repo, "new", "a", "--driver", d.Name, "--detach")
			cmdtest.CleanUp(t, repo, nil)
			victimDir := t.TempDir()
			victim := filepath.Join(victimDir, "victim")
			gittest.WriteFile(t, victimDir, "victim", "untouched\n")
			loopDir := filepath.Join(repo, ".git", "loop", "loops", "a")
			script := `V=` + quoteSh(victim) + `; L=` + quoteSh(loopDir) + `
mkdir -p "$L/log" "$L/run"
for f in log/agent.lock log/20260102T000000.000Z-run.log status-cache.json run.json run/lock meta.json; do ln -sf "$V" "$L/$f"; done`
			if r := cmdtest.Run(t, repo, "exec", "a", "--", "sh", "-c", script); r.Code != 0 {
				t.Fatalf("exec: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			for i := 0; i < 2; i++ {
				if r := cmdtest.Run(t, repo, "run", "a", "a turn"); r.Code != 0 {
					t.Fatalf("run: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
				}
			}
			cmdtest.Run(t, repo, "ls")
			cmdtest.Run(t, repo, "status", "a")
			if b, err := os.ReadFile(victim); err != nil || string(b) != "untouched\n" {
				t.Errorf("host file after run: %q %v", b, err)
			}
			logs, _ := filepath.Glob(filepath.Join(repo, ".git", "loop", "host", "a", "log", "*-run.log"))
			if len(logs) != 2 {
				t.Errorf("run logs in the host-only part: %v", logs)
			}
			if m := cmdtest.ReadMeta(t, repo, "a"); m.Worktree == victim || m.Sandbox.Driver != d.Name {
				t.Errorf("record: %+v", m)
			}
		})
	}
}

func quoteSh(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
