package workspace

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
)

// Repo is the code repository git loop runs in, found from a directory
// inside any of its worktrees.
type Repo struct {
	CommonDir    string // absolute $GIT_COMMON_DIR
	GitDir       string // this worktree's git dir
	TopLevel     string // this worktree's root; empty in a bare repository
	MainWorktree string // the main worktree's root; empty when bare
}

// StateDir is $GIT_COMMON_DIR/loop.
func (r *Repo) StateDir() string { return filepath.Join(r.CommonDir, "loop") }

// Store is the repo's loop state.
func (r *Repo) Store() state.Store { return state.Store{Root: r.StateDir()} }

// Discover finds the repository containing dir.
func Discover(ctx context.Context, dir string) (*Repo, error) {
	if git.FromEnv(os.LookupEnv).Use(git.RepoDiscovery) {
		if r, ok := discoverFast(dir); ok {
			return r, nil
		}
	}
	var q git.Querier
	out, err := q.Output(ctx, git.Cmd{Dir: dir, Args: []string{"rev-parse", "--path-format=absolute", "--git-common-dir", "--git-dir", "--is-bare-repository"}})
	if err != nil {
		var ge *git.Error
		if errors.As(err, &ge) && strings.Contains(ge.Stderr, "not a git repository") {
			return nil, ErrNotARepo
		}
		return nil, fmt.Errorf("find repository: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("find repository: unexpected git rev-parse output %q", out)
	}
	r := &Repo{CommonDir: filepath.Clean(lines[0]), GitDir: filepath.Clean(lines[1])}
	if lines[2] != "true" {
		top, err := q.Line(ctx, git.Cmd{Dir: dir, Args: []string{"rev-parse", "--show-toplevel"}})
		if err == nil {
			r.TopLevel = filepath.Clean(top)
		}
		// Inside the git dir itself there is no toplevel; fall through.
		if filepath.Base(r.CommonDir) == ".git" {
			r.MainWorktree = filepath.Dir(r.CommonDir)
		} else if r.TopLevel != "" && r.GitDir == r.CommonDir {
			r.MainWorktree = r.TopLevel
		}
	}
	return r, nil
}

// WorkspaceID names this repository in sandbox names and labels. It is
// random, created once and kept in $GIT_COMMON_DIR/loop/id, so moving the
// repo does not orphan its containers, and a repository made again where
// a deleted one was never finds the old one's containers (a name derived
// from the path did: git loop then ran the new loop in a container whose
// mounts were the deleted files, beside whatever the old agent left
// running there).
func (r *Repo) WorkspaceID() (string, error) {
	path := filepath.Join(r.StateDir(), "id")
	if id, ok := readWorkspaceID(path); ok {
		return id, nil
	}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("workspace id: %w", err)
	}
	id := hex.EncodeToString(b)
	if err := os.MkdirAll(r.StateDir(), 0o755); err != nil {
		return "", fmt.Errorf("workspace id: %w", err)
	}
	// Written aside then linked into place: of two commands making the id
	// at once, both end up with the one that got there first.
	tmp, err := os.CreateTemp(r.StateDir(), ".id-*")
	if err != nil {
		return "", fmt.Errorf("workspace id: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(id + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		return "", fmt.Errorf("workspace id: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("workspace id: %w", err)
	}
	if id, ok := readWorkspaceID(path); ok {
		return id, nil
	}
	// An empty file (a crash of an old version mid-write) is replaced.
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("workspace id: %w", err)
	}
	return id, nil
}

func readWorkspaceID(path string) (string, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	id := strings.TrimSpace(string(data))
	return id, id != ""
}
