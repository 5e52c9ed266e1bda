package workspace

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestWorkspaceID: the id is made once and kept; commands making it at
// once agree on it; a repository made again at a deleted one's path gets
// another (so never the deleted one's containers).
func TestWorkspaceID(t *testing.T) {
	common := filepath.Join(t.TempDir(), ".git")
	r := &Repo{CommonDir: common}
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := r.WorkspaceID()
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || len(id) != 8 {
			t.Fatalf("concurrent ids differ or are malformed: %q", ids)
		}
	}
	if again, _ := r.WorkspaceID(); again != ids[0] {
		t.Errorf("id changed from %s to %s", ids[0], again)
	}
	if err := os.RemoveAll(common); err != nil {
		t.Fatal(err)
	}
	if again, _ := r.WorkspaceID(); again == ids[0] {
		t.Errorf("a repository made again at the same path got the deleted one's id %s", again)
	}
	if err := os.WriteFile(filepath.Join(common, "loop", "id"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if id, err := r.WorkspaceID(); err != nil || len(id) != 8 {
		t.Errorf("an empty id file: %q, %v", id, err)
	}
	if entries, _ := filepath.Glob(filepath.Join(common, "loop", ".id-*")); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
}
