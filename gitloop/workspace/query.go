package workspace

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/git"
)

// refs maps every branch, remote-tracking branch and tag to the commit it
// names, in one git call.
func (s *Workspace) Refs(ctx context.Context) (map[string]string, error) {
	out, err := s.Query.Output(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"for-each-ref", "--format=%(refname)%00%(objectname)%00%(*objectname)", "refs/heads", "refs/remotes", "refs/tags"}})
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	refs := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\x00")
		if len(f) != 3 {
			continue
		}
		sha := f[1]
		if f[2] != "" {
			sha = f[2] // annotated tag: the commit it points at
		}
		refs[f[0]] = sha
	}
	return refs, nil
}

// dirtyFiles lists changed and untracked paths of a worktree (nothing when
// it does not exist).
func (s *Workspace) DirtyFiles(ctx context.Context, wt string) ([]string, error) {
	if !Exists(wt) {
		return nil, nil
	}
	out, err := s.Query.Output(ctx, git.Cmd{Dir: wt, Args: []string{"status", "--porcelain=v1", "-z"}})
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", wt, err)
	}
	var files []string
	for _, rec := range SplitZ(out) {
		if len(rec) > 3 && rec[2] == ' ' {
			files = append(files, rec[3:])
		}
	}
	return files, nil
}

func SplitZ(b []byte) []string {
	var out []string
	for _, f := range strings.Split(string(b), "\x00") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

func ShortRef(ref string) string {
	for _, p := range []string{"refs/heads/", "refs/tags/", "refs/remotes/"} {
		if strings.HasPrefix(ref, p) {
			return strings.TrimPrefix(ref, p)
		}
	}
	return ref
}

// refSHA returns the sha a ref points at and whether it exists.
func (s *Workspace) RefSHA(ctx context.Context, ref string) (string, bool, error) {
	sha, err := s.Query.Line(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"rev-parse", "--verify", "--quiet", ref}})
	var ge *git.Error
	if errors.As(err, &ge) && ge.Code == 1 {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return sha, true, nil
}

// excludesFile is core.excludesFile as git resolves it, asked once per
// Workspace (it is user-wide, not per worktree).
func (s *Workspace) ExcludesFile(ctx context.Context) string {
	s.excludesOnce.Do(func() {
		s.excludes, _ = s.Query.Line(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"config", "--path", "core.excludesFile"}})
	})
	return s.excludes
}

// ShortSHA abbreviates a commit id for people, as git's default
// core.abbrev does at its minimum.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
