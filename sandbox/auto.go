package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultProbeTimeout bounds how long Auto waits for one candidate: a local
// engine answers a ping in milliseconds, and a command must not hang on a
// dead DOCKER_HOST before falling back.
const DefaultProbeTimeout = 300 * time.Millisecond

// Candidate is one driver Auto may pick. The drivers provide their own
// (docker.Candidate, bwrap.Candidate); package sandbox cannot import them,
// since they import it.
type Candidate struct {
	Name string
	// Open returns a ready engine, or an error saying why this driver cannot
	// run here (engine down, binary missing). Its context ends after the
	// probe timeout.
	Open func(ctx context.Context) (Engine, error)
}

// Auto returns the first candidate that opens within probeTimeout each, in
// the order given (git loop's default: docker, bwrap, none). When it had to
// fall back, reason is one line saying why each earlier candidate was
// skipped and which one is used, for the caller to print as a warning; it
// is empty when the first candidate was picked. err is non-nil only when no
// candidate opens, and then wraps ErrEngineUnreachable.
func Auto(ctx context.Context, probeTimeout time.Duration, candidates ...Candidate) (eng Engine, reason string, err error) {
	if probeTimeout <= 0 {
		probeTimeout = DefaultProbeTimeout
	}
	var skipped []string
	var errs []error
	for _, c := range candidates {
		if err := ctx.Err(); err != nil {
			return nil, "", fmt.Errorf("choose sandbox driver: %w", err)
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		eng, err := c.Open(pctx)
		cancel()
		if err == nil && eng != nil {
			if len(skipped) > 0 {
				reason = fmt.Sprintf("using the %s sandbox driver: %s", c.Name, strings.Join(skipped, "; "))
			}
			return eng, reason, nil
		}
		if err == nil {
			err = errors.New("no engine returned")
		}
		skipped = append(skipped, fmt.Sprintf("%s unavailable (%s)", c.Name, firstLine(err.Error())))
		errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
	}
	if len(errs) == 0 {
		return nil, "", fmt.Errorf("choose sandbox driver: %w: no driver to try", ErrEngineUnreachable)
	}
	return nil, "", fmt.Errorf("choose sandbox driver: %w: %w", ErrEngineUnreachable, errors.Join(errs...))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
