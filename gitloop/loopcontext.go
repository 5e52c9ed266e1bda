package gitloop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
)

// Context start modes (new --context).
const (
	ContextLatest = "latest" // fetch first; cached with a warning when the remote is unreachable
	ContextCached = "cached" // the clone's current commit, no network
)

// fetchTimeout bounds the fetch of "latest": a slow remote must not hang
// "git loop new"; it falls back to the cached commit.
const fetchTimeout = 20 * time.Second

// planContexts decides each context worktree of a new loop: which clone,
// which commit. No context is planned when the layers are not set up.
func (s *Service) planContexts(ctx context.Context, name, mode string) ([]state.ContextWorktree, error) {
	if mode == "" {
		mode = ContextLatest
	}
	// A pin is "REV" (for the layers that have that commit; the others
	// start from latest) or "layer=REV,…".
	pins := map[Layer]string{}
	bare := ""
	if mode != ContextLatest && mode != ContextCached {
		for _, part := range strings.Split(mode, ",") {
			if strings.HasPrefix(part, "-") || strings.Contains(part, "=-") {
				return nil, &UsageError{Err: fmt.Errorf("--context %q: not a commit", mode)}
			}
			if l, rev, ok := strings.Cut(part, "="); ok {
				if !isLoopLayer(Layer(l)) {
					return nil, &UsageError{Err: fmt.Errorf("--context %q: %q is not a context layer (knowledge, notes)", mode, l)}
				}
				pins[Layer(l)] = rev
			} else {
				bare = part
			}
		}
	}
	pinned := 0
	var out []state.ContextWorktree
	for _, l := range LoopLayers {
		clone, err := s.LayerClone(l)
		if errors.Is(err, ErrNoContext) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		layerMode := mode
		if rev, ok := pins[l]; ok {
			layerMode = rev
		} else if bare != "" || len(pins) > 0 {
			layerMode = ContextLatest
			if bare != "" {
				if sha, ok := s.findCommit(ctx, l, clone, bare); ok {
					layerMode = sha
				}
			}
		}
		sha, err := s.contextStart(ctx, l, clone, layerMode)
		if err != nil {
			return nil, err
		}
		if layerMode != ContextLatest && layerMode != ContextCached {
			pinned++
		}
		branch := s.BranchRef(name)
		_, found, ok := readRef(clone+"/.git", branch)
		if !ok {
			return nil, fmt.Errorf("%s: cannot read %s in %s", l, branch, clone)
		}
		out = append(out, state.ContextWorktree{Layer: string(l), Clone: clone, Dir: s.ContextDir(name, l), Branch: branch, SHA: sha, BranchCreated: !found})
	}
	if bare != "" && pinned == 0 {
		return nil, &UsageError{Err: fmt.Errorf("--context %q: not %q, %q, or a commit of any context layer", mode, ContextLatest, ContextCached)}
	}
	return out, nil
}

func isLoopLayer(l Layer) bool {
	for _, x := range LoopLayers {
		if x == l {
			return true
		}
	}
	return false
}

// findCommit resolves rev in a layer's clone, fetching once if needed.
func (s *Service) findCommit(ctx context.Context, l Layer, clone, rev string) (string, bool) {
	try := func() string {
		sha, _ := s.Query.Line(ctx, git.Cmd{Dir: clone, Args: []string{"rev-parse", "--verify", "--quiet", rev + "^{commit}"}})
		return sha
	}
	if sha := try(); sha != "" {
		return sha, true
	}
	_ = s.Git.Run(ctx, git.Cmd{Dir: clone, Label: string(l), Args: []string{"fetch", "-q", "origin"}, Env: gitEnv(ctx)})
	sha := try()
	return sha, sha != ""
}

