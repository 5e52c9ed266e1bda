package land

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// A sealed loop's code lands from the host, using loop/NAME as the host
// has it (moved only by a fetch's fast-forward, after fsck): push, proposal
// and review run in the host's repository, never in the sandbox's clone.
// What must change the loop's branch (main merged in, a commit-all, a
// conflict resolved or aborted) runs inside the sandbox, as its user, on
// commits the host pushed in (DESIGN §5, one writer), and comes back by a
// fetch.

// sealedTarget is the code target of a sealed loop: every git command the
// host runs for it runs in the host's repository, on the loop's branch.
func sealedTarget(ctx context.Context, s *workspace.Workspace, m *state.Meta) (target, bool, error) {
	// Fetch first, when the sandbox's branch moved since the last fetch
	// (its ref read as data, as ls does; a ref it cannot read counts as
	// moved): a rewrite is reported by Refresh and the host's branch
	// stands.
	if transport.Moved(s, m) {
		if _, err := transport.Refresh(ctx, s, m); err != nil {
			return target{}, false, err
		}
	} else if err := needRewriteCheck(ctx, s, target{sealed: m}); err != nil {
		// Fetched before: said again, since what lands is not what the
		// sandbox now holds.
		s.Reporter().Warn(fmt.Sprintf("loop %s: its sandbox rewrote %s; the host lands its own %s, the rewrite stays at %shead", m.Name, m.ShortBranch(), m.ShortBranch(), transport.Quarantine(m.Name)))
	}
	if m.BaseRef == "" || !strings.HasPrefix(m.BaseRef, "refs/heads/") {
		s.Reporter().Warn(fmt.Sprintf("code: loop %s started from %s, not a branch; nothing to promote the code onto", m.Name, m.Base))
		return target{}, false, nil
	}
	t := target{layer: Code, dir: s.Repo.CommonDir, common: s.Repo.CommonDir, branch: m.Branch, main: m.BaseRef, sealed: m}
	if err := fillRemote(ctx, s, &t, s.Repo.CommonDir); err != nil {
		return target{}, false, err
	}
	return t, true, nil
}

// insideLog prints, like every mutating git command, what runs inside
// the sandbox (labelled so), and runs nothing.
func insideLog(s *workspace.Workspace, t target, args ...string) {
	dry := &git.Runner{Log: s.Git.Log, DryRun: true}
	_ = dry.Run(context.Background(), git.Cmd{Label: t.label() + " in its sandbox", Args: args})
}

// mergeInsideScript merges each incoming ref named in "$@" (after the
// branch, $1) that HEAD lacks, in order, with the message after it. It
// stops at the first conflict with the merge in progress, listing the
// conflicted files on stdout (NUL-separated), exit 3. Its own chatter goes
// to stderr.
const mergeInsideScript = `exec 3>&1 1>&2
branch=$1; shift
# HEAD and MERGE_HEAD read by the shell: each git started costs more
# than the merge of a few commits (git when the clone's .git is not a
# plain dir).
head=
if [ -d .git ] && [ -f .git/HEAD ]; then read -r head <.git/HEAD; head=${head#ref: }; else head=$(git symbolic-ref -q HEAD); fi
[ "$head" = "$branch" ] || { echo "the sandbox's clone is not on $branch (git switch ${branch#refs/heads/} inside)"; exit 10; }
if [ -e .git/MERGE_HEAD ] || { [ ! -d .git ] && git rev-parse -q --verify MERGE_HEAD >/dev/null; }; then echo "a merge is already in progress in the sandbox's clone"; exit 11; fi
while [ $# -ge 2 ]; do
  ref=$1 msg=$2; shift 2
  if git merge-base --is-ancestor "$ref" HEAD; then git update-ref -d "$ref"; continue; fi
  if ! git -c maintenance.auto=false -c gc.auto=0 merge -q --no-edit -m "$msg" "$ref"; then
    if git rev-parse -q --verify MERGE_HEAD >/dev/null; then git diff --name-only -z --diff-filter=U >&3; exit 3; fi
    exit 12
  fi
  git update-ref -d "$ref"
done`

