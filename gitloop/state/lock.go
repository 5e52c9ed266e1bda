package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrLockTimeout is returned when another git loop command holds the lock
// for longer than the wait allows.
var ErrLockTimeout = errors.New("timed out waiting for the loop lock")

// Lock is a held state lock. flock(2) is used because the kernel releases
// it when the holder dies, so a killed command never leaves a stale lock.
type Lock struct{ f *os.File }

// Lock takes the repository's state lock, waiting up to wait.
func (s Store) Lock(ctx context.Context, wait time.Duration) (*Lock, error) {
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	path := filepath.Join(s.Root, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	delay := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w %s: another git loop command is running; retry when it ends", ErrLockTimeout, path)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		if delay < 20*time.Millisecond {
			delay *= 2
		}
	}
}

// TryLock takes the lock only if it is free; it returns nil, nil when not.
func (s Store) TryLock() (*Lock, error) {
	if _, err := os.Stat(s.Root); err != nil {
		return nil, nil
	}
	f, err := os.OpenFile(filepath.Join(s.Root, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, nil
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock; safe on nil.
func (l *Lock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}

// File is the open lock file (to be inherited by child processes).
func (l *Lock) File() *os.File { return l.f }
