package land

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// CloneSync is what sync did with one of the user's layer clones.
type CloneSync struct {
	Layer  workspace.Layer `json:"layer"`
	Clone  string          `json:"clone"`
	Action string          `json:"action"` // updated, current, ahead, diverged, failed
	From   string          `json:"from,omitempty"`
	To     string          `json:"to,omitempty"`
	Note   string          `json:"note,omitempty"`
}

// SyncClones fast-forwards the user's layer clones from their remotes. A
// clone that cannot fast-forward (local commits, or changes in the way)
// is left exactly as it is and reported: sync never resets work away.
func SyncClones(ctx context.Context, s *workspace.Workspace) ([]CloneSync, error) {
	var out []CloneSync
	for _, l := range workspace.Layers {
		clone, err := s.LayerClone(l)
		if errors.Is(err, workspace.ErrNoContext) {
			continue
		}
		if err != nil {
			return out, err
		}
		r := CloneSync{Layer: l, Clone: clone}
		head, _ := s.Query.Line(ctx, git.Cmd{Dir: clone, Args: []string{"symbolic-ref", "-q", "HEAD"}})
		if head == "" {
			r.Action, r.Note = "failed", "not on a branch; left alone"
			out = append(out, r)
			continue
		}
		t := target{layer: l, dir: clone, branch: head, main: head}
		if err := fillRemote(ctx, s, &t, clone); err != nil {
			return out, err
		}
		if err := fetch(ctx, s, t); err != nil {
			r.Action, r.Note = "failed", workspace.FirstLine(err.Error())
			out = append(out, r)
			continue
		}
		r.From, r.To = revParse(ctx, s, clone, "HEAD"), revParse(ctx, s, clone, t.track)
		// An unborn main (a clone of a remote that was empty) is behind
		// any main the remote has since.
		behind := r.From == "" && r.To != ""
		if !behind {
			behind, _ = isAncestor(ctx, s, clone, "HEAD", t.track)
		}
		ahead, _ := isAncestor(ctx, s, clone, t.track, "HEAD")
		switch {
		case r.From == r.To || r.To == "":
			r.Action = "current"
		case behind:
			if err := s.Git.Run(ctx, git.Cmd{Dir: clone, Label: string(l), Args: []string{"merge", "-q", "--ff-only", t.track}}); err != nil {
				r.Action, r.Note = "failed", "cannot fast-forward over local changes; left alone: "+workspace.FirstLine(err.Error())
			} else {
				r.Action = "updated"
				contexts.NoteCloneMove(s, l, clone, r.To)
			}
		case ahead:
			n, _ := countRange(ctx, s, clone, t.track, "HEAD")
			// Not "push them": a loop's sandbox can write this clone, and
			// a push would carry its commits past the layer's gate.
			r.Action, r.Note = "ahead", fmt.Sprintf("%d local %s not on the remote; left alone (review them before anything else: git -C %s log -p %s..HEAD)", n, workspace.Plural(n, "commit", "commits"), clone, strings.TrimPrefix(t.track, "refs/remotes/"))
		default:
			n, _ := countRange(ctx, s, clone, t.track, "HEAD")
			r.Action, r.Note = "diverged", fmt.Sprintf("%d local %s and the remote moved; left alone (merge by hand: git -C %s merge %s)", n, workspace.Plural(n, "commit", "commits"), clone, strings.TrimPrefix(t.track, "refs/remotes/"))
		}
		out = append(out, r)
	}
	return out, nil
}

// SyncOptions are the inputs of SyncLoop.
type SyncOptions struct {
	Name     string
	Continue bool
	Abort    bool
}

// LoopSync is what sync did with one layer of a loop.
type LoopSync struct {
	Layer  workspace.Layer `json:"layer"`
	Merged string          `json:"merged,omitempty"` // the commit of main brought in; "" when already there
	Head   string          `json:"head"`
}