// mergeRev is a host commit to merge into a sealed loop's branch.
type mergeRev struct {
	sha  string
	name string // how git's own merge message names it ("branch 'main'")
}

// revFor names track as git's merge message would.
func revFor(ctx context.Context, s *workspace.Workspace, track string) mergeRev {
	r := mergeRev{sha: revParse(ctx, s, s.Repo.CommonDir, track)}
	switch {
	case strings.HasPrefix(track, "refs/remotes/"):
		r.name = "remote-tracking branch '" + strings.TrimPrefix(track, "refs/remotes/") + "'"
	case strings.HasPrefix(track, "refs/heads/"):
		r.name = "branch '" + strings.TrimPrefix(track, "refs/heads/") + "'"
	default:
		r.name = "commit '" + r.sha + "'"
	}
	return r
}

// checkoutRev is the commit the user made in the loop's host checkout
// ("git loop checkout"), when the loop's branch lacks it.
func checkoutRev(ctx context.Context, s *workspace.Workspace, m *state.Meta) (mergeRev, bool) {
	dir := transport.CheckoutPath(s, m.Name)
	if dir == "" || !workspace.Exists(dir) {
		return mergeRev{}, false
	}
	sha := revParse(ctx, s, dir, "HEAD")
	if sha == "" {
		return mergeRev{}, false
	}
	if ok, _ := isAncestor(ctx, s, s.Repo.CommonDir, sha, m.Branch); ok {
		return mergeRev{}, false
	}
	return mergeRev{sha: sha, name: "commit '" + sha + "' (the host checkout " + dir + ")"}, true
}

// mergeInside merges revs (those the loop's branch lacks) into a sealed
// loop's branch inside its sandbox: pushed in, merged there, fetched back.
// On a conflict the merge stays in progress inside and the files are
// returned; nothing else moved.
func mergeInside(ctx context.Context, s *workspace.Workspace, t target, revs []mergeRev) (conflicts []string, err error) {
	m := t.sealed
	var shas []string
	args := []string{m.Branch}
	seen := map[string]bool{}
	for _, r := range revs {
		if r.sha == "" || seen[r.sha] {
			continue
		}
		seen[r.sha] = true
		if ok, _ := isAncestor(ctx, s, s.Repo.CommonDir, r.sha, m.Branch); ok {
			continue
		}
		msg := "Merge " + r.name + " into " + m.ShortBranch()
		args = append(args, transport.IncomingPrefix+strconv.Itoa(len(shas)), msg)
		shas = append(shas, r.sha)
	}
	if len(shas) == 0 {
		return nil, nil
	}
	if err := needRewriteCheck(ctx, s, t); err != nil {
		return nil, err
	}
	if !s.Git.DryRun {
		if err := transport.PushIn(ctx, s, m, shas); err != nil {
			return nil, fmt.Errorf("%s: %w", t.layer, err)
		}
	}
	for _, sha := range shas {
		insideLog(s, t, "merge", "-q", "--no-edit", sha)
	}
	if s.Git.DryRun {
		return nil, nil
	}
	// The merge and the fetch of its result in one exec.
	res, err := transport.RefreshAfter(ctx, s, m, &transport.Pre{Script: mergeInsideScript, Args: args, Env: identityEnv(ctx, s, s.Repo.CommonDir)})
	if pe := (*transport.PreError)(nil); errors.As(err, &pe) {
		if pe.Code == 3 {
			files := namesFrom(strings.ReplaceAll(pe.Stdout, "\n", "\x00"))
			if len(files) == 0 {
				files = []string{"(the sandbox named none)"}
			}
			return files, nil
		}
		return nil, fmt.Errorf("%s: merging in loop %s's sandbox failed (exit %d): %s", t.layer, m.Name, pe.Code, workspace.FirstLine(pe.Stderr))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.layer, err)
	}
	if res.Rewritten {
		return nil, rewrittenError(m, res)
	}
	return nil, nil
}

// fetchBack fetches what git did inside, and refuses to go on when the
// sandbox's branch is no longer a descendant of the host's: what it holds
// was rewritten, and the host will not land on top of it.
func fetchBack(ctx context.Context, s *workspace.Workspace, t target) error {
	m := t.sealed
	res, err := transport.Refresh(ctx, s, m)
	if err != nil {
		return fmt.Errorf("%s: %w", t.layer, err)
	}
	if res.Rewritten {
		return rewrittenError(m, res)
	}
	return nil
}

