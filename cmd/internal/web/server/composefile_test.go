package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/web/server"
)

// TestComposedFileIsReadAsData: the agent dir is the sandbox's to write.
// A composed file it replaced by a symlink to a host secret, a path the
// composition does not list, and a path climbing out are all refused.
func TestComposedFileIsReadAsData(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	h := fx.handler(t, server.Options{})
	secret := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(secret, []byte("HOST-PRIVATE-KEY"), 0o600); err != nil {
		t.Fatal(err)
	}
	claude := filepath.Join(fx.ws.AgentDir("alpha"), "CLAUDE.md")
	if err := os.Remove(claude); err != nil {
		t.Fatal(err)
	}
	if err := symlink(secret, claude); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/loops/alpha/compose/CLAUDE.md", "/loops/alpha/compose/projects/x.jsonl", "/loops/alpha/compose/..%2f..%2fmeta.json"} {
		r := get(t, h, p)
		if r.code == http.StatusOK || strings.Contains(r.body, "HOST-PRIVATE-KEY") {
			t.Errorf("GET %s = %d:\n%s", p, r.code, r.body)
		}
	}
}
