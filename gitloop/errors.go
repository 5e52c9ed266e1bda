package gitloop

import (
	"errors"
	"fmt"
)

// UsageError is bad input from the user: a bad name, flag or argument.
// The command line exits 2 for it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// WorkAtRiskError is a refusal to lose work: unmerged commits or
// uncommitted changes. The command line exits 5 for it.
type WorkAtRiskError struct {
	Loop   string
	Reason string // e.g. "has 2 commits not on main or any remote"
	Hint   string // what to do instead
}

func (e *WorkAtRiskError) Error() string {
	return fmt.Sprintf("loop %q %s; %s", e.Loop, e.Reason, e.Hint)
}

// NotFoundError is a loop that does not exist.
type NotFoundError struct{ Loop string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no loop named %q (see \"git loop ls\")", e.Loop)
}

// ErrNotARepo is returned outside a git repository.
var ErrNotARepo = errors.New("not a git repository (or any of the parent directories); run git loop inside a repository or pass -C DIR")
