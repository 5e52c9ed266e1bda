package lifecycle

import (
	"context"
	"fmt"

	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// LegacyContexts names the docker and bwrap loops whose context dirs are
// still linked worktrees of the user's clones (made before own context
// clones): their sandboxes can reach those clones' refs.
func LegacyContexts(s *workspace.Workspace) []string {
	metas, _ := s.Store().List()
	var out []string
	for _, m := range metas {
		if !contexts.OwnsContexts(m.Sandbox.Driver) {
			continue
		}
		for _, c := range m.Contexts {
			if !c.Own {
				out = append(out, m.Name)
				break
			}
		}
	}
	return out
}

// ConvertContexts gives those loops context clones of their own now
// (doctor --fix; otherwise each is converted on its next use). It returns
// the loops converted.
func ConvertContexts(ctx context.Context, s *workspace.Workspace) ([]string, error) {
	l, err := Lock(ctx, s)
	if err != nil {
		return nil, err
	}
	defer s.Unlock(l)
	var done []string
	for _, name := range LegacyContexts(s) {
		m, err := s.Get(name)
		if err != nil {
			return done, err
		}
		changed, err := contexts.ConvertLegacy(ctx, s, m)
		if changed {
			if werr := s.Store().WriteMeta(m); werr != nil {
				return done, werr
			}
			done = append(done, name)
		}
		if err != nil {
			return done, fmt.Errorf("loop %s: %w", name, err)
		}
	}
	return done, nil
}