// SyncLoop brings the latest base into the loop's branch and the latest
// context main into its context worktrees, by merging (never rebasing),
// and records the context versions. A conflict stops it like promote.
func SyncLoop(ctx context.Context, s *workspace.Workspace, opts SyncOptions) ([]LoopSync, error) {
	m, rs, unlock, err := openRun(ctx, s, opts.Name, "sync", opts.Abort, opts.Continue, func(m *state.Meta) *RunState {
		return &RunState{Op: "sync", Loop: m.Name, Layers: []workspace.Layer{Code, workspace.Knowledge, workspace.Notes}, OrigHeads: map[string]string{}}
	})
	if err != nil || rs == nil {
		return nil, err
	}
	defer unlock()
	ts, err := targets(ctx, s, m, rs.Layers)
	if err != nil {
		return nil, err
	}
	var out []LoopSync
	versions := map[string]string{}
	for i, t := range ts {
		r := LoopSync{Layer: t.layer}
		if t.own != nil {
			// A loop's own context clone: main is merged in by git inside
			// its sandbox (owncontext.go).
			if !(opts.Continue && i == 0) {
				rs.OrigHeads[string(t.layer)] = t.head
			}
			if err := fetch(ctx, s, t); err != nil {
				return out, err
			}
			track := revParse(ctx, s, t.clone, t.track)
			if in, _ := isAncestor(ctx, s, t.landing, track, t.head); track != "" && !in {
				files, err := syncOwn(ctx, s, m, t, track)
				if err != nil {
					return out, err
				}
				if files != nil {
					rs.Layers, rs.Stopped = layerNames(ts[i:]), t.dir
					if werr := writeRunState(s, rs); werr != nil {
						return out, werr
					}
					return out, &workspace.ConflictError{Loop: m.Name, Op: "sync", Layer: t.layer, Dir: t.dir, Files: files}
				}
				r.Merged = track
			}
			r.Head, _ = contexts.ReadOwnRef(*t.own)
			versions[string(t.layer)] = track
			out = append(out, r)
			continue
		}
		if !(opts.Continue && i == 0) {
			rs.OrigHeads[string(t.layer)] = head(ctx, s, t)
			if err := fetch(ctx, s, t); err != nil {
				return out, err
			}
		}
		if t.sealed != nil {
			if err := syncSealed(ctx, s, m, t, rs, ts[i:]); err != nil {
				return out, err
			}
			r.Head = revParse(ctx, s, t.dir, t.ref())
			if r.Head != rs.OrigHeads[string(t.layer)] {
				r.Merged = syncMerged(ctx, s, t)
			}
			out = append(out, r)
			continue
		}
		// The code's base may have moved on the remote and locally (the
		// user's own commits on main): both come in. Each merge is skipped
		// once done, so a resumed sync just goes on with the next.
		steps := []target{t}
		if t.layer == Code && t.remote != "" {
			local := t
			local.remote, local.track = "", t.main
			steps = append(steps, local)
		}
		for _, st := range steps {
			if revParse(ctx, s, t.dir, st.track) == "" {
				continue // the remote has no main yet
			}
			if ok, _ := isAncestor(ctx, s, t.dir, st.track, "HEAD"); ok {
				continue
			}
			files, err := mergeMain(ctx, s, st)
			if err != nil {
				return out, err
			}
			if files != nil {
				rs.Layers, rs.Stopped = layerNames(ts[i:]), t.dir
				if werr := writeRunState(s, rs); werr != nil {
					return out, werr
				}
				return out, &workspace.ConflictError{Loop: m.Name, Op: "sync", Layer: t.layer, Dir: t.dir, Files: files}
			}
			r.Merged = revParse(ctx, s, t.dir, st.track)
		}
		r.Head = revParse(ctx, s, t.dir, "HEAD")
		if t.layer != Code {
			versions[string(t.layer)] = revParse(ctx, s, t.dir, t.track)
		}
		out = append(out, r)
	}
	clearRunState(s, m.Name)
	if len(versions) > 0 && !s.Git.DryRun {
		if err := recordVersions(ctx, s, m.Name, versions); err != nil {
			return out, err
		}
	}
	return out, nil
}

// recordVersions writes the context versions a loop now includes.
func recordVersions(ctx context.Context, s *workspace.Workspace, name string, versions map[string]string) error {
	l, err := lifecycle.Lock(ctx, s)
	if err != nil {
		return err
	}
	defer s.Unlock(l)
	m, err := s.Get(name)
	if err != nil {
		return err
	}
	if m.Versions == nil {
		m.Versions = map[string]string{}
	}
	for k, v := range versions {
		if v != "" {
			m.Versions[k] = v
		}
	}
	m.VersionsAt = s.Clock().UTC()
	return s.Store().WriteMeta(m)
}

// syncSealed is sync of a sealed loop's code: the host's moves (a commit
// made in the host checkout, main on the remote, the local main) are
// pushed into the sandbox and merged there, in that order, then fetched
// back. A conflict stops it inside, with the run saved like any other.
func syncSealed(ctx context.Context, s *workspace.Workspace, m *state.Meta, t target, rs *RunState, rest []target) error {
	var revs []mergeRev
	if r, ok := checkoutRev(ctx, s, m); ok {
		revs = append(revs, r)
	}
	if t.remote != "" {
		revs = append(revs, revFor(ctx, s, t.track))
	}
	revs = append(revs, revFor(ctx, s, t.main))
	files, err := mergeInside(ctx, s, t, revs)
	if err != nil {
		return err
	}
	if files != nil {
		rs.Layers, rs.Stopped = layerNames(rest), t.stopDir()
		if werr := writeRunState(s, rs); werr != nil {
			return werr
		}
		return t.conflict(m, "sync", files)
	}
	return nil
}

// syncMerged is the base commit a sealed loop's branch now holds: the
// remote's main when it has it, else the local main's ("" when neither
// came in).
func syncMerged(ctx context.Context, s *workspace.Workspace, t target) string {
	for _, tr := range []string{t.track, t.main} {
		if sha := revParse(ctx, s, t.dir, tr); sha != "" {
			if ok, _ := isAncestor(ctx, s, t.dir, sha, t.ref()); ok {
				return sha
			}
		}
	}
	return ""
}
