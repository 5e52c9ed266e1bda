package workspace

import (
	"errors"
	"fmt"
	"strings"
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

// ConflictError stops a promote or sync on a merge conflict, with the
// merge left in progress in Dir. The command line exits 4 for it.
type ConflictError struct {
	Loop  string
	Op    string // "promote" or "sync"
	Layer Layer
	Dir   string
	Files []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s of %s stopped on a merge conflict in %s (%s):\n  %s\n"+
		"resolve the files by hand (or run: git loop run %s \"resolve the merge conflicts, keep both sides' intent\"),\n"+
		"then run \"git loop %s --continue %s\"; \"git loop %s --abort %s\" restores the loop as it was",
		e.Op, e.Loop, e.Layer, e.Dir, strings.Join(e.Files, "\n  "), e.Loop, e.Op, e.Loop, e.Op, e.Loop)
}

// NotFoundError is a loop that does not exist.
type NotFoundError struct{ Loop string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no loop named %q (see \"git loop ls\")", e.Loop)
}

// ErrNotARepo is returned outside a git repository.
var ErrNotARepo = errors.New("not a git repository (or any of the parent directories); run git loop inside a repository or pass -C DIR")
