// Package worktreeinclude copies into a new worktree the ignored files
// that .worktreeinclude names (a .env, a local config), never through a
// symlink on either side.
package worktreeinclude

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// WorktreeIncludeFile lists gitignored files (such as .env) that a new
// worktree needs copied from the worktree it was created from. Patterns
// use .gitignore syntax; only files that are also ignored are copied, so
// tracked files are never overwritten.
const WorktreeIncludeFile = ".worktreeinclude"

// Copy copies the files .worktreeinclude selects from the
// current worktree into dst. Both sides go through os.Root, so neither a
// symlink in the source nor a tracked symlinked directory in the new
// worktree can make the copy read or write outside its tree.
func Copy(ctx context.Context, s *workspace.Workspace, dst string) error {
	src := s.Repo.TopLevel
	if src == "" {
		src = s.Repo.MainWorktree
	}
	if src == "" {
		return nil
	}
	includeFile := filepath.Join(src, WorktreeIncludeFile)
	if fi, err := os.Lstat(includeFile); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	files, err := includedFiles(ctx, s, src, includeFile)
	if err != nil || len(files) == 0 {
		return err
	}
	srcRoot, err := os.OpenRoot(src)
	if err != nil {
		return fmt.Errorf("copy %s files: %w", WorktreeIncludeFile, err)
	}
	defer srcRoot.Close()
	dstRoot, err := os.OpenRoot(dst)
	if err != nil {
		return fmt.Errorf("copy %s files: %w", WorktreeIncludeFile, err)
	}
	defer dstRoot.Close()
	for _, rel := range files {
		if err := copyOne(srcRoot, dstRoot, rel); err != nil {
			s.Reporter().Warn(fmt.Sprintf("%s: not copied: %v", rel, err))
			continue
		}
		s.Reporter().Step("copied " + rel)
	}
	return nil
}

// includedFiles lists untracked files matching .worktreeinclude that git
// also ignores.
func includedFiles(ctx context.Context, s *workspace.Workspace, src, includeFile string) ([]string, error) {
	matched, err := s.Query.Output(ctx, git.Cmd{Dir: src, Args: []string{"ls-files", "-z", "--others", "--ignored", "--exclude-from=" + includeFile}})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", includeFile, err)
	}
	candidates := workspace.SplitZ(matched)
	if len(candidates) == 0 {
		return nil, nil
	}
	var stdin bytes.Buffer
	for _, c := range candidates {
		stdin.WriteString(c)
		stdin.WriteByte(0)
	}
	ignored, err := s.Query.Output(ctx, git.Cmd{Dir: src, Args: []string{"check-ignore", "-z", "--stdin"}, Stdin: &stdin})
	var ge *git.Error
	if errors.As(err, &ge) && ge.Code == 1 {
		return nil, nil // none of them is ignored
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", includeFile, err)
	}
	var out []string
	for _, f := range workspace.SplitZ(ignored) {
		if filepath.IsLocal(f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// copyOne copies a regular file or a symlink (as a link, never its target)
// from src to dst at rel, creating parent directories.
func copyOne(src, dst *os.Root, rel string) error {
	fi, err := src.Lstat(rel)
	if err != nil {
		return err
	}
	if dir := filepath.Dir(rel); dir != "." {
		if err := dst.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := src.Readlink(rel)
		if err != nil {
			return err
		}
		return dst.Symlink(target, rel)
	case fi.Mode().IsRegular():
		in, err := src.Open(rel)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := dst.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	default:
		return fmt.Errorf("not a regular file")
	}
}
