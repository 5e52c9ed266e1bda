package server_test

import (
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/web/server"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// A repository with no loops and no context layers still gets pages that
// say what to do.
func TestEmptyRepo(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	ws := service(t, repo, map[string]string{"GIT_LOOP_HOME": t.TempDir()})
	h, err := server.New(server.Options{Workspace: ws, Token: testToken, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
		code       int
	}{
		{"/", "git loop new NAME", 200},
		{"/api/loops", "[]", 200},
		{"/context", "git loop init", 404},
		{"/focus", "git loop init", 404},
		{"/api/focus", "git loop init", 404},
	} {
		r := get(t, h, tc.path)
		if r.code != tc.code || !strings.Contains(r.body, tc.want) {
			t.Errorf("GET %s = %d, no %q in\n%s", tc.path, r.code, tc.want, r.body)
		}
	}
}
