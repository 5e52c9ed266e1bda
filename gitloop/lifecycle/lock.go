package lifecycle

import (
	"context"
	"fmt"
	"os"

	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Lock takes the state lock and finishes or undoes whatever an earlier,
// interrupted command left behind.
func Lock(ctx context.Context, s *workspace.Workspace) (*state.Lock, error) {
	l, err := s.LockState(ctx)
	if err != nil {
		return nil, err
	}
	if err := recoverLocked(ctx, s); err != nil {
		s.Unlock(l)
		return nil, err
	}
	return l, nil
}

// recoverLocked finishes or undoes operations an earlier command left
// unfinished. The caller holds the lock, so every intent found belongs to
// a command that died: its lock went with it.
func recoverLocked(ctx context.Context, s *workspace.Workspace) error {
	migrateLocked(ctx, s)
	clearStaleLocks(s)
	intents, err := s.Store().Intents()
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, in := range intents {
		var err error
		switch in.Op {
		case "new":
			s.Reporter().Warn(fmt.Sprintf("undoing loop %q: its creation was interrupted", in.Loop))
			err = undoNew(ctx, s, in)
		case "adopt":
			s.Reporter().Warn(fmt.Sprintf("undoing the adoption of loop %q: it was interrupted (\"git loop doctor --fix\" adopts it again)", in.Loop))
			err = undoAdopt(ctx, s, in)
		case "rm":
			s.Reporter().Warn(fmt.Sprintf("finishing removal of loop %q, which was interrupted", in.Loop))
			err = finishRemove(ctx, s, in)
		case "seal":
			s.Reporter().Warn(fmt.Sprintf("finishing the sealing of loop %q, which was interrupted", in.Loop))
			err = finishSeal(ctx, s, in)
		default:
			err = s.Store().EndIntent(in.Loop)
		}
		if err != nil {
			return fmt.Errorf("recover loop %q: %w (run \"git loop doctor\")", in.Loop, err)
		}
	}
	return nil
}

// recoverIfIdle is recovery for read-only commands: when an operation was
// left unfinished and no other command holds the lock, finish or undo it
// first, so listings never show half a loop. It never waits.
func RecoverIfIdle(ctx context.Context, s *workspace.Workspace) error {
	if intents, err := s.Store().Intents(); err != nil || len(intents) == 0 && !hasLegacy(s) {
		return err
	}
	l, err := s.Store().TryLock()
	if err != nil || l == nil {
		return err // busy: the operation is live, not interrupted
	}
	s.Git.Inherit = []*os.File{l.File()}
	defer s.Unlock(l)
	return recoverLocked(ctx, s)
}
