// Package githooks installs, removes and reports the git hook shims git
// loop puts in the repository and the context layers' clones.
package githooks

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/hooks"
)

// HookScope selects the repositories "hooks install" and "uninstall" touch.
type HookScope int

const (
	HooksRepo    HookScope = 1 << iota // this code repository
	HooksContext                       // the context layers' main clones
	HooksAll     = HooksRepo | HooksContext
)

// repoHookEvents are the hooks of a code repository: a new worktree on a
// loop branch becomes a loop; loop work never goes straight to a gated
// base.
var repoHookEvents = []string{hooks.PostCheckout, hooks.PrePush}

// layerHookEvents are the hooks of each layer's main clone (whose hooks
// also run in the loops' worktrees of it).
var layerHookEvents = map[workspace.Layer][]string{
	workspace.Knowledge: {hooks.PrePush, hooks.PostMerge, hooks.PostRewrite},
	workspace.Notes:     {hooks.PrePush, hooks.PostMerge, hooks.PostRewrite},
	workspace.Personal:  {hooks.PreCommit, hooks.PostMerge, hooks.PostRewrite},
}

// HookTarget is one hooks directory and the events git loop installs there.
type HookTarget struct {
	Repos  []string `json:"repos"` // "repo", or the layers whose clone uses Dir
	Dir    string   `json:"dir"`   // the hooks dir git uses (core.hooksPath respected)
	Events []string `json:"events"`
	// InTree marks a hooks dir inside the working tree (core.hooksPath
	// pointing at committed hooks): git loop never writes there.
	InTree bool           `json:"inTree,omitempty"`
	Result []hooks.Change `json:"changes,omitempty"`
}

// HooksInTreeError is a hooks dir git loop will not write to, because it
// is part of the working tree: the shims would show up as changes to the
// team's committed hooks.
type HooksInTreeError struct{ Dir string }

func (e *HooksInTreeError) Error() string {
	return fmt.Sprintf("core.hooksPath %s is inside the working tree, so git loop does not write its hooks there; to use them, add `git-loop hook EVENT \"$@\"` to your post-checkout and pre-push hooks (see \"git loop hooks -h\")", e.Dir)
}

