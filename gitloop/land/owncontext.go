package land

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// A docker or bwrap loop's context layers are clones of its own
// (contexts.OwnsContexts). Landing one never runs git in that clone:
// promote fetches the loop's branch through git-remote-gitloop into the
// loop's host-only landing repository (fsck, size cap, timeout), checks
// it for vault values there, merges a moved main there (git merge-tree:
// no worktree, nothing of the loop's config), and pushes from the user's
// clone with the user's credentials. The user's clone gets the objects
// only once they passed the checks, right before the push (so what a
// check refuses never enters the object store every loop reads; and a
// push's remote-tracking ref never names an object the clone lacks). Sync and the commits promote -a makes
// go the other way by git run inside the sandbox: the objects are already
// there (the clone borrows the user's object store), so nothing is
// written into the loop's clone by the host, and whatever the clone's
// config or hooks say runs where the agent already runs.

// ownTarget is a target of a loop's own context clone.
func ownTarget(ctx context.Context, s *workspace.Workspace, m *state.Meta, c *state.ContextWorktree, sshEnv []string) (target, error) {
	t := target{layer: workspace.Layer(c.Layer), dir: c.Dir, branch: c.Branch, main: "refs/heads/main", env: sshEnv, own: c, meta: m, clone: c.Clone}
	if err := fillRemote(ctx, s, &t, c.Clone); err != nil {
		return t, err
	}
	if err := t.refetch(ctx, s); err != nil {
		return t, err
	}
	return t, nil
}

// refetch brings the loop's branch into the landing repository.
func (t *target) refetch(ctx context.Context, s *workspace.Workspace) error {
	f, err := contexts.FetchOwn(ctx, s, t.meta, *t.own, false)
	if err != nil {
		return err
	}
	t.landing, t.head = f.Landing, f.Head
	return nil
}

// tipRef is the landing repository's ref of what promote pushes (the
// loop's branch, or a merge of main into it made there).
func tipRef(name string) string { return transport.Quarantine(name) + "tip" }

// share brings what promote lands (tipRef, checked) from the landing
// repository into the user's clone, objects only: no ref of the clone's
// moves. The landing repository is the host's own (config written by git
// loop), so the local fetch runs nothing of the loop's.
func (t target) share(ctx context.Context, s *workspace.Workspace, name string) error {
	if err := s.Git.Run(ctx, git.Cmd{Dir: t.clone, Label: t.label(), Args: []string{"fetch", "-q", "--no-tags", "--no-write-fetch-head", t.landing, tipRef(name)}}); err != nil {
		return fmt.Errorf("%s: %w", t.layer, err)
	}
	return nil
}

// promoteOwn is promoteTarget for a loop's own context clone.
func promoteOwn(ctx context.Context, s *workspace.Workspace, m *state.Meta, t target, rs *RunState, opts PromoteOptions) (Landed, error) {
	res := Landed{Layer: t.layer, Action: "nothing"}
	if rs.CommitAll {
		if err := commitInside(ctx, s, m, t, rs.Message); err != nil {
			return res, err
		}
		if err := t.refetch(ctx, s); err != nil {
			return res, err
		}
	}
	if err := fetch(ctx, s, t); err != nil {
		return res, err
	}
	if t.head == "" {
		return res, nil
	}
	track := revParse(ctx, s, t.clone, t.track)
	ahead, err := countNot(ctx, s, t.landing, t.head, track)
	if err != nil || ahead == 0 {
		return res, err
	}
	s.Reporter().Step(fmt.Sprintf("promoting %s of %s", t.layer, m.Name))
	tip, err := mergeOnHost(ctx, s, m, t, t.head, track)
	if err != nil {
		return res, err
	}
	res.Commit = tip
	if Gate(s, t.layer) == GateReview {
		return proposeOwn(ctx, s, m, t, res, opts)
	}
	return landOwn(ctx, s, m, t, res, tip)
}

// countNot counts the commits of head that base lacks (all of head's
// when base is "").
func countNot(ctx context.Context, s *workspace.Workspace, repo, head, base string) (int, error) {
	args := []string{"rev-list", "--count", head}
	if base != "" {
		args = append(args, "--not", base)
	}
	out, err := s.Query.Line(ctx, git.Cmd{Dir: repo, Args: args})
	if err != nil {
		return 0, err
	}
	var n int
	_, err = fmt.Sscan(out, &n)
	return n, err
}

