package land

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/leakscan"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// A sealed loop's personal memory is its own copy (contexts.SeedMemory);
// promote of the personal layer lands what the loop changed there since
// it started (or since its last promote) in the user's clone, as a
// commit of those files only, which the personal layer's push then
// takes. The loop's files are read as data (regular files, no link, no
// git repository, bounded) and checked for vault values before anything
// is written; a file both the loop and the user changed is merged line
// by line, keeping both sides (memory is a list of notes).

// memoryChanges is what a loop's own memory changed since its base.
type memoryChanges struct {
	loop   contexts.Memory
	base   contexts.Memory
	write  map[string][]byte // memory path (under memory/) → the loop's content
	remove []string
}

func readMemoryChanges(s *workspace.Workspace, m *state.Meta) (memoryChanges, error) {
	var ch memoryChanges
	var err error
	if ch.loop, err = contexts.ReadLoopMemory(s, m.Name); err != nil {
		return ch, fmt.Errorf("personal: loop %s: %w: nothing landed", m.Name, err)
	}
	if ch.base, err = contexts.ReadMemoryBase(s, m.Name); err != nil {
		return ch, fmt.Errorf("personal: loop %s: %w", m.Name, err)
	}
	ch.write = map[string][]byte{}
	for p, b := range ch.loop.Files {
		if old, ok := ch.base.Files[p]; !ok || !bytes.Equal(old, b) {
			ch.write[p] = b
		}
	}
	for p := range ch.base.Files {
		if _, ok := ch.loop.Files[p]; !ok {
			ch.remove = append(ch.remove, p)
		}
	}
	sort.Strings(ch.remove)
	return ch, nil
}

// checkMemory refuses a loop's memory changes that hold a vault value.
func checkMemory(ctx context.Context, s *workspace.Workspace, m *state.Meta, leaks *leakscan.Scan) error {
	ch, err := readMemoryChanges(s, m)
	if err != nil {
		return err
	}
	return ch.check(ctx, m, leaks)
}

// check refuses ch when what it would write holds a vault value: the
// very bytes then written (the sandbox may change its files meanwhile).
func (ch memoryChanges) check(ctx context.Context, m *state.Meta, leaks *leakscan.Scan) error {
	files := map[string][]byte{}
	for p, b := range ch.write {
		files[contexts.MemoryPath(p)] = b
	}
	return leaks.CheckFiles(ctx, m.Name, workspace.Personal, files)
}

// landMemory writes a loop's memory changes into the user's clone (t.dir)
// and commits them there, those paths only.
func landMemory(ctx context.Context, s *workspace.Workspace, m *state.Meta, t target, msg string) error {
	ch, err := readMemoryChanges(s, m)
	if err != nil {
		return err
	}
	if len(ch.loop.Skipped) > 0 {
		s.Reporter().Warn(fmt.Sprintf("personal: loop %s's memory holds what is not a regular file (%s): not landed", m.Name, strings.Join(ch.loop.Skipped, ", ")))
	}
	if len(ch.write) == 0 && len(ch.remove) == 0 {
		return nil
	}
	if err := ch.check(ctx, m, t.leaks); err != nil {
		return err
	}
	s.Reporter().Step(fmt.Sprintf("landing loop %s's personal memory in %s", m.Name, t.dir))
	if s.Git.DryRun {
		return nil
	}
	user, err := contexts.ReadMemory(t.dir, "memory")
	if err != nil {
		return fmt.Errorf("personal: %w", err)
	}
	root, err := os.OpenRoot(t.dir)
	if err != nil {
		return fmt.Errorf("personal: %w", err)
	}
	defer root.Close()
	var paths []string
	for p, b := range ch.write {
		cur, has := user.Files[p]
		old, hadBase := ch.base.Files[p]
		switch {
		case has && bytes.Equal(cur, b):
			continue // the user has it already
		case has && !(hadBase && bytes.Equal(cur, old)):
			// Changed on both sides: both kept.
			if b, err = mergeUnion(ctx, s, cur, old, b); err != nil {
				return fmt.Errorf("personal: merging %s: %w", contexts.MemoryPath(p), err)
			}
		}
		f := filepath.FromSlash(contexts.MemoryPath(p))
		if err := root.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return fmt.Errorf("personal: %w", err)
		}
		if err := root.WriteFile(f, b, 0o644); err != nil {
			return fmt.Errorf("personal: %w", err)
		}
		paths = append(paths, contexts.MemoryPath(p))
	}
	for _, p := range ch.remove {
		// Only what the user did not change since.
		if cur, has := user.Files[p]; has && bytes.Equal(cur, ch.base.Files[p]) {
			if err := root.Remove(filepath.FromSlash(contexts.MemoryPath(p))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("personal: %w", err)
			}
			paths = append(paths, contexts.MemoryPath(p))
		}
	}
	if len(paths) > 0 {
		sort.Strings(paths)
		specs := make([]string, len(paths))
		for i, p := range paths {
			specs[i] = ":(literal)" + p
		}
		if msg == "" {
			msg = "memory of loop " + m.Name
		}
		for _, args := range [][]string{{"add", "-A", "--"}, {"commit", "-q", "-m", msg, "--"}} {
			if err := s.Git.Run(ctx, git.Cmd{Dir: t.dir, Label: t.label(), Args: append(args, specs...)}); err != nil {
				return fmt.Errorf("personal: %w", err)
			}
		}
	}
	// The loop's memory as landed is the base of its next promote.
	rel, err := filepath.Rel(s.Store().HostDir(m.Name), s.MemoryBaseDir(m.Name))
	if err != nil {
		return err
	}
	return contexts.WriteMemory(s.Store().HostDir(m.Name), rel, ch.loop.Files)
}

// mergeUnion merges a file both the user and a loop changed since base,
// keeping the lines of both sides (git merge-file --union, on files
// outside any repository: no config of one applies).
func mergeUnion(ctx context.Context, s *workspace.Workspace, ours, base, theirs []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "git-loop-memory-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	names := []string{"ours", "base", "theirs"}
	for i, b := range [][]byte{ours, base, theirs} {
		if err := os.WriteFile(filepath.Join(dir, names[i]), b, 0o600); err != nil {
			return nil, err
		}
	}
	return s.Query.Output(ctx, git.Cmd{Dir: dir, Args: []string{"merge-file", "-p", "--union", "ours", "base", "theirs"}})
}