// contextStart resolves the commit a loop's context starts from.
func (s *Service) contextStart(ctx context.Context, l Layer, clone, mode string) (string, error) {
	rev := func(r string) (string, error) {
		return s.Query.Line(ctx, git.Cmd{Dir: clone, Args: []string{"rev-parse", "--verify", "--quiet", r + "^{commit}"}})
	}
	switch mode {
	case ContextCached:
		return rev("HEAD")
	case ContextLatest:
		fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
		if err := s.Git.Run(fctx, git.Cmd{Dir: clone, Label: string(l), Args: []string{"fetch", "-q", "origin"}, Env: gitEnv(ctx)}); err != nil {
			s.progress().Warn(fmt.Sprintf("%s: fetch failed, starting from the cached commit: %v", l, firstLine(err.Error())))
			return rev("HEAD")
		}
		if sha, err := rev("HEAD@{upstream}"); err == nil && sha != "" {
			return sha, nil
		}
		return rev("HEAD")
	default:
		if sha, err := rev(mode); err == nil && sha != "" {
			return sha, nil
		}
		// A pinned sha the clone has not seen yet.
		_ = s.Git.Run(ctx, git.Cmd{Dir: clone, Label: string(l), Args: []string{"fetch", "-q", "origin"}, Env: gitEnv(ctx)})
		if sha, err := rev(mode); err == nil && sha != "" {
			return sha, nil
		}
		return "", &UsageError{Err: fmt.Errorf("--context %q: not %q, %q, or a commit of the %s repo", mode, ContextLatest, ContextCached, l)}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// addContexts creates the planned context worktrees of loop.
func (s *Service) addContexts(ctx context.Context, loop string, cws []state.ContextWorktree) error {
	var waits []func() error
	for _, c := range cws {
		s.progress().Step(fmt.Sprintf("creating %s worktree at %s", c.Layer, c.Dir))
		short := strings.TrimPrefix(c.Branch, "refs/heads/")
		var wait func() error
		if c.BranchCreated {
			wait = s.Git.StartWorktree(ctx, git.NewWorktree{
				CommonDir: filepath.Join(c.Clone, ".git"),
				Path:      c.Dir,
				Branch:    short,
				Start:     c.SHA,
				Label:     c.Layer + ":" + short,
				ID:        loop,
				Direct:    s.shortcuts().Use(git.WorktreeAdd) && directWorktrees(ctx, c.Clone),
			})
		} else {
			wait = s.Git.Start(ctx, git.Cmd{Dir: c.Clone, Label: c.Layer + ":" + short, Args: []string{"worktree", "add", "--no-track", "-q", c.Dir, short}})
		}
		layer := c.Layer
		waits = append(waits, func() error {
			if err := wait(); err != nil {
				return fmt.Errorf("%s worktree: %w", layer, err)
			}
			return nil
		})
	}
	// Each layer is its own repository: their worktrees are made at once.
	var errs []error
	for _, wait := range waits {
		errs = append(errs, wait())
	}
	return errors.Join(errs...)
}

// removeContexts removes context worktrees and, when deleteBranch allows,
// their branches. keepWork refuses to delete a branch holding commits
// that are on no remote (undo passes false: it only deletes what it made).
func (s *Service) removeContexts(ctx context.Context, cws []state.ContextWorktree, undo bool) error {
	for _, c := range cws {
		if !exists(c.Clone) {
			continue
		}
		short := strings.TrimPrefix(c.Branch, "refs/heads/")
		label := c.Layer + ":" + short
		if exists(c.Dir) {
			if err := s.Git.Run(ctx, git.Cmd{Dir: c.Clone, Label: label, Args: []string{"worktree", "remove", "--force", "--force", c.Dir}}); err != nil {
				if rerr := os.RemoveAll(c.Dir); rerr != nil {
					return err
				}
			}
		}
		if err := git.UnlockAbandonedWorktrees(filepath.Join(c.Clone, ".git"), c.Dir); err != nil {
			return err
		}
		if err := s.Git.Run(ctx, git.Cmd{Dir: c.Clone, Label: label, Args: []string{"worktree", "prune"}}); err != nil {
			return err
		}
		sha, found, ok := readRef(c.Clone+"/.git", c.Branch)
		if !ok || !found {
			continue
		}
		if undo && (!c.BranchCreated || sha != c.SHA) {
			continue // not ours to delete, or it holds work made since
		}
		if err := s.Git.Run(ctx, git.Cmd{Dir: c.Clone, Label: label, Args: []string{"branch", "-D", short}}); err != nil {
			return err
		}
	}
	return nil
}

// contextWorkAtRisk reports context commits on no remote and uncommitted
// changes in a loop's context worktrees.
func (s *Service) contextWorkAtRisk(ctx context.Context, m *state.Meta) error {
	for _, c := range m.Contexts {
		if !exists(c.Clone) {
			continue
		}
		if _, found, _ := readRef(c.Clone+"/.git", c.Branch); found {
			out, err := s.Query.Line(ctx, git.Cmd{Dir: c.Clone, Args: []string{"rev-list", "--count", c.Branch, "--not", "--remotes"}})
			if err != nil {
				return err
			}
			if n, _ := strconv.Atoi(out); n > 0 {
				return &WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has %d %s %s not promoted", n, c.Layer, plural(n, "commit", "commits")),
					Hint: fmt.Sprintf("push it first (git -C %s push origin HEAD:main) or use --force", c.Dir)}
			}
		}
		dirty, err := s.dirtyFiles(ctx, c.Dir)
		if err != nil {
			return err
		}
		if len(dirty) > 0 {
			return &WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has uncommitted %s changes (%s)", c.Layer, summarize(dirty, 3)), Hint: "commit them or use --force"}
		}
	}
	return nil
}