// mergeOnHost returns what lands: head when main (track) is already in
// it, else a merge of main into head made in the landing repository. A
// merge with conflicts is not made: they are resolved inside the loop,
// after a sync.
func mergeOnHost(ctx context.Context, s *workspace.Workspace, m *state.Meta, t target, head, track string) (string, error) {
	if track != "" {
		if ok, err := isAncestor(ctx, s, t.landing, track, head); err != nil {
			return "", err
		} else if !ok {
			out, err := s.Query.Output(ctx, git.Cmd{Dir: t.landing, Args: []string{"merge-tree", "--write-tree", "--name-only", "--no-messages", head, track}})
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			var ge *git.Error
			switch {
			case errors.As(err, &ge) && ge.Code == 1:
				return "", fmt.Errorf("%s: %s moved and does not merge cleanly with loop %s's work (%s); run \"git loop sync %s\", resolve the conflict in %s (inside the loop), then promote again",
					t.layer, strings.TrimPrefix(t.track, "refs/remotes/"), m.Name, workspace.Summarize(lines[1:], 3), m.Name, t.dir)
			case err != nil:
				return "", fmt.Errorf("%s: merging main: %w", t.layer, err)
			}
			msg := fmt.Sprintf("Merge %s into %s", strings.TrimPrefix(t.track, "refs/remotes/"), strings.TrimPrefix(t.branch, "refs/heads/"))
			merged, err := s.Git.Output(ctx, git.Cmd{Dir: t.landing, Label: t.label(), Args: []string{"commit-tree", lines[0], "-p", head, "-p", track, "-m", msg}})
			if err != nil {
				return "", fmt.Errorf("%s: merging main: %w", t.layer, err)
			}
			head = strings.TrimSpace(string(merged))
		}
	}
	if err := s.Git.Run(ctx, git.Cmd{Dir: t.landing, Label: t.label(), Args: []string{"update-ref", tipRef(m.Name), head}}); err != nil {
		return "", err
	}
	return head, nil
}

// checkOwn refuses a push of tip that would carry a vault value.
func (t target) checkOwn(ctx context.Context, s *workspace.Workspace, loop, tip string) error {
	return t.leaks.Check(ctx, loop, t.layer, t.landing, revParse(ctx, s, t.clone, t.track), tip)
}

// landOwn pushes tip to main from the user's clone; a push rejected
// because main moved is followed by fetch and a new host merge, a bounded
// number of times.
func landOwn(ctx context.Context, s *workspace.Workspace, m *state.Meta, t target, res Landed, tip string) (Landed, error) {
	if t.remote == "" {
		// main lives in the user's clone only: it gets the objects (they
		// passed the check) and moves by compare-and-swap.
		if err := t.checkOwn(ctx, s, m.Name, tip); err != nil {
			return res, err
		}
		old := revParse(ctx, s, t.clone, t.main)
		if err := t.share(ctx, s, m.Name); err != nil {
			return res, err
		}
		if err := s.Git.Run(ctx, git.Cmd{Dir: t.clone, Label: t.label(), Args: []string{"update-ref", "-m", "git loop promote " + m.Name, t.main, tip, old}}); err != nil {
			return res, fmt.Errorf("%s: %s moved while promoting; run the promote again: %w", t.layer, t.main, err)
		}
		res.Action, res.Ref = "pushed", t.main
		return res, nil
	}
	for attempt := 1; ; attempt++ {
		res.Pushes, res.Commit = attempt, tip
		if err := t.checkOwn(ctx, s, m.Name, tip); err != nil {
			return res, err
		}
		if err := t.share(ctx, s, m.Name); err != nil {
			return res, err
		}
		perr := s.Git.Run(ctx, git.Cmd{Dir: t.clone, Label: t.label(), Env: t.env, Args: []string{"push", "-q", t.remote, tip + ":" + t.remoteMain}})
		if perr == nil || s.Git.DryRun {
			res.Action, res.Ref = "pushed", t.remote+"/"+strings.TrimPrefix(t.remoteMain, "refs/heads/")
			return res, nil
		}
		if attempt == promotePushTries {
			return res, fmt.Errorf("%s: gave up after %d pushes: %w", t.layer, attempt, perr)
		}
		if err := fetch(ctx, s, t); err != nil {
			return res, err
		}
		track := revParse(ctx, s, t.clone, t.track)
		if ok, _ := isAncestor(ctx, s, t.landing, tip, track); ok {
			res.Action, res.Ref = "pushed", t.remote+"/"+strings.TrimPrefix(t.remoteMain, "refs/heads/")
			return res, nil
		}
		if ok, err := isAncestor(ctx, s, t.landing, track, tip); err != nil {
			return res, err
		} else if ok {
			return res, fmt.Errorf("%s: push: %w", t.layer, perr)
		}
		var err error
		if tip, err = mergeOnHost(ctx, s, m, t, tip, track); err != nil {
			return res, err
		}
	}
}

