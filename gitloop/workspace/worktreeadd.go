package workspace

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/git"
)

// directWorktrees reports whether new worktrees of the repository whose
// main worktree is top may be written by git.StartWorktree itself rather
// than by "git worktree add": only when git's add would write nothing
// more than those files. That rules out, besides what the in-process
// config reading already refuses (any extension, such as worktreeConfig,
// refStorage or relativeWorktrees; a bare repository; core.worktree):
// sparse checkout, whose patterns git copies into the new worktree, and
// worktree.useRelativePaths. When unsure, git does the add.
func DirectWorktrees(ctx context.Context, top string) bool {
	if top == "" {
		return false
	}
	entries, ok := readGitConfigInProcess(ctx, top, os.LookupEnv, UserDirsFromEnv(os.Getenv).Cache)
	if !ok {
		return false
	}
	for _, e := range entries {
		switch e.Key {
		case "core.sparsecheckout", "worktree.userelativepaths":
			if v := strings.ToLower(e.Value); e.NoValue || (v != "false" && v != "no" && v != "off" && v != "0") {
				return false
			}
		}
	}
	return !Exists(filepath.Join(top, ".git", "info", "sparse-checkout"))
}

// Shortcuts is what the plainGit setting (or GIT_LOOP_PLAIN_GIT) leaves
// of git loop's git shortcuts (gitloop/git/shortcuts.go).
func (s *Workspace) Shortcuts() git.Shortcuts {
	if s.Config == nil {
		return git.Decide("")
	}
	return git.Decide(s.Config.Get("plainGit"))
}
