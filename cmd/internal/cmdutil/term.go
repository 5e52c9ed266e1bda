package cmdutil

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// RawTerminal puts stdin's terminal in raw mode for a session whose TTY
// lives in the engine, and reports its size now and on every SIGWINCH.
// restore undoes both; it is safe to call when stdin is not a terminal.
func RawTerminal() (restore func(), sizes <-chan sandbox.TermSize) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return func() {}, nil
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return func() {}, nil
	}
	ch := make(chan sandbox.TermSize, 1)
	send := func() {
		if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			select {
			case ch <- sandbox.TermSize{Height: uint(h), Width: uint(w)}:
			default: // a size is already waiting; the next one follows
			}
		}
	}
	send()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-winch:
				send()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(done)
		_ = term.Restore(fd, old)
	}, ch
}