// proposeOwn makes a gated layer's proposal from a loop's own clone: the
// branch loop/NAME, in the user's clone (solo: review merges it there) or
// pushed to the shared remote.
func proposeOwn(ctx context.Context, s *workspace.Workspace, m *state.Meta, t target, res Landed, opts PromoteOptions) (Landed, error) {
	res.Action, res.Ref = "proposed", strings.TrimPrefix(t.branch, "refs/heads/")
	if err := t.checkOwn(ctx, s, m.Name, res.Commit); err != nil {
		return res, err
	}
	// The record of what was proposed (ProposalRef), in the user's clone
	// where review looks for it.
	record := func() error {
		if err := s.Git.Run(ctx, git.Cmd{Dir: t.clone, Label: t.label(), Args: []string{"update-ref", ProposalRef(t.layer, m.Name), res.Commit}}); err != nil {
			return fmt.Errorf("%s: recording the proposal: %w", t.layer, err)
		}
		return nil
	}
	if t.remote == "" || solo(ctx, s, t) {
		// The proposal is a local branch of the user's clone.
		if err := s.Git.Run(ctx, git.Cmd{Dir: t.clone, Label: t.label(), Args: []string{"fetch", "-q", t.landing, "+" + tipRef(m.Name) + ":" + t.branch}}); err != nil {
			return res, err
		}
		return res, record()
	}
	if err := t.share(ctx, s, m.Name); err != nil {
		return res, err
	}
	if err := s.Git.Run(ctx, git.Cmd{Dir: t.clone, Label: t.label(), Env: t.env, Args: []string{"push", "-q", "--force-with-lease", t.remote, res.Commit + ":" + t.branch}}); err != nil {
		return res, fmt.Errorf("%s: pushing the proposal: %w", t.layer, err)
	}
	if err := record(); err != nil {
		return res, err
	}
	return pullRequest(ctx, s, t, res, opts)
}

// identityEnv is the user's identity, as git config in dir has it, for
// the commits git makes inside a sandbox on the user's behalf (a sync's
// merge, promote -a, a merge of main): the sandbox's own git config has
// none, or the agent's. Empty values are left to the sandbox.
func identityEnv(ctx context.Context, s *workspace.Workspace, dir string) map[string]string {
	env := map[string]string{"GIT_MERGE_AUTOEDIT": "no"}
	for key, vars := range map[string][]string{"user.name": {"GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"}, "user.email": {"GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"}} {
		if v, _ := s.Query.Line(ctx, git.Cmd{Dir: dir, Args: []string{"config", "--get", key}}); v != "" {
			for _, k := range vars {
				env[k] = v
			}
		}
	}
	return env
}

// commitInside commits every change of a loop's own context clone, by
// git inside its sandbox (promote -a).
func commitInside(ctx context.Context, s *workspace.Workspace, m *state.Meta, t target, msg string) error {
	_, code, err := contexts.ExecIn(ctx, s, m, *t.own, identityEnv(ctx, s, t.clone),
		`git add -A && { git diff --cached --quiet || git commit -q -m "$1"; }`, msg)
	if err == nil && code != 0 {
		err = fmt.Errorf("%s: committing in loop %s's sandbox failed", t.layer, m.Name)
	}
	return err
}

