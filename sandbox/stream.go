package sandbox

import (
	"context"
	"io"
)

// Stream is a process started in a sandbox whose stdin and stdout are
// plain byte streams, for protocols run over an exec (git's upload-pack
// and receive-pack). Write to Stdin and Close it to half-close: the
// process sees EOF while Stdout keeps draining. Read Stdout to its end,
// then Wait.
type Stream struct {
	Stdin  io.WriteCloser
	Stdout io.Reader

	done chan struct{}
	code int
	err  error
	inR  *io.PipeReader
	outR *io.PipeReader
	outW *io.PipeWriter
}

// StartStream runs x (its Stdin and Stdout replaced by the stream's, TTY
// off) in the background. Stderr stays x.Stderr's. Cancelling ctx ends the
// exec the way the driver's Exec ends on cancel.
func StartStream(ctx context.Context, eng Engine, spec Spec, x Exec) *Stream {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	x.TTY, x.Resize = false, nil
	x.Stdin, x.Stdout = inR, outW
	s := &Stream{Stdin: inW, Stdout: outR, done: make(chan struct{}), inR: inR, outR: outR, outW: outW}
	go func() {
		defer close(s.done)
		s.code, s.err = eng.Exec(ctx, spec, x)
		// The process is gone: a writer still blocked on its stdin gets
		// an error rather than hanging, and the reader sees the end.
		_ = inR.CloseWithError(io.ErrClosedPipe)
		_ = outW.CloseWithError(s.err)
	}()
	return s
}

// Wait waits for the process to end and returns its exit code, or 127
// (or 130 when cancelled) with the driver's error. Output not yet read is
// discarded so that the process can finish.
func (s *Stream) Wait() (int, error) {
	go func() { _, _ = io.Copy(io.Discard, s.outR) }()
	<-s.done
	return s.code, s.err
}
