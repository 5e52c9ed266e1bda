package workspace

import "path/filepath"

// SealedClone is the host dir of a sealed loop's clone, which only its
// sandbox works in (see gitloop/transport). It is derived from the name
// alone, never from a record the sandbox could edit, and sits under the
// state dir, which every sandbox sees hidden.
func (s *Workspace) SealedClone(name string) string {
	return filepath.Join(s.Repo.StateDir(), "sandbox", name, "clone")
}
