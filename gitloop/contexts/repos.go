package contexts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// ReposFile is written into a loop's agent dir: the roster of other
// repositories, and where the ones this loop asked for are mounted.
const ReposFile = "REPOS.md"

// prepareRepos clones (or updates) the roster repositories a loop asked
// for and returns name → clone path.
func PrepareRepos(ctx context.Context, s *workspace.Workspace, names []string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	roster, err := s.Config.Repos()
	if err != nil {
		return nil, err
	}
	byName := map[string]config.RepoEntry{}
	var known []string
	for _, r := range roster {
		byName[r.Name] = r
		known = append(known, r.Name)
	}
	out := map[string]string{}
	for _, n := range names {
		r, ok := byName[n]
		if !ok {
			if len(known) == 0 {
				known = []string{"(none: add repos = [{name, url}] to .gitloop.toml)"}
			}
			return nil, &workspace.UsageError{Err: fmt.Errorf("no repo %q in the roster; repos: %s", n, strings.Join(known, ", "))}
		}
		clone := s.Dirs.RepoClonePath(r)
		if workspace.Exists(filepath.Join(clone, ".git")) {
			if err := s.Git.Run(ctx, git.Cmd{Dir: clone, Label: "repo:" + n, Args: []string{"pull", "-q", "--ff-only"}}); err != nil {
				s.Reporter().Warn(fmt.Sprintf("repo %s: could not update, using the copy from before: %v", n, workspace.FirstLine(err.Error())))
			}
		} else {
			if err := os.MkdirAll(filepath.Dir(clone), 0o755); err != nil {
				return nil, err
			}
			tmp := clone + ".tmp"
			_ = os.RemoveAll(tmp)
			if err := s.Git.Run(ctx, git.Cmd{Label: "repo:" + n, Args: []string{"clone", "-q", "--", r.URL, tmp}}); err != nil {
				return nil, fmt.Errorf("repo %s: %w", n, err)
			}
			if err := os.Rename(tmp, clone); err != nil {
				return nil, err
			}
		}
		out[n] = clone
	}
	return out, nil
}

// writeReposFile lists the roster in the agent dir, with the local paths
// of the repositories mounted (read-only) in this loop.
func WriteReposFile(s *workspace.Workspace, agentDir string, mounted map[string]string) error {
	roster, err := s.Config.Repos()
	if err != nil || len(roster) == 0 {
		return err
	}
	var b strings.Builder
	b.WriteString("# Other repositories\n\nRepositories of this team an agent may read. Ask the user to start the loop with\n`git loop new NAME --repo REPO` to have one mounted read-only.\n\n| repo | url | in this loop |\n|---|---|---|\n")
	for _, r := range roster {
		where := "not mounted"
		if p, ok := mounted[r.Name]; ok {
			where = "`" + p + "` (read-only)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Name, r.URL, where)
	}
	return os.WriteFile(filepath.Join(agentDir, ReposFile), []byte(b.String()), 0o644)
}
