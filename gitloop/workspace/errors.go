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

// SecretLeakError refuses a push that would carry a value of one of the
// user's vaults. It names the files and the variables, never the values.
// The command line exits 5 for it, as for any refusal to lose something.
type SecretLeakError struct {
	Loop  string
	Leaks []Leak
}

// Leak is one vault value found in what a push would send.
type Leak struct {
	Layer  Layer
	Where  string // a path in the pushed tree, or the commit
	Secret string // VAULT/VAR
}

func (e *SecretLeakError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "loop %q: refusing to push: its commits hold values of your vaults (the layers named were not pushed):\n", e.Loop)
	for _, l := range e.Leaks {
		fmt.Fprintf(&b, "  %-9s %s: %s\n", l.Layer, l.Where, l.Secret)
	}
	fmt.Fprintf(&b, "take the values out of the loop's commits, not only its files (rewrite its history, e.g. \"git loop exec %s -- git rebase -i\"), then promote again; rotate a variable if it went anywhere else", e.Loop)
	return b.String()
}

// ConflictError stops a promote or sync on a merge conflict, with the
// merge left in progress in Dir. The command line exits 4 for it.
type ConflictError struct {
	Loop  string
	Op    string // "promote" or "sync"
	Layer Layer
	Dir   string
	Files []string
	// Sealed: the merge is in progress inside the loop's sandbox, in its
	// own clone (Dir is the path there), where the files are resolved.
	Sealed bool
}

func (e *ConflictError) Error() string {
	if e.Sealed {
		return fmt.Sprintf("%s of %s stopped on a merge conflict inside its sandbox, in %s (%s):\n  %s\n"+
			"resolve the files there (git loop shell %s; or run: git loop run %s \"resolve the merge conflicts, keep both sides' intent\"),\n"+
			"then run \"git loop %s --continue %s\"; \"git loop %s --abort %s\" restores the loop as it was; nothing is lost meanwhile",
			e.Op, e.Loop, e.Dir, e.Layer, strings.Join(e.Files, "\n  "), e.Loop, e.Loop, e.Op, e.Loop, e.Op, e.Loop)
	}
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
