package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gitloop-dev/git-loop/gitloop/config"
)

// Layer is a context layer (docs/context.md).
type Layer string

const (
	Knowledge Layer = "knowledge" // team knowledge: gated, changes land by review
	Notes     Layer = "notes"     // team notes: inbox, focus, team memory; ungated
	Personal  Layer = "personal"  // the user's own repo: personal tier, memory, vaults
)

// Layers in composition order.
var Layers = []Layer{Knowledge, Notes, Personal}

// LoopLayers are the layers a loop gets its own worktree of; the personal
// repo is used from its main clone (git-crypt and linked worktrees do not
// mix).
var LoopLayers = []Layer{Knowledge, Notes}

// AgentDir is a loop's composed agent configuration dir (CLAUDE_CONFIG_DIR,
// CODEX_HOME); transcripts land there.
func (s *Workspace) AgentDir(name string) string {
	return filepath.Join(s.Store().LoopDir(name), "agent")
}

// LogDir holds a loop's headless run logs and its agent lock. The host
// writes them, so they sit in the loop's host-only part, which no sandbox
// mounts (a planted symlink there could aim the host's writes elsewhere).
func (s *Workspace) LogDir(name string) string {
	return filepath.Join(s.Store().HostDir(name), "log")
}

// HomeDir is the sandbox's persistent $HOME.
func (s *Workspace) HomeDir(name string) string {
	return filepath.Join(s.Store().LoopDir(name), "home")
}

// ContextDir is a loop's worktree of a context layer (knowledge, notes).
func (s *Workspace) ContextDir(name string, l Layer) string {
	return filepath.Join(s.Store().LoopDir(name), "context", string(l))
}

// MemoryDir is a sealed loop's own personal memory: a copy of the user's
// memory/ as of new, which its sandbox sees at the user's memory path and
// writes instead of the user's (see contexts.SeedMemory).
func (s *Workspace) MemoryDir(name string) string {
	return filepath.Join(s.Store().LoopDir(name), "personal", "memory")
}

// MemoryBaseDir is the host-only copy of what a loop's own memory started
// from, or was last promoted as: promote lands what changed since.
func (s *Workspace) MemoryBaseDir(name string) string {
	return filepath.Join(s.Store().HostDir(name), "personal", "memory")
}

// OriginPath is the solo-mode bare origin of a layer.
func (d UserDirs) OriginPath(l Layer) string {
	return filepath.Join(d.Data, "origins", string(l)+".git")
}

// ClonePath is the main clone of a layer's remote: personal/ for the
// personal repo, context/<layer>-<h8> (h8: a hash of the URL) otherwise, so
// pointing a layer at another remote never reuses the old clone.
func (d UserDirs) ClonePath(l Layer, url string) string {
	if l == Personal {
		return filepath.Join(d.Data, "personal")
	}
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(d.Data, "context", fmt.Sprintf("%s-%s", l, hex.EncodeToString(sum[:])[:8]))
}

// ErrNoContext means the context layers were never set up.
var ErrNoContext = errors.New("context layers are not set up: run \"git loop init\"")

// LayerClone is the main clone of a layer, or ErrNoContext.
func (s *Workspace) LayerClone(l Layer) (string, error) {
	clone := s.Dirs.ClonePath(l, LayerRemote(s.Config, s.Dirs, l))
	if !Exists(filepath.Join(clone, ".git")) {
		return "", fmt.Errorf("%s: %w", l, ErrNoContext)
	}
	return clone, nil
}

// repoClonePath is where a roster repository is cloned on demand.
func (d UserDirs) RepoClonePath(r config.RepoEntry) string {
	sum := sha256.Sum256([]byte(r.URL))
	return filepath.Join(d.Data, "repos", r.Name+"-"+hex.EncodeToString(sum[:])[:8])
}