func rewrittenError(m *state.Meta, res transport.FetchResult) error {
	return fmt.Errorf("code: loop %s's sandbox rewrote %s (it is at %.12s there; the host keeps %.12s, and the rewrite is at %shead, not applied): "+
		"make the sandbox's branch contain the host's again (git loop exec %s -- git reset --hard %s), or keep the rewrite by hand (git branch NAME %shead)",
		m.Name, m.ShortBranch(), res.New, res.Old, transport.Quarantine(m.Name), m.Name, res.Old, transport.Quarantine(m.Name))
}

// needRewriteCheck refuses to change a sealed loop's branch inside when
// its sandbox holds a rewrite the host did not apply (the last fetch put
// it in quarantine): a merge or commit there would never come back. What
// needs no change inside (landing loop/NAME as the host has it) goes on.
func needRewriteCheck(ctx context.Context, s *workspace.Workspace, t target) error {
	m := t.sealed
	q := revParse(ctx, s, s.Repo.CommonDir, transport.Quarantine(m.Name)+"head")
	h := revParse(ctx, s, s.Repo.CommonDir, m.Branch)
	if q == "" || h == "" || q == h {
		return nil
	}
	if ok, _ := isAncestor(ctx, s, s.Repo.CommonDir, h, q); ok {
		return nil
	}
	return rewrittenError(m, transport.FetchResult{Old: h, New: q})
}

// commitAllScript commits every change of the clone, with the message $1.
const commitAllScript = `exec 1>&2
git add -A && { git diff --cached --quiet || git commit -q -m "$1"; }`

// commitAllInside is commitAll for a sealed loop.
func commitAllInside(ctx context.Context, s *workspace.Workspace, t target, msg string) error {
	if err := needRewriteCheck(ctx, s, t); err != nil {
		return err
	}
	insideLog(s, t, "add", "-A")
	insideLog(s, t, "commit", "-q", "-m", msg)
	if s.Git.DryRun {
		return nil
	}
	res, err := transport.Inside(ctx, s, t.sealed, commitAllScript, identityEnv(ctx, s, s.Repo.CommonDir), msg)
	if err != nil {
		return fmt.Errorf("%s: %w", t.layer, err)
	}
	if res.Code != 0 {
		return fmt.Errorf("%s: committing in loop %s's sandbox failed (exit %d): %s", t.layer, t.sealed.Name, res.Code, workspace.FirstLine(res.Stderr))
	}
	return fetchBack(ctx, s, t)
}

// concludeScript is concludeMerge inside: files resolved but not added
// (no conflict markers left) are added, those still conflicted listed on
// stdout (exit 3); then the merge is committed.
const concludeScript = `exec 3>&1 1>&2
files=$(git -c core.quotePath=false diff --name-only --diff-filter=U) || exit 12
still=0
set -f
IFS='
'
for f in $files; do
  if grep -q -F -e '<<<<<<< ' -e '>>>>>>> ' -- "$f" 2>/dev/null; then printf '%s\0' "$f" >&3; still=1; else git add -A -- "$f" || exit 12; fi
done
[ $still = 0 ] || exit 3
git rev-parse -q --verify MERGE_HEAD >/dev/null || exit 0
git commit -q --no-edit`

// concludeInside is concludeMerge for a sealed loop's code.
func concludeInside(ctx context.Context, s *workspace.Workspace, m *state.Meta, rs *RunState) error {
	t := target{layer: Code, dir: s.Repo.CommonDir, branch: m.Branch, sealed: m}
	insideLog(s, t, "commit", "-q", "--no-edit")
	res, err := transport.Inside(ctx, s, m, concludeScript, identityEnv(ctx, s, s.Repo.CommonDir))
	if err != nil {
		return err
	}
	switch res.Code {
	case 0:
	case 3:
		still := namesFrom(res.Stdout)
		return &workspace.ConflictError{Loop: rs.Loop, Op: rs.Op, Layer: rs.Layers[0], Dir: m.Worktree, Files: still, Sealed: true}
	default:
		return fmt.Errorf("code: concluding the merge in loop %s's sandbox failed (exit %d): %s", m.Name, res.Code, workspace.FirstLine(res.Stderr))
	}
	return fetchBack(ctx, s, t)
}

