package cmdtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

// CleanUp ends, when t ends, all git loop made for repo: "git loop
// uninstall --yes --force" run by run (nil: Run in repo; a User's Run
// for its GIT_LOOP_HOME), which must succeed, then, as a last resort,
// whatever the Docker engine still holds labelled with repo's workspace.
func CleanUp(t testing.TB, repo string, run func(args ...string) Result) {
	t.Helper()
	if run == nil {
		run = func(args ...string) Result { return Run(t, repo, args...) }
	}
	t.Cleanup(func() {
		id := workspaceID(repo) // uninstall removes it
		if r := run("uninstall", "--yes", "--force"); r.Code != 0 {
			t.Errorf("cleanup: git loop uninstall: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		RemoveWorkspace(id)
	})
}

// RemoveContainers removes, when t ends, what the Docker engine holds
// labelled with repo's workspace: for tests that do not uninstall.
func RemoveContainers(t testing.TB, repo string) {
	t.Cleanup(func() { RemoveWorkspace(workspaceID(repo)) })
}

// RemoveWorkspace removes what the Docker engine holds labelled with
// workspace id (none when id is empty or no engine answers).
func RemoveWorkspace(id string) {
	if id == "" {
		return
	}
	if api, err := dockertest.DialAPI(); err == nil {
		api.RemoveLabelled(sandbox.LabelWorkspace, id)
		_ = api.Close()
	}
}

func workspaceID(repo string) string {
	ws, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
	return strings.TrimSpace(string(ws))
}
