// Package gitloop is the domain of git loop: loops as branches, worktrees,
// state and sandboxes, and the operations on them. It never touches the
// terminal: progress goes through the Progress interface and mutating git
// commands through a git.Runner whose log the caller chooses.
package gitloop

import (
	"context"

	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Service runs the operations not yet moved to their concern's package
// on a Workspace.
type Service struct {
	*workspace.Workspace
}

// lock takes the state lock and finishes or undoes whatever an earlier,
// interrupted command left behind.
func (s *Service) lock(ctx context.Context) (*state.Lock, error) {
	l, err := s.LockState(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.recoverLocked(ctx); err != nil {
		s.Unlock(l)
		return nil, err
	}
	return l, nil
}
