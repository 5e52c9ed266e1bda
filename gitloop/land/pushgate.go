package land

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// GatedPushError refuses a push from a loop worktree straight to a gated
// layer's main.
type GatedPushError struct {
	Loop  string
	Layer workspace.Layer
	Ref   string
}

func (e *GatedPushError) Error() string {
	return fmt.Sprintf("loop %q: %s is gated (review): refusing to push straight to %s; run \"git loop promote %s --layer %s\" to make a proposal (git push --no-verify skips this check)", e.Loop, e.Layer, e.Ref, e.Loop, e.Layer)
}

// PushUpdate is one line of git's pre-push input.
type PushUpdate struct {
	LocalRef, LocalSHA, RemoteRef, RemoteSHA string
}

// ParsePushUpdates reads pre-push's stdin: "LOCAL_REF LOCAL_SHA REMOTE_REF
// REMOTE_SHA" per line.
func ParsePushUpdates(input string) []PushUpdate {
	var out []PushUpdate
	for _, line := range strings.Split(input, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 {
			out = append(out, PushUpdate{f[0], f[1], f[2], f[3]})
		}
	}
	return out
}

// CheckPush is the pre-push guard: loop work pushed straight to the main
// of a gated layer is refused, so review cannot be skipped by accident.
// Loop work is a loop branch (pushed from anywhere) or anything pushed
// from a loop's worktree (code or context). dir is where git runs the
// hook: the top of the worktree pushed from (git runs hooks there);
// deleting a remote ref is never refused.
func CheckPush(ctx context.Context, s *workspace.Workspace, dir string, updates []PushUpdate) error {
	top := workspace.Canonical(dir)
	metas, _ := s.Store().List()
	if m := sandboxLoop(); m != nil && len(metas) == 0 {
		metas = []*state.Meta{m}
	}
	// Which layer this repository is, and the loop whose worktree it is.
	layer := Code
	var here *state.Meta
	for _, m := range metas {
		if workspace.Canonical(m.Worktree) == top {
			here = m
		}
		for _, c := range m.Contexts {
			if workspace.Canonical(c.Dir) == top {
				layer, here = workspace.Layer(c.Layer), m
			}
		}
	}
	if here == nil && len(metas) == 0 {
		// A sealed loop's clone, inside its sandbox: no records here, but
		// the sandbox says which loop it is (the guard is the agent's
		// courtesy, not a wall: --no-verify skips it).
		if name := os.Getenv("GIT_LOOP_NAME"); name != "" && os.Getenv(sandboxspec.SandboxEnv) != "" && workspace.Canonical(os.Getenv("GIT_LOOP_WORKDIR")) == top {
			here = &state.Meta{Name: name}
		}
	}
	if here == nil {
		for _, l := range workspace.Layers {
			if clone, err := s.LayerClone(l); err == nil && workspace.Canonical(clone) == top {
				layer = l
			}
		}
	}
	if Gate(s, layer) != GateReview {
		return nil
	}
	byName := map[string]*state.Meta{}
	for _, m := range metas {
		byName[m.Name] = m
	}
	prefix := "refs/heads/" + s.Config.BranchPrefix()
	for _, u := range updates {
		if strings.Trim(u.LocalSHA, "0") == "" {
			continue // a deletion
		}
		loop := here
		if name, ok := strings.CutPrefix(u.LocalRef, prefix); ok {
			if m := byName[name]; m != nil {
				loop = m
			} else {
				loop = &state.Meta{Name: name}
			}
		}
		if loop == nil {
			continue
		}
		if u.RemoteRef == gatedMain(s, layer, loop) {
			return &GatedPushError{Loop: loop.Name, Layer: layer, Ref: u.RemoteRef}
		}
	}
	return nil
}

// gatedMain is the remote branch review guards for a loop's layer: the
// code base the loop came from, or a context layer's main.
func gatedMain(s *workspace.Workspace, l workspace.Layer, m *state.Meta) string {
	if l != Code {
		return "refs/heads/main"
	}
	if m.BaseRef != "" {
		return m.BaseRef
	}
	if b := s.Config.Base(); b != "" {
		return "refs/heads/" + strings.TrimPrefix(b, "refs/heads/")
	}
	if ref, _, ok := workspace.ReadHead(s.Repo.CommonDir, s.Repo.CommonDir); ok && ref != "" && !strings.HasPrefix(ref, "refs/heads/"+s.Config.BranchPrefix()) {
		return ref
	}
	return "refs/heads/main"
}

// sandboxLoop is the loop a sandbox runs, from the env its spec gives
// every exec (nil on the host). Inside, the records are out of reach (they
// are host-only), and the guard only needs the loop's name, worktrees and
// base; the guard there is a courtesy (--no-verify skips it), so the env
// the sandbox could change is enough.
func sandboxLoop() *state.Meta {
	if os.Getenv(sandboxspec.SandboxEnv) == "" || os.Getenv("GIT_LOOP_NAME") == "" {
		return nil
	}
	m := &state.Meta{
		Name:     os.Getenv("GIT_LOOP_NAME"),
		Worktree: os.Getenv("GIT_LOOP_WORKDIR"),
		Branch:   "refs/heads/" + os.Getenv("GIT_LOOP_BRANCH"),
		BaseRef:  os.Getenv(sandboxspec.BaseRefEnv),
	}
	for _, l := range workspace.LoopLayers {
		if dir := os.Getenv("GIT_LOOP_" + strings.ToUpper(string(l))); dir != "" {
			m.Contexts = append(m.Contexts, state.ContextWorktree{Layer: string(l), Dir: dir})
		}
	}
	return m
}
