package workspace

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNoHookBinary means no git-loop binary was found for the hooks to call.
var ErrNoHookBinary = errors.New("no git-loop binary on PATH for the hooks to call: put git-loop on PATH, then run \"git loop hooks install\"")

// HookBinary is the git-loop the shims call: the one on PATH (its PATH
// name survives upgrades that replace the file behind a symlink), else
// this program when it is git-loop. Any other program (a test binary
// embedding the commands, say) is never recorded: a hook would run it.
func (s *Workspace) HookBinary() (string, error) {
	if s.HookBin != "" {
		return s.HookBin, nil
	}
	if p, err := exec.LookPath("git-loop"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs, nil
		}
	}
	if p, err := os.Executable(); err == nil && filepath.Base(p) == "git-loop" {
		return p, nil
	}
	return "", ErrNoHookBinary
}