// abortScript undoes a stopped merge inside and puts the branch back at
// $1 (a commit-all made before it is undone, its changes kept), then
// prints HEAD.
const abortScript = `exec 3>&1 1>&2
if git rev-parse -q --verify MERGE_HEAD >/dev/null; then git merge --abort || exit 12; fi
if [ "$(git rev-parse HEAD)" != "$1" ]; then git reset -q "$1" || exit 12; fi
git rev-parse HEAD >&3`

// abortInside is abortRun for a sealed loop's code: the sandbox goes back
// to the branch's head before the run, and the host's branch with it (the
// commit-all it fetched is undone on both sides).
func abortInside(ctx context.Context, s *workspace.Workspace, m *state.Meta, rs *RunState) error {
	t := target{layer: Code, dir: s.Repo.CommonDir, branch: m.Branch, sealed: m}
	orig := rs.OrigHeads[string(Code)]
	if _, ok := transportSHA(orig); !ok {
		return fmt.Errorf("code: the stopped %s of %s has no head to go back to", rs.Op, m.Name)
	}
	insideLog(s, t, "merge", "--abort")
	res, err := transport.Inside(ctx, s, m, abortScript, nil, orig)
	if err != nil {
		return err
	}
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != orig {
		return fmt.Errorf("code: aborting in loop %s's sandbox failed (exit %d): %s", m.Name, res.Code, workspace.FirstLine(res.Stderr))
	}
	if cur := revParse(ctx, s, s.Repo.CommonDir, m.Branch); cur != orig {
		if err := transport.Accept(ctx, s, m, orig, cur, "git loop "+rs.Op+" --abort "+m.Name); err != nil {
			return err
		}
	}
	if err := fetchBack(ctx, s, t); err != nil {
		return err
	}
	clearRunState(s, rs.Loop)
	return nil
}

func transportSHA(v string) (string, bool) {
	if len(v) != 40 && len(v) != 64 {
		return "", false
	}
	for _, c := range v {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return "", false
		}
	}
	return v, true
}

// discardInside is the discard of a sealed loop's proposal: the sandbox's
// branch goes back to main (reset --keep, as a worktree's would), then
// the host's with it.
func discardInside(ctx context.Context, s *workspace.Workspace, m *state.Meta, p Proposal) error {
	main := revParse(ctx, s, s.Repo.CommonDir, p.Main)
	t := target{layer: Code, dir: s.Repo.CommonDir, branch: m.Branch, sealed: m}
	insideLog(s, t, "reset", "-q", "--keep", main)
	if s.Git.DryRun {
		return nil
	}
	if err := transport.PushIn(ctx, s, m, []string{main}); err != nil {
		return err
	}
	res, err := transport.Inside(ctx, s, m, `exec 3>&1 1>&2
[ "$(git symbolic-ref -q HEAD)" = "$1" ] || { echo "the sandbox's clone is not on $1"; exit 10; }
git reset -q --keep "$2" || exit 12
git update-ref -d "$2"
git rev-parse HEAD >&3`, nil, m.Branch, transport.IncomingPrefix+"0")
	if err != nil {
		return err
	}
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != main {
		return fmt.Errorf("discard %s: %s (commit or stash the changes in loop %s's sandbox first)", p.ID, workspace.FirstLine(res.Stderr), m.Name)
	}
	return transport.Accept(ctx, s, m, main, p.Commit, "git loop review discard "+p.ID)
}

// namesFrom reads the file names a script inside printed, NUL-separated:
// the sandbox's text, shown on the user's terminal, so control characters
// are made visible and the list is bounded.
func namesFrom(out string) []string {
	var names []string
	for _, f := range strings.Split(out, "\x00") {
		if f == "" {
			continue
		}
		if len(names) == 50 {
			names = append(names, "…")
			break
		}
		names = append(names, strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				return '?'
			}
			return r
		}, f))
	}
	return names
}
