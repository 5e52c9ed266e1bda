// Package contexts is a loop's context layers: setting up the layers'
// clones (init), the context worktrees a loop gets of them and the
// versions they start from, moves of the clones, the composition of the
// loop's agent dir, and the roster of other repositories.
package contexts

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
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
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
func Plan(ctx context.Context, s *workspace.Workspace, name, mode string) ([]state.ContextWorktree, error) {
	if mode == "" {
		mode = ContextLatest
	}
	// A pin is "REV" (for the layers that have that commit; the others
	// start from latest) or "layer=REV,…".
	pins := map[workspace.Layer]string{}
	bare := ""
	if mode != ContextLatest && mode != ContextCached {
		for _, part := range strings.Split(mode, ",") {
			if strings.HasPrefix(part, "-") || strings.Contains(part, "=-") {
				return nil, &workspace.UsageError{Err: fmt.Errorf("--context %q: not a commit", mode)}
			}
			if l, rev, ok := strings.Cut(part, "="); ok {
				if !isLoopLayer(workspace.Layer(l)) {
					return nil, &workspace.UsageError{Err: fmt.Errorf("--context %q: %q is not a context layer (knowledge, notes)", mode, l)}
				}
				pins[workspace.Layer(l)] = rev
			} else {
				bare = part
			}
		}
	}
	pinned := 0
	var out []state.ContextWorktree
	for _, l := range workspace.LoopLayers {
		clone, err := s.LayerClone(l)
		if errors.Is(err, workspace.ErrNoContext) {
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
				if sha, ok := findCommit(ctx, s, l, clone, bare); ok {
					layerMode = sha
				}
			}
		}
		sha, err := start(ctx, s, l, clone, layerMode)
		if err != nil {
			return nil, err
		}
		if layerMode != ContextLatest && layerMode != ContextCached {
			pinned++
		}
		branch := s.BranchRef(name)
		_, found, ok := workspace.ReadRef(clone+"/.git", branch)
		if !ok {
			return nil, fmt.Errorf("%s: cannot read %s in %s", l, branch, clone)
		}
		out = append(out, state.ContextWorktree{Layer: string(l), Clone: clone, Dir: s.ContextDir(name, l), Branch: branch, SHA: sha, BranchCreated: !found})
	}
	if bare != "" && pinned == 0 {
		return nil, &workspace.UsageError{Err: fmt.Errorf("--context %q: not %q, %q, or a commit of any context layer", mode, ContextLatest, ContextCached)}
	}
	return out, nil
}

func isLoopLayer(l workspace.Layer) bool {
	for _, x := range workspace.LoopLayers {
		if x == l {
			return true
		}
	}
	return false
}

// findCommit resolves rev in a layer's clone, fetching once if needed.
func findCommit(ctx context.Context, s *workspace.Workspace, l workspace.Layer, clone, rev string) (string, bool) {
	try := func() string {
		sha, _ := s.Query.Line(ctx, git.Cmd{Dir: clone, Args: []string{"rev-parse", "--verify", "--quiet", rev + "^{commit}"}})
		return sha
	}
	if sha := try(); sha != "" {
		return sha, true
	}
	_ = s.Git.Run(ctx, git.Cmd{Dir: clone, Label: string(l), Args: []string{"fetch", "-q", "origin"}, Env: sandboxspec.GitEnv(ctx)})
	sha := try()
	return sha, sha != ""
}

// contextStart resolves the commit a loop's context starts from.
func start(ctx context.Context, s *workspace.Workspace, l workspace.Layer, clone, mode string) (string, error) {
	rev := func(r string) (string, error) {
		return s.Query.Line(ctx, git.Cmd{Dir: clone, Args: []string{"rev-parse", "--verify", "--quiet", r + "^{commit}"}})
	}
	// cached is the clone's current commit; a clone of a remote that had
	// no commits yet (a new, empty team repo) is an empty layer.
	cached := func() (string, error) {
		sha, err := rev("HEAD")
		if err == nil && sha != "" {
			return sha, nil
		}
		if Unborn(ctx, s, clone) {
			return EmptyLayer(ctx, s, l, clone)
		}
		return "", fmt.Errorf("%s: the clone %s has no commit to start from (%v); check it with \"git -C %s status\", or run \"git loop doctor\"", l, clone, err, clone)
	}
	switch mode {
	case ContextCached:
		return cached()
	case ContextLatest:
		fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
		if err := s.Git.Run(fctx, git.Cmd{Dir: clone, Label: string(l), Args: []string{"fetch", "-q", "origin"}, Env: sandboxspec.GitEnv(ctx)}); err != nil {
			s.Reporter().Warn(fmt.Sprintf("%s: fetch failed, starting from the cached commit: %v", l, workspace.FirstLine(err.Error())))
			return cached()
		}
		if sha, err := rev("HEAD@{upstream}"); err == nil && sha != "" {
			return sha, nil
		}
		return cached()
	default:
		if sha, err := rev(mode); err == nil && sha != "" {
			return sha, nil
		}
		// A pinned sha the clone has not seen yet.
		_ = s.Git.Run(ctx, git.Cmd{Dir: clone, Label: string(l), Args: []string{"fetch", "-q", "origin"}, Env: sandboxspec.GitEnv(ctx)})
		if sha, err := rev(mode); err == nil && sha != "" {
			return sha, nil
		}
		return "", &workspace.UsageError{Err: fmt.Errorf("--context %q: not %q, %q, or a commit of the %s repo", mode, ContextLatest, ContextCached, l)}
	}
}

