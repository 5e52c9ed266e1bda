package cmdutil

import "fmt"

// FlagError is a bad flag or argument combination: exit code 2, with a
// pointer to the command's help.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, a ...any) error {
	return &FlagError{Err: fmt.Errorf(format, a...)}
}

// ExitCodeError carries the exit code of a process run for the user (git
// loop exec): the command exits with it and prints nothing more.
type ExitCodeError struct{ Code int }

func (e *ExitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// SilentError exits 1 after the command already explained the failure.
type SilentError struct{}

func (SilentError) Error() string { return "" }
