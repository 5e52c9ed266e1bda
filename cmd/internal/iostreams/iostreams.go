// Package iostreams is the only door to the terminal: it knows whether
// each stream is a TTY, whether colour is wanted, and renders progress on
// stderr. Commands get their streams from here, so tests run them with
// buffers (Test) and settable TTY flags.
package iostreams

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/mattn/go-isatty"
)

// IOStreams are a command's standard streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	noColor                        bool
	quiet                          bool
	verbose                        bool
	mu                             sync.Mutex
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// System returns the process's streams.
func System() *IOStreams {
	_, noColor := os.LookupEnv("NO_COLOR")
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdinTTY: isTerminal(os.Stdin), stdoutTTY: isTerminal(os.Stdout), stderrTTY: isTerminal(os.Stderr),
		noColor: noColor || os.Getenv("TERM") == "dumb",
	}
}

// Test returns streams backed by buffers; none is a TTY until set.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, noColor: true}, in, out, errOut
}

func (s *IOStreams) IsStdinTTY() bool       { return s.stdinTTY }
func (s *IOStreams) IsStdoutTTY() bool      { return s.stdoutTTY }
func (s *IOStreams) IsStderrTTY() bool      { return s.stderrTTY }
func (s *IOStreams) SetStdinTTY(v bool)     { s.stdinTTY = v }
func (s *IOStreams) SetStdoutTTY(v bool)    { s.stdoutTTY = v }
func (s *IOStreams) SetStderrTTY(v bool)    { s.stderrTTY = v }
func (s *IOStreams) SetQuiet(v bool)        { s.quiet = v }
func (s *IOStreams) Quiet() bool            { return s.quiet }
func (s *IOStreams) SetVerbose(v bool)      { s.verbose = v }
func (s *IOStreams) Verbose() bool          { return s.verbose }
func (s *IOStreams) SetColorEnabled(v bool) { s.noColor = !v }

// Interactive is true when a person is at the terminal: stdin and stdout
// are both TTYs.
func (s *IOStreams) Interactive() bool { return s.stdinTTY && s.stdoutTTY }

// ColorEnabled is true when stdout is a TTY and NO_COLOR is not set.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.noColor }

func (s *IOStreams) errColor() bool { return s.stderrTTY && !s.noColor }

// Colors renders ANSI colours for stdout, or nothing when colour is off.
type Colors struct{ on bool }

func (s *IOStreams) Colors() Colors    { return Colors{on: s.ColorEnabled()} }
func (s *IOStreams) ErrColors() Colors { return Colors{on: s.errColor()} }

func (c Colors) wrap(code, text string) string {
	if !c.on || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}
func (c Colors) Bold(t string) string   { return c.wrap("1", t) }
func (c Colors) Dim(t string) string    { return c.wrap("2", t) }
func (c Colors) Red(t string) string    { return c.wrap("31", t) }
func (c Colors) Green(t string) string  { return c.wrap("32", t) }
func (c Colors) Yellow(t string) string { return c.wrap("33", t) }
func (c Colors) Cyan(t string) string   { return c.wrap("36", t) }

// Progress renders a domain operation's steps on stderr: on a TTY each
// step is shown; otherwise steps are silent, so scripts see only results.
// Warnings always show (unless quiet). Both may carry a sandbox's output (a
// toolchain build's lines): they go out through SafeText.
type Progress struct{ s *IOStreams }

func (s *IOStreams) Progress() *Progress { return &Progress{s: s} }

func (p *Progress) Step(msg string) {
	if p.s.quiet || !p.s.stderrTTY {
		return
	}
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	fmt.Fprintln(p.s.ErrOut, p.s.ErrColors().Dim("  "+SafeText(msg)))
}

func (p *Progress) Warn(msg string) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	fmt.Fprintln(p.s.ErrOut, p.s.ErrColors().Yellow("warning:")+" "+SafeText(strings.TrimSpace(msg)))
}

// GitLog is where mutating git commands are echoed: stderr with
// -v/--verbose (and not quiet), nowhere otherwise. A command's own output
// is one line per step; the exact git commands are for whoever asks.
func (s *IOStreams) GitLog() io.Writer {
	if s.quiet || !s.verbose {
		return nil
	}
	return &dimWriter{s: s}
}

// DryRunLog is where --dry-run prints the git commands it would run:
// always stderr, since printing them is what it was asked for.
func (s *IOStreams) DryRunLog() io.Writer { return &dimWriter{s: s} }

type dimWriter struct{ s *IOStreams }

func (w *dimWriter) Write(b []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	line := strings.TrimRight(string(b), "\n")
	_, err := fmt.Fprintln(w.s.ErrOut, w.s.ErrColors().Dim(line))
	return len(b), err
}
