package gitloop

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
)

// unpromoted lists the layers of a loop holding commits its layer's main
// does not have: code when the branch is ahead of its base, a context
// layer when its branch has commits on no remote-tracking main. A context
// branch still at the commit it started from costs no git call.
func (s *Service) unpromoted(ctx context.Context, st *LoopStatus, m *state.Meta) ([]string, error) {
	var out []string
	if st.Ahead > 0 {
		out = append(out, string(Code))
	}
	for _, c := range m.Contexts {
		sha, found, ok := readRef(filepath.Join(c.Clone, ".git"), c.Branch)
		if !ok || !found || sha == c.SHA {
			continue
		}
		n, err := s.Query.Line(ctx, git.Cmd{Dir: c.Clone, Args: []string{"rev-list", "--count", "-1", c.Branch, "--not", "--remotes"}})
		if err != nil {
			return nil, fmt.Errorf("status of %s: %s: %w", m.Name, c.Layer, err)
		}
		if n != "0" {
			out = append(out, c.Layer)
		}
	}
	return out, nil
}

// GatedPushError refuses a push from a loop worktree straight to a gated
// layer's main.
type GatedPushError struct {
	Loop  string
	Layer Layer
	Ref   string
}

func (e *GatedPushError) Error() string {
	return fmt.Sprintf("loop %q: %s is gated (review): refusing to push straight to %s; run \"git loop promote %s --layer %s\" to make a proposal", e.Loop, e.Layer, e.Ref, e.Loop, e.Layer)
}

// CheckPush is the pre-push guard: a push from a loop's worktree (code or
// context) to the main of a gated layer is refused, so review cannot be
// skipped by accident. remoteRefs are the refs the push updates on the
// remote (the third field of each pre-push stdin line).
func (s *Service) CheckPush(ctx context.Context, dir string, remoteRefs []string) error {
	top, err := s.Query.Line(ctx, git.Cmd{Dir: dir, Args: []string{"rev-parse", "--show-toplevel"}})
	if err != nil {
		return err
	}
	top = canonical(top)
	metas, _ := s.store().List()
	for _, m := range metas {
		layer, main := Layer(""), ""
		if canonical(m.Worktree) == top {
			layer, main = Code, m.BaseRef
		}
		for _, c := range m.Contexts {
			if canonical(c.Dir) == top {
				layer, main = Layer(c.Layer), "refs/heads/main"
			}
		}
		if layer == "" || s.Gate(layer) != GateReview {
			continue
		}
		for _, r := range remoteRefs {
			if r == main || (main != "" && r == strings.TrimPrefix(main, "refs/heads/")) {
				return &GatedPushError{Loop: m.Name, Layer: layer, Ref: r}
			}
		}
	}
	return nil
}

func canonical(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}