// HookTargets lists the hooks directories of scope. Repositories sharing
// one hooks dir (core.hooksPath) make one target with the union of events.
func HookTargets(ctx context.Context, s *workspace.Workspace, scope HookScope) ([]HookTarget, error) {
	var out []HookTarget
	add := func(name, repo string, events []string) error {
		dir, err := s.Query.Line(ctx, git.Cmd{Dir: repo, Args: []string{"rev-parse", "--path-format=absolute", "--git-path", "hooks"}})
		if err != nil {
			return fmt.Errorf("hooks dir of %s: %w", name, err)
		}
		dir = filepath.Clean(dir)
		for i := range out {
			if out[i].Dir == dir {
				out[i].Repos = append(out[i].Repos, name)
				for _, e := range events {
					if !contains(out[i].Events, e) {
						out[i].Events = append(out[i].Events, e)
					}
				}
				return nil
			}
		}
		t := HookTarget{Repos: []string{name}, Dir: dir, Events: append([]string(nil), events...)}
		top, hooksDir := workspace.Canonical(repo), workspace.Canonical(dir)
		t.InTree = workspace.Within(top, hooksDir) && !workspace.Within(filepath.Join(top, ".git"), hooksDir)
		out = append(out, t)
		return nil
	}
	if scope&HooksRepo != 0 {
		if s.Repo == nil {
			return nil, workspace.ErrNotARepo
		}
		dir := s.Repo.TopLevel
		if dir == "" {
			dir = s.Repo.CommonDir
		}
		if err := add("repo", dir, repoHookEvents); err != nil {
			return nil, err
		}
	}
	if scope&HooksContext != 0 {
		for _, l := range workspace.Layers {
			clone, err := s.LayerClone(l)
			if errors.Is(err, workspace.ErrNoContext) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if err := add(string(l), clone, layerHookEvents[l]); err != nil {
				return nil, err
			}
		}
	}
	for i := range out {
		// Install order is the order of hooks.Events, whatever the merge.
		var ordered []string
		for _, e := range hooks.Events {
			if contains(out[i].Events, e) {
				ordered = append(ordered, e)
			}
		}
		out[i].Events = ordered
	}
	return out, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// hookPlan is the git-loop the shims of scope call and the hooks dirs
// they go in.
func hookPlan(ctx context.Context, s *workspace.Workspace, scope HookScope) (string, []HookTarget, error) {
	bin, err := s.HookBinary()
	if err != nil {
		return "", nil, err
	}
	targets, err := HookTargets(ctx, s, scope)
	return bin, targets, err
}

// InstallHooks writes the shims of scope; it is idempotent. Installing the
// code repository's hooks also clears an earlier opt-out (loop.hooks=false).
func InstallHooks(ctx context.Context, s *workspace.Workspace, scope HookScope) ([]HookTarget, error) {
	bin, targets, err := hookPlan(ctx, s, scope)
	if err != nil {
		return nil, err
	}
	var inTree error
	for i := range targets {
		if targets[i].InTree {
			inTree = &HooksInTreeError{Dir: targets[i].Dir}
			continue
		}
		ch, err := hooks.Install(targets[i].Dir, targets[i].Events, bin)
		targets[i].Result = ch
		if err != nil {
			return targets, fmt.Errorf("hooks install: %w", err)
		}
	}
	if scope&HooksRepo != 0 && !s.Config.Bool("hooks") {
		if err := workspace.SetConfig(ctx, s.Git, s.Repo, "hooks", "", "local", true); err != nil {
			return targets, err
		}
	}
	return targets, inTree
}

// UninstallHooks removes the shims of scope and restores the hooks they
// replaced. Uninstalling the code repository's hooks records the choice
// (loop.hooks=false), so doctor --fix does not put them back.
func UninstallHooks(ctx context.Context, s *workspace.Workspace, scope HookScope) ([]HookTarget, error) {
	targets, err := HookTargets(ctx, s, scope)
	if err != nil {
		return nil, err
	}
	for i := range targets {
		ch, err := hooks.Uninstall(targets[i].Dir, targets[i].Events)
		targets[i].Result = ch
		if err != nil {
			return targets, fmt.Errorf("hooks uninstall: %w", err)
		}
	}
	if scope&HooksRepo != 0 {
		if err := workspace.SetConfig(ctx, s.Git, s.Repo, "hooks", "false", "local", false); err != nil {
			return targets, err
		}
	}
	return targets, nil
}

// HookStatus reports every hook of scope: current, outdated or missing.
func HookStatus(ctx context.Context, s *workspace.Workspace, scope HookScope) ([]HookTarget, error) {
	bin, targets, err := hookPlan(ctx, s, scope)
	if err != nil {
		return nil, err
	}
	for i, t := range targets {
		bad := map[string]hooks.Change{}
		for _, c := range hooks.Check(t.Dir, t.Events, bin) {
			bad[c.Event] = c
		}
		for _, ev := range t.Events {
			c, ok := bad[ev]
			if !ok {
				c = hooks.Change{Event: ev, Path: filepath.Join(t.Dir, ev), Action: hooks.Unchanged}
			}
			targets[i].Result = append(targets[i].Result, c)
		}
	}
	return targets, nil
}

// OwnerWorktree returns the code worktree of the loop whose context
// worktree holds dir ($GIT_COMMON_DIR/loop/loops/NAME/context/LAYER), or
// "" when dir is not in one.
func OwnerWorktree(dir string) string {
	d := workspace.Canonical(dir)
	for p := d; p != filepath.Dir(p); p = filepath.Dir(p) {
		layerDir := p
		ctxDir := filepath.Dir(layerDir)
		loopDir := filepath.Dir(ctxDir)
		if filepath.Base(ctxDir) != "context" || filepath.Base(filepath.Dir(loopDir)) != "loops" {
			continue
		}
		m, err := state.Store{Root: filepath.Dir(filepath.Dir(loopDir))}.ReadMeta(filepath.Base(loopDir))
		if err == nil && m.Worktree != "" {
			return m.Worktree
		}
	}
	return ""
}
