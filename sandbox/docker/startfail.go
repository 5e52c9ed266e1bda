package docker

import (
	"io"
	"strings"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// ociPrefix starts the message the engine writes into an exec's output
// stream when the runtime could not start the process at all (exit 126).
const ociPrefix = "OCI runtime exec failed"

// startFilter holds back the first bytes of an exec's output while they
// could still be the runtime's start failure, so that message can be
// turned into a sandbox.ProgramError instead of reaching the user raw.
// Output that diverges from the prefix passes through unchanged, from its
// first byte; a process that writes less than the prefix gets it flushed
// at the end.
type startFilter struct {
	w     io.Writer
	buf   []byte
	state int // filterDeciding, filterPass or filterMatched
}

const (
	filterDeciding = iota
	filterPass
	filterMatched
)

func (f *startFilter) Write(p []byte) (int, error) {
	switch f.state {
	case filterPass:
		return f.w.Write(p)
	case filterMatched:
		if len(f.buf) < 4096 {
			f.buf = append(f.buf, p...)
		}
		return len(p), nil
	}
	f.buf = append(f.buf, p...)
	n := min(len(f.buf), len(ociPrefix))
	if string(f.buf[:n]) != ociPrefix[:n] {
		f.state = filterPass
		buf := f.buf
		f.buf = nil
		if _, err := f.w.Write(buf); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if len(f.buf) >= len(ociPrefix) {
		f.state = filterMatched
	}
	return len(p), nil
}

// release writes what is held back: at the end of the exec, unless the
// message became an error.
func (f *startFilter) release() {
	if f.state != filterPass && len(f.buf) > 0 {
		_, _ = f.w.Write(f.buf)
	}
	f.buf = nil
}

// programError parses the runtime's message, e.g. `OCI runtime exec failed:
// exec failed: unable to start container process: exec: "go": executable
// file not found in $PATH: unknown`.
func (f *startFilter) programError(cmd0 string) *sandbox.ProgramError {
	if f.state != filterMatched {
		return nil
	}
	msg := strings.TrimSpace(string(f.buf))
	reason := msg
	if _, after, ok := strings.Cut(msg, `exec: "`); ok {
		if _, r, ok := strings.Cut(after, `": `); ok {
			reason = r
		}
	}
	reason = strings.TrimSuffix(reason, ": unknown")
	return &sandbox.ProgramError{Program: cmd0, Reason: reason}
}
