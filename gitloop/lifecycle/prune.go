package lifecycle

import (
	"context"
	"fmt"
	"os"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Pruned describes one loop prune removed.
type Pruned struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
	Kept   string `json:"kept,omitempty"` // what was kept because it holds work
}

// Prune removes loops whose worktree or branch vanished. Whatever still
// holds work is kept: a branch whose worktree was deleted stays (it may
// have commits), and so does a worktree with uncommitted changes whose
// branch was deleted.
func Prune(ctx context.Context, s *workspace.Workspace, dryRun bool) ([]Pruned, error) {
	l, err := Lock(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	defer s.Unlock(l)
	metas, _ := s.Store().List()
	refs, err := s.Refs(ctx)
	if err != nil {
		return nil, err
	}
	var out []Pruned
	for _, m := range metas {
		wtOK, branchOK := workspace.Exists(m.Worktree), refs[m.Branch] != ""
		if wtOK && branchOK {
			continue
		}
		p := Pruned{Name: m.Name, Reason: "worktree and branch are gone"}
		switch {
		case !wtOK && branchOK:
			p.Reason, p.Kept = "worktree is gone", "branch "+m.ShortBranch()
		case wtOK:
			p.Reason = "branch is gone"
			if m.Sandbox.Sealed {
				// Its work may be in its sandbox's clone, where the host
				// runs no git: kept, for "git fetch gitloop::NAME" or rm.
				p.Kept = "its sandbox's clone " + transport.ClonePath(s, m.Name)
				break
			}
			if dirty, err := s.DirtyFiles(ctx, m.Worktree); err != nil || len(dirty) > 0 {
				p.Kept = "worktree files (uncommitted changes), moved under " + s.Store().Root + "/kept/"
			}
		}
		out = append(out, p)
		if dryRun {
			continue
		}
		if err := removeSandbox(ctx, s, m.Sandbox.Driver, m.Name, m.Worktree); err != nil {
			return out, fmt.Errorf("prune %s: %w", m.Name, err)
		}
		if wtOK && p.Kept == "" {
			if err := removeWorktree(ctx, s, m.Worktree, m.Branch); err != nil {
				return out, fmt.Errorf("prune %s: %w", m.Name, err)
			}
		}
		if err := s.Store().RemoveLoopDirKeeping(m.Name, m.Worktree); err != nil {
			return out, fmt.Errorf("prune %s: %w", m.Name, err)
		}
	}
	if !dryRun {
		// Git's own records of worktrees deleted behind its back.
		if err := s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"worktree", "prune"}}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// Init creates the repository's loop state directory and workspace id.
// Running it again changes nothing.
func Init(ctx context.Context, s *workspace.Workspace) (created bool, err error) {
	if _, err := os.Stat(s.Store().LoopsDir()); err == nil {
		_, err := s.Repo.WorkspaceID()
		return false, err
	}
	if err := os.MkdirAll(s.Store().LoopsDir(), 0o755); err != nil {
		return false, fmt.Errorf("init: %w", err)
	}
	if _, err := s.Repo.WorkspaceID(); err != nil {
		return false, fmt.Errorf("init: %w", err)
	}
	return true, nil
}
