package sandbox

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// StoppableInput reads a file (the terminal) only when it has input, and
// gives up without reading once Stop is called. A driver copies the
// caller's stdin to the engine in a goroutine (its own, or client-go's)
// that may outlive the process; with a plain read on the terminal that
// goroutine stays blocked and swallows the next line the user types (into
// whatever git loop opens next, such as the shell "new" falls back to when
// no agent is installed). The stop pipe is freed by whichever of Stop and
// the last Read comes second.
type StoppableInput struct {
	fd           int
	stopR, stopW *os.File

	mu               sync.Mutex
	reading, stopped bool
	released         bool
}

// NewStoppableInput wraps f; nil when it cannot (the caller then copies f
// as it is).
func NewStoppableInput(f *os.File) *StoppableInput {
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	return &StoppableInput{fd: int(f.Fd()), stopR: r, stopW: w}
}

func (s *StoppableInput) Read(p []byte) (int, error) {
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

// Stop ends the current and every later Read without consuming input.
func (s *StoppableInput) Stop() {
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

func (s *StoppableInput) releaseLocked() {
	if !s.released {
		s.released = true
		_ = s.stopR.Close()
	}
}
