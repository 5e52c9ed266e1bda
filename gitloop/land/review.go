package land

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/leakscan"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Proposal is a gated layer's change waiting for review: a loop branch
// ahead of the layer's main.
type Proposal struct {
	ID     string          `json:"id"` // layer/NAME
	Layer  workspace.Layer `json:"layer"`
	Loop   string          `json:"loop"`
	Branch string          `json:"branch"` // full ref
	Commit string          `json:"commit"`
	Main   string          `json:"main"` // the ref it lands on (remote-tracking when there is a remote)
	Ahead  int             `json:"ahead"`
	Behind int             `json:"behind"`
	// Repo is the repository holding the branch (the knowledge clone or
	// the code repo).
	Repo string `json:"repo"`

	t target
}

// Proposals lists the proposals of the knowledge layer (every loop branch
// of its clone, whichever repository's loop made it) and of this
// repository's code, when their gate is review.
func Proposals(ctx context.Context, s *workspace.Workspace) ([]Proposal, error) {
	var out []Proposal
	if Gate(s, workspace.Knowledge) == GateReview {
		ps, err := knowledgeProposals(ctx, s)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	if Gate(s, Code) == GateReview {
		ps, err := codeProposals(ctx, s)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

func knowledgeProposals(ctx context.Context, s *workspace.Workspace) ([]Proposal, error) {
	clone, err := s.LayerClone(workspace.Knowledge)
	if errors.Is(err, workspace.ErrNoContext) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t := target{layer: workspace.Knowledge, dir: clone, main: "refs/heads/main"}
	if err := fillRemote(ctx, s, &t, clone); err != nil {
		return nil, err
	}
	prefix := "refs/heads/" + s.Config.BranchPrefix()
	refs, err := s.Query.Line(ctx, git.Cmd{Dir: clone, Args: []string{"for-each-ref", "--format=%(refname)", strings.TrimSuffix(prefix, "/")}})
	if err != nil {
		return nil, err
	}
	var out []Proposal
	for _, ref := range strings.Fields(refs) {
		name, ok := strings.CutPrefix(ref, prefix)
		if !ok {
			continue
		}
		pt := t
		pt.branch = ref
		if p, ok, err := proposal(ctx, s, pt, name, clone); err != nil {
			return nil, err
		} else if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func codeProposals(ctx context.Context, s *workspace.Workspace) ([]Proposal, error) {
	metas, _ := s.Store().List()
	var out []Proposal
	for _, m := range metas {
		if !strings.HasPrefix(m.BaseRef, "refs/heads/") {
			continue
		}
		t := target{layer: Code, dir: m.Worktree, branch: m.Branch, main: m.BaseRef}
		if err := fillRemote(ctx, s, &t, s.Repo.CommonDir); err != nil {
			return nil, err
		}
		if p, ok, err := proposal(ctx, s, t, m.Name, s.Repo.CommonDir); err != nil {
			return nil, err
		} else if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// proposal describes what loop name proposed for t's layer, when it is
// still ahead of main: the commit promote recorded, or, from a version
// that recorded none, the branch as pushed to a shared remote. A loop
// branch never promoted is no proposal, however far ahead it is.
func proposal(ctx context.Context, s *workspace.Workspace, t target, name, repo string) (Proposal, bool, error) {
	head := revParse(ctx, s, repo, ProposalRef(t.layer, name))
	if head == "" && t.remote != "" && !solo(ctx, s, t) {
		head = revParse(ctx, s, repo, "refs/remotes/"+t.remote+"/"+strings.TrimPrefix(t.branch, "refs/heads/"))
	}
	main := revParse(ctx, s, repo, t.track)
	if head == "" || main == "" {
		return Proposal{}, false, nil
	}
	out, err := s.Query.Line(ctx, git.Cmd{Dir: repo, Args: []string{"rev-list", "--left-right", "--count", head + "..." + main}})
	if err != nil {
		return Proposal{}, false, err
	}
	a, b, _ := strings.Cut(out, "\t")
	ahead, _ := strconv.Atoi(a)
	behind, _ := strconv.Atoi(b)
	if ahead == 0 {
		return Proposal{}, false, nil
	}
	return Proposal{ID: string(t.layer) + "/" + name, Layer: t.layer, Loop: name, Branch: t.branch, Commit: head, Main: t.track,
		Ahead: ahead, Behind: behind, Repo: repo, t: t}, true, nil
}

// FindProposal resolves "layer/NAME", or a bare NAME when only one layer
// has a proposal of that name.
func FindProposal(ctx context.Context, s *workspace.Workspace, id string) (Proposal, error) {
	ps, err := Proposals(ctx, s)
	if err != nil {
		return Proposal{}, err
	}
	var found []Proposal
	for _, p := range ps {
		if p.ID == id || p.Loop == id {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Proposal{}, &workspace.UsageError{Err: fmt.Errorf("no proposal %q (see \"git loop review ls\")", id)}
	default:
		return Proposal{}, &workspace.UsageError{Err: fmt.Errorf("%q names proposals in several layers; say %s/%s or %s/%s", id, found[0].Layer, id, found[1].Layer, id)}
	}
}

// ProposalDiff is the command showing what a proposal changes: the diff
// from where it left main to its tip.
func (p Proposal) ProposalDiff(stat bool) git.Cmd {
	args := []string{"diff"}
	if stat {
		args = append(args, "--stat")
	}
	return git.Cmd{Dir: p.Repo, Args: append(args, p.Main+"..."+p.Branch, "--")}
}

// MergeProposal lands a proposal with a merge commit (never a fast
// forward, so the review is one revertable commit), computed with
// merge-tree and commit-tree so no worktree is touched, and pushed (or,
// without a remote, moved into main by compare-and-swap). A proposal that
// conflicts with main is refused: sync or promote the loop again first.
//
// With a dry-run runner (s.Git.DryRun) it fetches nothing and changes
// nothing: it checks the merge against main as last fetched and prints
// the git commands that would land it (Action "would merge").
func MergeProposal(ctx context.Context, s *workspace.Workspace, id string) (Landed, error) {
	p, err := FindProposal(ctx, s, id)
	if err != nil {
		return Landed{}, err
	}
	t, repo := p.t, p.Repo
	res := Landed{Layer: p.Layer, Action: "merged"}
	if s.Git.DryRun {
		res.Action = "would merge"
	}
	label := string(p.Layer) + ":review"
	leaks := leakscan.New(s)
	for attempt := 1; ; attempt++ {
		if t.remote != "" {
			if err := s.Git.Run(ctx, git.Cmd{Dir: repo, Label: label, Args: []string{"fetch", "-q", t.remote, "+" + t.remoteMain + ":" + t.track}}); err != nil {
				return res, err
			}
		}
		main := revParse(ctx, s, repo, t.track)
		tree, err := s.Query.Line(ctx, git.Cmd{Dir: repo, Args: []string{"merge-tree", "--write-tree", "--no-messages", main, p.Commit}})
		if err != nil {
			return res, fmt.Errorf("proposal %s conflicts with %s; run \"git loop sync %s\", resolve, and promote again", p.ID, t.track, p.Loop)
		}
		tree = workspace.FirstLine(tree)
		msg := fmt.Sprintf("Merge %s (%s) into %s", strings.TrimPrefix(p.Branch, "refs/heads/"), p.Layer, strings.TrimPrefix(t.main, "refs/heads/"))
		commit, err := s.Git.Output(ctx, git.Cmd{Dir: repo, Label: label, Args: []string{"commit-tree", tree, "-p", main, "-p", p.Commit, "-m", msg}})
		if err != nil {
			return res, err
		}
		sha := strings.TrimSpace(string(commit))
		if s.Git.DryRun {
			sha = "MERGE" // what commit-tree would have printed
		} else {
			res.Commit = sha
		}
		if t.remote == "" {
			if err := s.Git.Run(ctx, git.Cmd{Dir: repo, Label: label, Args: []string{"update-ref", "-m", "git loop review merge " + p.ID, t.main, sha, main}}); err != nil {
				if attempt < 3 {
					continue // main moved under us: merge onto the new one
				}
				return res, err
			}
			res.Ref = t.main
			dropProposalRef(ctx, s, p, label)
			return res, nil
		}
		if !s.Git.DryRun {
			if err := leaks.Check(ctx, p.Loop, p.Layer, repo, t.track, sha); err != nil {
				return res, err
			}
		}
		perr := s.Git.Run(ctx, git.Cmd{Dir: repo, Label: label, Args: []string{"push", "-q", t.remote, sha + ":" + t.remoteMain}})
		if perr != nil {
			if attempt < promotePushTries {
				continue
			}
			return res, perr
		}
		res.Ref = t.remote + "/" + strings.TrimPrefix(t.remoteMain, "refs/heads/")
		_ = s.Git.Run(ctx, git.Cmd{Dir: repo, Label: label, Args: []string{"fetch", "-q", t.remote, "+" + t.remoteMain + ":" + t.track}})
		if !solo(ctx, s, t) {
			// The pushed proposal branch has served its purpose.
			_ = s.Git.Run(ctx, git.Cmd{Dir: repo, Label: label, Args: []string{"push", "-q", t.remote, "--delete", p.Branch}})
		}
		dropProposalRef(ctx, s, p, label)
		return res, nil
	}
}

// DiscardProposal drops a proposal: the branch is kept under
// refs/loop-discarded/ (so nothing is lost), then moved back to main in
// the worktree that has it checked out (or deleted when none has), and a
// pushed copy is deleted from the remote.
func DiscardProposal(ctx context.Context, s *workspace.Workspace, id string) (backup string, err error) {
	p, err := FindProposal(ctx, s, id)
	if err != nil {
		return "", err
	}
	label := string(p.Layer) + ":review"
	backup = fmt.Sprintf("refs/loop-discarded/%s/%s-%d", p.Layer, p.Loop, s.Clock().Unix())
	// The branch itself, which may have moved on since it was proposed:
	// discarding resets it to main.
	keep := revParse(ctx, s, p.Repo, p.Branch)
	if keep == "" {
		keep = p.Commit
	}
	if err := s.Git.Run(ctx, git.Cmd{Dir: p.Repo, Label: label, Args: []string{"update-ref", backup, keep, ""}}); err != nil {
		return "", err
	}
	dropProposalRef(ctx, s, p, label)
	wt, err := checkedOutIn(ctx, s, p.Repo, p.Branch)
	if err != nil {
		return "", err
	}
	if wt != "" {
		if err := s.Git.Run(ctx, git.Cmd{Dir: wt, Label: label, Args: []string{"reset", "-q", "--keep", p.Main}}); err != nil {
			return "", fmt.Errorf("discard %s: %w (commit or stash the changes in %s first)", p.ID, err, wt)
		}
	} else if err := s.Git.Run(ctx, git.Cmd{Dir: p.Repo, Label: label, Args: []string{"branch", "-D", strings.TrimPrefix(p.Branch, "refs/heads/")}}); err != nil {
		return "", err
	}
	if p.t.remote != "" && !solo(ctx, s, p.t) {
		if ok, _ := s.Query.Succeeds(ctx, git.Cmd{Dir: p.Repo, Args: []string{"ls-remote", "--exit-code", "--heads", p.t.remote, p.Branch}}); ok {
			if err := s.Git.Run(ctx, git.Cmd{Dir: p.Repo, Label: label, Args: []string{"push", "-q", p.t.remote, "--delete", p.Branch}}); err != nil {
				return backup, err
			}
		}
	}
	return backup, nil
}

// dropProposalRef forgets a proposal that was merged or discarded. The
// work is on main or under refs/loop-discarded/ by then, so a failure
// costs only a stale "proposed" in status, which the next promote fixes.
func dropProposalRef(ctx context.Context, s *workspace.Workspace, p Proposal, label string) {
	if s.Git.DryRun {
		return
	}
	_ = s.Git.Run(ctx, git.Cmd{Dir: p.Repo, Label: label, Args: []string{"update-ref", "-d", ProposalRef(p.Layer, p.Loop)}})
}

// checkedOutIn finds the worktree of repo that has branch checked out.
func checkedOutIn(ctx context.Context, s *workspace.Workspace, repo, branch string) (string, error) {
	out, err := s.Query.Output(ctx, git.Cmd{Dir: repo, Args: []string{"worktree", "list", "--porcelain", "-z"}})
	if err != nil {
		return "", err
	}
	wt := ""
	for _, f := range strings.Split(string(out), "\x00") {
		if p, ok := strings.CutPrefix(f, "worktree "); ok {
			wt = p
		}
		if f == "branch "+branch {
			return wt, nil
		}
	}
	return "", nil
}
