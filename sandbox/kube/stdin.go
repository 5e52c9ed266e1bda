package kube

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// stoppableInput (the docker driver's, copied: the drivers share no
// code beyond package sandbox) reads a file only when it has input, and gives up
// without reading once stop is called. Exec copies the caller's stdin to
// the engine in a goroutine; with a plain read on the terminal that
// goroutine stays blocked after the process ended and swallows the next
// line the user types (into whatever git loop opens next, such as the
// shell "new" falls back to when no agent is installed).
type stoppableInput struct {
	fd           int
	stopR, stopW *os.File
	closeOnce    sync.Once
}

// newStoppableInput wraps f; nil when it cannot (the caller then copies f
// as it is).
func newStoppableInput(f *os.File) *stoppableInput {
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	return &stoppableInput{fd: int(f.Fd()), stopR: r, stopW: w}
}

func (s *stoppableInput) Read(p []byte) (int, error) {
	for {
		fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}, {Fd: int32(s.stopR.Fd()), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err == unix.EINTR {
			continue
		} else if err != nil {
			return 0, err
		}
		if fds[1].Revents != 0 {
			return 0, io.EOF // stopped: leave the input to whoever reads next
		}
		if fds[0].Revents == 0 {
			continue
		}
		n, err := unix.Read(s.fd, p)
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			continue
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// stop ends the current and every later Read without consuming input.
func (s *stoppableInput) stop() { _ = s.stopW.Close() }

// release frees the stop pipe once the reading goroutine is done.
func (s *stoppableInput) release() { s.closeOnce.Do(func() { _ = s.stopR.Close() }) }
