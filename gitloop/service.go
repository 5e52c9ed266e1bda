// Package gitloop is the domain of git loop: loops as branches, worktrees,
// state and sandboxes, and the operations on them. It never touches the
// terminal: progress goes through the Progress interface and mutating git
// commands through a git.Runner whose log the caller chooses.
package gitloop

import (
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Service runs the operations not yet moved to their concern's package
// on a Workspace.
type Service struct {
	*workspace.Workspace
}
