package lifecycle

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transcript"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// DistillSourceDir is where a distill loop's worktree holds the snapshot of
// the source loop's transcript.
const DistillSourceDir = "source"

// Distill starts a distill loop over source's transcript: a new loop
// (distill-<source> unless named) whose worktree holds the transcript under
// source/, with the distill doctrine as its strongest tier and knowledge
// writable, on the source's sandbox driver unless told otherwise. Its job
// is to turn the session into knowledge proposals.
func Distill(ctx context.Context, s *workspace.Workspace, source, name string, opts NewOptions) (*state.Meta, error) {
	src, err := s.Get(source)
	if err != nil {
		return nil, err
	}
	if opts.Driver == "" {
		opts.Driver = src.Sandbox.Driver // where the source ran works here too
	}
	if name == "" {
		name = "distill-" + source
	}
	opts.Name, opts.DistillFrom = name, source
	return New(ctx, s, opts)
}

// snapshotTranscript copies a loop's transcript (the agent's session files
// and the run logs) into dst/source/, ignored by git so the worktree stays
// clean. Only regular files are copied: a symlink in an agent dir never
// leads the copy elsewhere.
func snapshotTranscript(s *workspace.Workspace, source, worktree string) error {
	out := filepath.Join(worktree, DistillSourceDir)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// Ignore everything in source/, this file included.
	if err := os.WriteFile(filepath.Join(out, ".gitignore"), []byte("*\n"), 0o644); err != nil {
		return err
	}
	copied := 0
	for _, root := range []struct{ dir, prefix, base string }{
		{s.AgentDir(source), "agent", s.Store().LoopDir(source)},
		{s.LogDir(source), "log", s.Store().HostDir(source)},
	} {
		err := filepath.WalkDir(root.dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(root.dir, p)
			if root.prefix == "agent" && !isTranscriptFile(rel) {
				return nil
			}
			dst := filepath.Join(out, root.prefix, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			copied++
			return copyFile(root.base, p, dst)
		})
		if err != nil {
			return fmt.Errorf("snapshot transcript of %s: %w", source, err)
		}
	}
	if copied == 0 {
		s.Reporter().Warn(fmt.Sprintf("loop %s has no transcript yet: source/ is empty", source))
	}
	return nil
}

// isTranscriptFile picks the agents' session files out of an agent dir:
// Claude's projects/**.jsonl and Codex's sessions/**.
func isTranscriptFile(rel string) bool {
	rel = filepath.ToSlash(rel)
	return strings.HasPrefix(rel, "projects/") && strings.HasSuffix(rel, ".jsonl") || strings.HasPrefix(rel, "sessions/")
}

// copyFile copies src, read as hostile data under base (see
// transcript.OpenUnder: the agent dir is the sandbox's, and a file checked
// regular by the walk may be a symlink by the time it is opened).
func copyFile(base, src, dst string) error {
	in, err := transcript.OpenUnder(base, src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
