package contexts

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// cloneMoveFile, in a layer clone's git dir, records the clone's last move
// (a merge, pull, rebase or sync). Loops keep the context they started
// with; ls compares their versions with this record to say a loop's
// context is behind without running git in the clones.
const cloneMoveFile = "gitloop-moved.json"

// CloneMove is a layer clone's last recorded move.
type CloneMove struct {
	Head string    `json:"head"`
	At   time.Time `json:"at"`
}

// RecordCloneMove is the post-merge and post-rewrite hook: when dir is a
// layer's main clone, it records the commit the clone moved to. It returns
// the layer, or "" when dir is no layer clone.
func RecordCloneMove(ctx context.Context, s *workspace.Workspace, dir string) (workspace.Layer, error) {
	top, err := s.Query.Line(ctx, git.Cmd{Dir: dir, Args: []string{"rev-parse", "--show-toplevel", "HEAD"}})
	if err != nil {
		return "", err
	}
	top, head, _ := strings.Cut(top, "\n")
	for _, l := range workspace.Layers {
		if clone, err := s.LayerClone(l); err == nil && workspace.Canonical(clone) == workspace.Canonical(top) {
			return l, writeCloneMove(s, clone, head)
		}
	}
	return "", nil
}

// NoteCloneMove records a move git loop made itself (sync); its own
// git runs skip the hooks.
func NoteCloneMove(s *workspace.Workspace, l workspace.Layer, clone, head string) {
	if err := writeCloneMove(s, clone, head); err != nil {
		s.Reporter().Warn(string(l) + ": " + err.Error())
	}
}

func writeCloneMove(s *workspace.Workspace, clone, head string) error {
	data, _ := json.Marshal(CloneMove{Head: head, At: s.Clock().UTC()})
	return state.WriteFileAtomic(filepath.Join(clone, ".git", cloneMoveFile), data, 0o644)
}

func readCloneMove(clone string) (CloneMove, bool) {
	var mv CloneMove
	data, err := os.ReadFile(filepath.Join(clone, ".git", cloneMoveFile))
	if err != nil || json.Unmarshal(data, &mv) != nil || mv.Head == "" {
		return CloneMove{}, false
	}
	return mv, true
}

// cloneMoves reads the last move of each loop layer's clone, once per
// listing: the hooks' record, or, when the clone's HEAD is elsewhere (it
// moved without a hook: a fast-forward "pull --rebase", hooks off), the
// time its HEAD reflog was last written. No git process runs.
func CloneMoves(s *workspace.Workspace) map[workspace.Layer]CloneMove {
	out := map[workspace.Layer]CloneMove{}
	for _, l := range workspace.LoopLayers {
		clone, err := s.LayerClone(l)
		if err != nil {
			continue
		}
		gitDir := filepath.Join(clone, ".git")
		mv, ok := readCloneMove(clone)
		if _, head, found := workspace.ReadHead(gitDir, gitDir); found && head != mv.Head {
			if fi, err := os.Stat(filepath.Join(gitDir, "logs", "HEAD")); err == nil {
				mv, ok = CloneMove{Head: head, At: fi.ModTime()}, true
			}
		}
		if ok {
			out[l] = mv
		}
	}
	return out
}

// contextBehind lists the layers whose clone moved past the version the
// loop has, after the loop recorded it.
func Behind(m *state.Meta, moves map[workspace.Layer]CloneMove) []string {
	since := m.VersionsAt
	if since.IsZero() {
		since = m.Created
	}
	var out []string
	for _, l := range workspace.LoopLayers {
		mv, ok := moves[l]
		v := m.Versions[string(l)]
		if ok && v != "" && mv.Head != v && mv.At.After(since) {
			out = append(out, string(l))
		}
	}
	return out
}
