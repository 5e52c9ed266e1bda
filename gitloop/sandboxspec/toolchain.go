package sandboxspec

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gitloop-dev/git-loop/gitloop/compose"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/toolchain"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// EnsureToolchain gives the loop the toolchain its tiers declare (the
// composed mise.toml in its agent dir), built in a sandbox of its driver
// or found built by an earlier loop, and records it in m (the caller
// writes the record). Without one it costs a stat.
func EnsureToolchain(ctx context.Context, s *workspace.Workspace, eng sandbox.Engine, m *state.Meta) error {
	data, err := toolchain.Declared(s.AgentDir(m.Name))
	if err != nil || data == nil {
		return err
	}
	if m.Sandbox.Remote() {
		s.Reporter().Warn(fmt.Sprintf("loop %s is on a remote engine: its toolchain (mise.toml) is not installed there yet; use an image that has the tools, or install them with a setup command", m.Name))
		return nil
	}
	if eng.Name() != "docker" && eng.Name() != "bwrap" {
		s.Reporter().Warn(fmt.Sprintf("loop %s runs on the host: its toolchain (mise.toml) is not installed; run \"mise install\" in %s yourself", m.Name, s.AgentDir(m.Name)))
		return nil
	}
	base, err := Spec(s, m)
	if err != nil {
		return err
	}
	tc, err := toolchain.Ensure(ctx, eng, data, toolchain.Options{
		Mise:     s.Config.Get("sandbox.mise"),
		Cache:    filepath.Join(s.Dirs.Cache, "toolchains"),
		Base:     base,
		Progress: s.Reporter(),
		User:     s.Store().MetaPath(m.Name),
	})
	if te := (*toolchain.Error)(nil); errors.As(err, &te) {
		if res, lerr := compose.Load(s.AgentDir(m.Name)); lerr == nil {
			if f, ok := res.File(toolchain.File); ok {
				te.Sources = f.Sources
			}
		}
	}
	if err != nil {
		return err
	}
	m.Sandbox.Toolchain, m.Sandbox.ToolchainPath, m.Sandbox.ToolchainEnv = tc.Dir, tc.Path, tc.Env
	return nil
}

// restoreToolchain builds a loop's toolchain again when its dir has left
// the cache (cleared by the user, or by a tool that cleans caches): the
// loop's tools come back instead of its sandbox failing on a missing
// mount. The loop's running sandbox, if any, is removed and made again
// on its next use. The record is updated when the build landed elsewhere (a new
// image or mise since).
func restoreToolchain(ctx context.Context, s *workspace.Workspace, m *state.Meta) error {
	if m.Sandbox.Toolchain == "" {
		return nil
	}
	if workspace.Exists(m.Sandbox.Toolchain) {
		// A loop given its toolchain before users were recorded is
		// counted now (a stat when it is already).
		_ = toolchain.AddUser(m.Sandbox.Toolchain, s.Store().MetaPath(m.Name))
		return nil
	}
	eng, err := s.OpenEngine(ctx, m.Sandbox.Driver)
	if err != nil {
		return err
	}
	was := m.Sandbox.Toolchain
	m.Sandbox.Toolchain, m.Sandbox.ToolchainPath, m.Sandbox.ToolchainEnv = "", "", nil
	if err := EnsureToolchain(ctx, s, eng, m); err != nil {
		return fmt.Errorf("loop %s: its toolchain %s is gone from the cache, and building it again failed: %w", m.Name, was, err)
	}
	// A running container still binds the deleted dir: it is made again
	// on its next use (its $HOME and work are on the host's mounts).
	spec, err := Spec(s, m)
	if err != nil {
		return err
	}
	if err := eng.Remove(ctx, spec); err != nil {
		return err
	}
	if m.Sandbox.Toolchain != was {
		return s.Store().WriteMeta(m)
	}
	return nil
}

// CollectToolchains removes the toolchains of the user's cache that no
// loop uses any more (toolchain.Collect), in every repository: each loop
// given one is recorded beside it.
func CollectToolchains(s *workspace.Workspace, dryRun bool) ([]toolchain.Collected, error) {
	return toolchain.Collect(filepath.Join(s.Dirs.Cache, "toolchains"), "", dryRun)
}