// syncScript merges the user's main ($1) into the loop's branch inside
// the sandbox, and keeps it as refs/remotes/origin/main there. On a
// conflict the merge stays in progress, the conflicted files are printed
// and it exits 1.
const syncScript = `exec 3>&1 1>&2
git update-ref refs/remotes/origin/main "$1"
git merge-base --is-ancestor "$1" HEAD && exit 0
git merge -q --no-edit -m "$2" "$1" && exit 0
files=$(git diff --name-only --diff-filter=U)
[ -n "$files" ] || exit 2
printf '%s\n' "$files" >&3
exit 1`

// syncOwn merges the user's main into a loop's own context clone, inside
// its sandbox. It returns the conflicted files of a merge left in
// progress.
func syncOwn(ctx context.Context, s *workspace.Workspace, m *state.Meta, t target, track string) ([]string, error) {
	msg := fmt.Sprintf("Merge %s into %s", strings.TrimPrefix(t.track, "refs/remotes/"), strings.TrimPrefix(t.branch, "refs/heads/"))
	if err := contexts.GiveCommit(ctx, s, m, *t.own, track); err != nil {
		return nil, err
	}
	out, code, err := contexts.ExecIn(ctx, s, m, *t.own, identityEnv(ctx, s, t.clone), syncScript, track, msg)
	if err != nil {
		return nil, err
	}
	if code == 1 {
		return splitLines(out), nil
	}
	return nil, nil
}

func splitLines(out string) []string {
	var files []string
	for _, f := range strings.Split(out, "\n") {
		if f = strings.TrimSpace(f); f != "" {
			files = append(files, f)
		}
	}
	return files
}

// continueScript concludes a stopped merge inside the sandbox: conflicted
// files still holding markers are printed (exit 1); the others are added
// and the merge committed.
const continueScript = `exec 3>&1 1>&2
still=$(git diff --name-only -z --diff-filter=U | xargs -0 -r grep -l -e '^<<<<<<< ' -e '^>>>>>>> ' --)
if [ -n "$still" ]; then printf '%s\n' "$still" >&3; exit 1; fi
git diff --name-only -z --diff-filter=U | xargs -0 -r git add --
git rev-parse -q --verify MERGE_HEAD >/dev/null || exit 0
git commit -q --no-edit`

// ownAbortScript undoes a stopped merge inside the sandbox, back to $1.
const ownAbortScript = `exec 1>&2
git rev-parse -q --verify MERGE_HEAD >/dev/null && git merge --abort
[ -z "$1" ] || [ "$(git rev-parse HEAD)" = "$1" ] || git reset -q "$1"`

// ownStopped finds the own context clone a stopped run stopped in.
func ownStopped(s *workspace.Workspace, rs *RunState) (*state.Meta, *state.ContextWorktree) {
	m, err := s.Get(rs.Loop)
	if err != nil {
		return nil, nil
	}
	for i := range m.Contexts {
		if c := &m.Contexts[i]; c.Own && filepath.Clean(c.Dir) == filepath.Clean(rs.Stopped) {
			return m, c
		}
	}
	return nil, nil
}

// concludeOwn is concludeMerge in a loop's own context clone.
func concludeOwn(ctx context.Context, s *workspace.Workspace, rs *RunState, m *state.Meta, c *state.ContextWorktree) error {
	out, code, err := contexts.ExecIn(ctx, s, m, *c, identityEnv(ctx, s, c.Clone), continueScript)
	if err != nil {
		return err
	}
	if code == 1 {
		return &workspace.ConflictError{Loop: rs.Loop, Op: rs.Op, Layer: rs.Layers[0], Dir: c.Dir, Files: splitLines(out)}
	}
	return nil
}

// abortOwn is abortRun in a loop's own context clone.
func abortOwn(ctx context.Context, s *workspace.Workspace, rs *RunState, m *state.Meta, c *state.ContextWorktree) error {
	if _, _, err := contexts.ExecIn(ctx, s, m, *c, nil, ownAbortScript, rs.OrigHeads[string(rs.Layers[0])]); err != nil {
		return err
	}
	clearRunState(s, rs.Loop)
	return nil
}
