package kube

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// stoppableInput reads a file only when it has input, and gives up
// without reading once stop is called (the docker driver's, adapted:
// there the driver owns the copying goroutine; here client-go does and
// never says when it is done, so the stop pipe is freed by whichever of
// stop and the last Read comes second). client-go copies the caller's
// stdin in a goroutine that outlives the process; with a plain read on a
// terminal it stays blocked and swallows the next line the user types.
type stoppableInput struct {
	fd           int
	stopR, stopW *os.File

	mu               sync.Mutex
	reading, stopped bool
	released         bool
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
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return 0, io.EOF
	}
	s.reading = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.reading = false
		if s.stopped {
			s.releaseLocked()
		}
		s.mu.Unlock()
	}()
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
func (s *stoppableInput) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	_ = s.stopW.Close()
	if !s.reading {
		s.releaseLocked()
	}
}

func (s *stoppableInput) releaseLocked() {
	if !s.released {
		s.released = true
		_ = s.stopR.Close()
	}
}