// Unborn reports whether clone's HEAD names a branch with no commit yet:
// what cloning an empty repository leaves.
func Unborn(ctx context.Context, s *workspace.Workspace, clone string) bool {
	if head, _ := s.Query.Line(ctx, git.Cmd{Dir: clone, Args: []string{"symbolic-ref", "-q", "HEAD"}}); head == "" {
		return false
	}
	ok, _ := s.Query.Succeeds(ctx, git.Cmd{Dir: clone, Args: []string{"rev-parse", "--verify", "-q", "HEAD"}})
	return !ok
}

// emptyTree is git's empty tree object.
const emptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// EmptyLayer writes, in clone, the commit an empty layer starts from: no
// files, no parent, and the same author, date and message everywhere, so
// every user starting from one empty remote starts from one commit and
// their first promotes share a root. The first promote pushes it as the
// remote's main.
func EmptyLayer(ctx context.Context, s *workspace.Workspace, l workspace.Layer, clone string) (string, error) {
	const who, when = "git loop", "1970-01-01T00:00:00Z"
	out, err := s.Git.Output(ctx, git.Cmd{Dir: clone, Label: string(l), Args: []string{"commit-tree", emptyTree, "-m", "Empty layer: the remote had no commits"},
		Env: []string{"GIT_AUTHOR_NAME=" + who, "GIT_AUTHOR_EMAIL=git-loop@localhost", "GIT_AUTHOR_DATE=" + when,
			"GIT_COMMITTER_NAME=" + who, "GIT_COMMITTER_EMAIL=git-loop@localhost", "GIT_COMMITTER_DATE=" + when}})
	if err != nil {
		return "", fmt.Errorf("%s: starting an empty layer in %s: %w", l, clone, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Own marks the planned contexts of a loop on driver as clones of its
// own (docker, bwrap): their branch is then the clone's, never made in
// the user's clone.
func Own(cws []state.ContextWorktree, driver string) {
	if !OwnsContexts(driver) {
		return
	}
	OwnAll(cws)
}

// OwnAll marks the planned contexts as clones of the loop's own,
// whatever its driver: a remote loop's (docker or kubernetes), whose
// clones live on its engine, seeded by a push (SeedRemote).
func OwnAll(cws []state.ContextWorktree) {
	for i := range cws {
		cws[i].Own, cws[i].BranchCreated = true, false
	}
}

// addContexts creates the planned context worktrees of loop.
func Add(ctx context.Context, s *workspace.Workspace, loop string, cws []state.ContextWorktree) error {
	var waits []func() error
	for _, c := range cws {
		s.Reporter().Step(fmt.Sprintf("creating %s worktree at %s", c.Layer, c.Dir))
		short := strings.TrimPrefix(c.Branch, "refs/heads/")
		var wait func() error
		if c.Own {
			c := c
			done := make(chan error, 1)
			go func() { done <- seedOwn(ctx, s, c) }()
			wait = func() error { return <-done }
		} else if c.BranchCreated {
			wait = s.Git.StartWorktree(ctx, git.NewWorktree{
				CommonDir: filepath.Join(c.Clone, ".git"),
				Path:      c.Dir,
				Branch:    short,
				Start:     c.SHA,
				Label:     c.Layer + ":" + short,
				ID:        loop,
				Direct:    s.Shortcuts().Use(git.WorktreeAdd) && workspace.DirectWorktrees(ctx, c.Clone),
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
func Remove(ctx context.Context, s *workspace.Workspace, cws []state.ContextWorktree, undo bool) error {
	for _, c := range cws {
		if c.Own {
			// The loop's own clone: deleted without following a link,
			// without git (its landing repository goes with the loop's
			// host part).
			if err := os.RemoveAll(c.Dir); err != nil {
				return err
			}
			continue
		}
		if !workspace.Exists(c.Clone) {
			continue
		}
		short := strings.TrimPrefix(c.Branch, "refs/heads/")
		label := c.Layer + ":" + short
		if workspace.Exists(c.Dir) {
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
		sha, found, ok := workspace.ReadRef(c.Clone+"/.git", c.Branch)
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
func WorkAtRisk(ctx context.Context, s *workspace.Workspace, m *state.Meta) error {
	for _, c := range m.Contexts {
		if !workspace.Exists(c.Clone) {
			continue
		}
		if c.Own {
			if err := ownWorkAtRisk(ctx, s, m, c); err != nil {
				return err
			}
			continue
		}
		if _, found, _ := workspace.ReadRef(c.Clone+"/.git", c.Branch); found {
			out, err := s.Query.Line(ctx, git.Cmd{Dir: c.Clone, Args: []string{"rev-list", "--count", c.Branch, "--not", "--remotes"}})
			if err != nil {
				return err
			}
			if n, _ := strconv.Atoi(out); n > 0 {
				return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has %d %s %s not promoted", n, c.Layer, workspace.Plural(n, "commit", "commits")),
					Hint: fmt.Sprintf("push it first (git -C %s push origin HEAD:main) or use --force", c.Dir)}
			}
		}
		dirty, err := s.DirtyFiles(ctx, c.Dir)
		if err != nil {
			return err
		}
		if len(dirty) > 0 {
			return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has uncommitted %s changes (%s)", c.Layer, workspace.Summarize(dirty, 3)), Hint: "commit them or use --force"}
		}
	}
	if changed := MemoryChanged(s, m); len(changed) > 0 {
		return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has personal memory not promoted (%s)", workspace.Summarize(changed, 3)),
			Hint: fmt.Sprintf("promote it (git loop promote %s --layer personal) or use --force", m.Name)}
	}
	return nil
}

// versions records the commit each context layer starts from; the
// personal repo is used live from its clone, so its current commit.
func Versions(s *workspace.Workspace, cws []state.ContextWorktree) map[string]string {
	if len(cws) == 0 {
		return nil
	}
	v := map[string]string{}
	for _, c := range cws {
		v[c.Layer] = c.SHA
	}
	if clone, err := s.LayerClone(workspace.Personal); err == nil {
		if _, sha, ok := workspace.ReadHead(clone+"/.git", clone+"/.git"); ok {
			v[string(workspace.Personal)] = sha
		}
	}
	return v
}

// ownWorkAtRisk is WorkAtRisk for a loop's own clone: its branch and
// uncommitted work are fetched (never read by git in the clone), then
// compared with what the user's clone knows of the remote.
func ownWorkAtRisk(ctx context.Context, s *workspace.Workspace, m *state.Meta, c state.ContextWorktree) error {
	if !workspace.Exists(c.Dir) {
		return nil
	}
	f, err := FetchOwn(ctx, s, m, c, true)
	if err != nil {
		return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has a %s context whose work could not be fetched (%s)", c.Layer, workspace.FirstLine(err.Error())), Hint: "use --force to remove it anyway"}
	}
	if f.Snapshot != "" {
		return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has uncommitted %s changes", c.Layer), Hint: fmt.Sprintf("commit them (git loop promote -a %s) or use --force", m.Name)}
	}
	if f.Head == "" || f.Head == c.SHA {
		return nil
	}
	n, err := UnpromotedCount(ctx, s, c, f.Landing, f.Head)
	if err != nil {
		return err
	}
	if n > 0 {
		return &workspace.WorkAtRiskError{Loop: m.Name, Reason: fmt.Sprintf("has %d %s %s not promoted", n, c.Layer, workspace.Plural(n, "commit", "commits")),
			Hint: fmt.Sprintf("promote it first (git loop promote %s) or use --force", m.Name)}
	}
	return nil
}

// UnpromotedCount counts the commits of head (in the landing repository)
// that no remote-tracking ref of the user's clone has.
func UnpromotedCount(ctx context.Context, s *workspace.Workspace, c state.ContextWorktree, landing, head string) (int, error) {
	out, err := s.Query.Output(ctx, git.Cmd{Dir: c.Clone, Args: []string{"for-each-ref", "--format=%(objectname)", "refs/remotes"}})
	if err != nil {
		return 0, err
	}
	args := []string{"rev-list", "--count", head, "--not"}
	args = append(args, strings.Fields(string(out))...)
	n, err := s.Query.Line(ctx, git.Cmd{Dir: landing, Args: args})
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(n)
}
