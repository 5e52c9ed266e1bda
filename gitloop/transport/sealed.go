package transport

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// A sealed loop's sandbox owns its clone: a repository of its own under
// $GIT_COMMON_DIR/loop/sandbox/NAME/clone, which the sandbox sees at the
// loop's worktree path and no host git ever opens once the sandbox has
// run. Its objects are the host's, borrowed read-only through
// objects/info/alternates, so seeding copies nothing.

// ClonePath is the host dir of a sealed loop's clone. It is derived from
// the name alone: never from a record the sandbox could edit.
func ClonePath(s *workspace.Workspace, name string) string {
	return s.SealedClone(name)
}

// ObjectsDir is the host's object store, which a sealed sandbox sees
// read-only at the same path.
func ObjectsDir(s *workspace.Workspace) string { return filepath.Join(s.Repo.CommonDir, "objects") }

// SnapshotRef is the side ref, in the sandbox's clone, of its uncommitted
// work (tracked and untracked files, as a commit on HEAD), made inside
// before each fetch.
const SnapshotRef = "refs/gitloop/snapshot"

// EnvSnapshot asks the helper to record the snapshot before serving a
// fetch; Refresh sets it.
const EnvSnapshot = "GIT_LOOP_TRANSPORT_SNAPSHOT"

// snapshotFunc is a shell function, run inside the sandbox in the clone:
// it commits the working tree through a scratch index onto HEAD as
// SnapshotRef (deleted when there is nothing uncommitted). The dates are
// fixed, so an unchanged tree gives the same commit: the fetch sends
// nothing, and the host, reading the ref as data, sees it did not move.
// A clean tree, the common case, costs one git status (and no snapshot
// ref to delete, unless one is there): the cost is mostly the processes
// it starts. So does uncommitted work: one cat-file reads HEAD and the
// snapshot there is, and when that snapshot already holds this tree on
// this HEAD (an exec that changed nothing of it) no commit is made and
// no ref written.
const snapshotFunc = `snapshot() {
if changes=$(git --no-optional-locks status --porcelain 2>/dev/null) && [ -z "$changes" ]; then
  del=
  { [ -e .git/` + SnapshotRef + ` ] || [ ! -d .git ]; } && del=1
  # A packed one, looked for by the shell alone: no process for a clean
  # tree with nothing to delete.
  if [ -z "$del" ] && [ -f .git/packed-refs ]; then
    while read -r _ r; do [ "$r" = ` + SnapshotRef + ` ] && del=1 && break; done <.git/packed-refs
  fi
  [ -n "$del" ] && git update-ref -d ` + SnapshotRef + ` 2>/dev/null
  return 0
fi
idx=$(mktemp) || return 0
trap 'rm -f "$idx"' EXIT
cp "$(git rev-parse --git-path index)" "$idx" 2>/dev/null || rm -f "$idx"
if tree=$(GIT_INDEX_FILE="$idx" git add -A && GIT_INDEX_FILE="$idx" git write-tree); then
  # Each line "TYPE SHA", or "NAME missing": 8 words, split unglobbed.
  r=$(git cat-file --batch-check='%(objecttype) %(objectname)' 2>/dev/null <<IN
HEAD^{commit}
HEAD^{tree}
` + SnapshotRef + `^{tree}
` + SnapshotRef + `^1
IN
)
  set -f
  set -- $r
  set +f
  head= htree= stree= sparent=
  [ "$1" = commit ] && head=$2
  [ "$3" = tree ] && htree=$4
  [ "$5" = tree ] && stree=$6
  [ "$7" = commit ] && sparent=$8
  if [ -n "$head" ] && [ "$tree" = "$htree" ]; then
    [ -n "$stree" ] && git update-ref -d ` + SnapshotRef + ` 2>/dev/null
  elif [ "$tree" != "$stree" ] || [ "$head" != "$sparent" ]; then
    c=$(GIT_AUTHOR_NAME='git loop' GIT_AUTHOR_EMAIL=loop@localhost GIT_COMMITTER_NAME='git loop' GIT_COMMITTER_EMAIL=loop@localhost \
      GIT_AUTHOR_DATE='@0 +0000' GIT_COMMITTER_DATE='@0 +0000' git commit-tree "$tree" ${head:+-p "$head"} -m 'git loop: uncommitted work') &&
      git update-ref ` + SnapshotRef + ` "$c"
  fi
fi
rm -f "$idx"
trap - EXIT
}`

// snapshotScript runs inside the sandbox, in the clone, ahead of
// upload-pack and in the same exec: it records the snapshot, then becomes
// upload-pack. Its own output goes to stderr: stdout is the protocol's.
const snapshotScript = "exec 3>&1 1>&2\n" + snapshotFunc + `
snapshot
exec git upload-pack "$1" 1>&3 3>&-`

// Seed makes a sealed loop's clone on branch m.Branch at sha, borrowing
// the host's objects. It runs before the sandbox ever exists, on a dir it
// has just emptied, so the repository it runs git in is its own.
func Seed(ctx context.Context, s *workspace.Workspace, m *state.Meta, sha string) error {
	clone := ClonePath(s, m.Name)
	if err := os.RemoveAll(filepath.Dir(clone)); err != nil {
		return fmt.Errorf("seed %s: %w", m.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(clone), 0o700); err != nil {
		return fmt.Errorf("seed %s: %w", m.Name, err)
	}
	label := m.ShortBranch()
	if err := s.Git.Run(ctx, git.Cmd{Dir: filepath.Dir(clone), Label: label, Args: []string{"init", "-q", "-b", m.ShortBranch(), clone}}); err != nil {
		return fmt.Errorf("seed %s: %w", m.Name, err)
	}
	// The repository's hooks (git loop's shims: the push guard) work in
	// the sandbox's clone as in a worktree; they run inside, as the agent.
	if err := CopyHooks(filepath.Join(s.Repo.CommonDir, "hooks"), filepath.Join(clone, ".git", "hooks")); err != nil {
		return fmt.Errorf("seed %s: %w", m.Name, err)
	}
	alt := filepath.Join(clone, ".git", "objects", "info", "alternates")
	if err := os.WriteFile(alt, []byte(ObjectsDir(s)+"\n"), 0o644); err != nil {
		return fmt.Errorf("seed %s: %w", m.Name, err)
	}
	if err := s.Git.Run(ctx, git.Cmd{Dir: clone, Label: label, Args: []string{"reset", "-q", "--hard", sha}}); err != nil {
		return fmt.Errorf("seed %s: %w", m.Name, err)
	}
	// The worktree path stays an empty dir on the host: the mount point
	// inside, and nothing a host git could be led into.
	return os.MkdirAll(m.Worktree, 0o755)
}

// RemoveClone deletes a sealed loop's clone (never following a link in
// it: os.RemoveAll does not).
func RemoveClone(s *workspace.Workspace, name string) error {
	if err := os.RemoveAll(filepath.Dir(ClonePath(s, name))); err != nil {
		return fmt.Errorf("remove the sandbox clone of %s: %w", name, err)
	}
	return nil
}

// Refresh fetches a sealed loop's branch and its snapshot of uncommitted
// work into quarantine, and fast-forwards loop/NAME.
func Refresh(ctx context.Context, s *workspace.Workspace, m *state.Meta) (FetchResult, error) {
	return refresh(ctx, s, m, nil, true)
}

// refresh is Refresh with pre run first (RefreshAfter), and without
// making the snapshot when the caller knows it was just made (an exec's
// wrapper).
func refresh(ctx context.Context, s *workspace.Workspace, m *state.Meta, pre *Pre, snapshot bool) (FetchResult, error) {
	var env []string
	if snapshot || pre != nil {
		snapshot = true
		env = append(env, EnvSnapshot+"=1")
	}
	opts := FetchOptions{
		GitDir:        s.Repo.CommonDir,
		Name:          m.Name,
		SourceBranch:  m.Branch,
		Branch:        m.Branch,
		Extra:         []string{"+refs/gitloop/*:" + Quarantine(m.Name) + "side/*"},
		Snapshot:      snapshot,
		TrackSnapshot: true,
		// The host's own environment may tighten them (a sandbox cannot
		// set it).
		Limits: LimitsFromEnv(),
	}
	if t, err := LoopTarget(ctx, s, m.Name); err == nil {
		if kv, err := TargetEnv(m.Name, t); err == nil {
			env = append(env, kv)
		}
		// Served from this process (FetchOptions.Direct): no
		// git-remote-gitloop to start.
		opts.Direct = &t
		opts.Pre = pre
	} else if pre != nil {
		return FetchResult{}, err
	}
	opts.Env = env
	// One fetch per loop at a time, holding a host-only lock that its gits
	// inherit: while it is held no git of an earlier fetch lives, so a ref
	// lock in the loop's quarantine is one a killed fetch left, and goes.
	lock, err := lockFetch(s, m.Name)
	if err != nil {
		return FetchResult{}, err
	}
	defer lock.Close()
	clearQuarantineLocks(s, m.Name)
	// The fetch itself is not logged: it runs after every exec and moves
	// no host ref; the fast-forward that does is.
	quiet := &git.Runner{Inherit: append(append([]*os.File{}, s.Git.Inherit...), lock), DryRun: s.Git.DryRun}
	res, err := fetch(ctx, quiet, s.Git, opts)
	if err == nil {
		writeSeen(s, m.Name, res.New, res.Snapshot)
		writeLastFetch(s, m.Name, time.Now())
		forwardCheckout(ctx, s, m, res)
	}
	if res.Rewritten {
		s.Reporter().Warn(fmt.Sprintf("loop %s: its sandbox rewrote %s (now %.12s); the host keeps %.12s, the rewrite is at %shead", m.Name, m.ShortBranch(), res.New, res.Old, Quarantine(m.Name)))
	}
	return res, err
}

// SnapshotQuarantine is the host ref of a loop's last fetched snapshot.
func SnapshotQuarantine(name string) string { return Quarantine(name) + "side/snapshot" }

// ReadCloneRef reads the sandbox clone's branch ref as data, the way ls
// notices a move without an exec: opened without following a link,
// bounded, and valid only as one hex object name. ok is false when the
// file cannot say (packed, absent, not a sha): the caller fetches.
func ReadCloneRef(s *workspace.Workspace, m *state.Meta) (sha string, ok bool) {
	if !strings.HasPrefix(m.Branch, "refs/heads/") || strings.Contains(m.Branch, "..") {
		return "", false
	}
	// Rooted at the loop's sandbox dir, which the host made: a link the
	// sandbox plants anywhere in its clone cannot lead the read out.
	clone := ClonePath(s, m.Name)
	return workspace.ReadRefFileUnder(filepath.Dir(clone), filepath.Join(filepath.Base(clone), ".git", filepath.FromSlash(m.Branch)))
}

// seenPath records, host-side, the clone ref the last fetch saw, so ls
// fetches only a loop whose ref moved since.
func seenPath(s *workspace.Workspace, name string) string {
	return filepath.Join(s.Repo.StateDir(), "sandbox", name, "fetched")
}

// writeSeen records branch, and the snapshot fetched with it (noSnapshot
// for none; "" when not fetched, so the next exec fetches).
func writeSeen(s *workspace.Workspace, name, branch, snapshot string) {
	if branch == "" {
		return
	}
	_ = os.WriteFile(seenPath(s, name), []byte(branch+"\n"+snapshot+"\n"), 0o600)
}

// readSeen is what writeSeen recorded ("" for what it did not).
func readSeen(s *workspace.Workspace, name string) (branch, snapshot string) {
	b, err := os.ReadFile(seenPath(s, name))
	if err != nil {
		return "", ""
	}
	f := strings.Fields(string(b))
	if len(f) > 0 {
		branch = f[0]
	}
	if len(f) > 1 {
		snapshot = f[1]
	}
	return branch, snapshot
}

// lastFetchPath records when the host last fetched from a loop's sandbox,
// in the loop's host-only dir: no sandbox can make a loop look fresh.
func lastFetchPath(s *workspace.Workspace, name string) string {
	return filepath.Join(s.Store().HostDir(name), "last-fetch")
}

func writeLastFetch(s *workspace.Workspace, name string, t time.Time) {
	_ = os.WriteFile(lastFetchPath(s, name), []byte(t.UTC().Format(time.RFC3339Nano)+"\n"), 0o600)
}

// LastFetch is when the host last fetched from the loop's sandbox (ok
// false: never, as far as this host knows).
func LastFetch(s *workspace.Workspace, name string) (t time.Time, ok bool) {
	b, err := os.ReadFile(lastFetchPath(s, name))
	if err != nil {
		return time.Time{}, false
	}
	t, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	return t, err == nil
}

// Moved reports whether the sandbox's branch may have moved since the
// last fetch (true when it cannot tell).
func Moved(s *workspace.Workspace, m *state.Meta) bool {
	now, ok := ReadCloneRef(s, m)
	if !ok {
		return true
	}
	seen, _ := readSeen(s, m.Name)
	return seen != now
}

// DropQuarantine deletes a loop's quarantine refs (rm).
func DropQuarantine(ctx context.Context, s *workspace.Workspace, name string) error {
	out, err := s.Query.Output(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"for-each-ref", "--format=delete %(refname)", Quarantine(name)}})
	if err != nil || len(out) == 0 {
		return err
	}
	return s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: name, Args: []string{"update-ref", "--stdin"}, Stdin: strings.NewReader(string(out))})
}

// checkoutRecord is the host-only file naming a sealed loop's host
// checkout (beside the clone's dir, which no sandbox sees).
func checkoutRecord(s *workspace.Workspace, name string) string {
	return filepath.Join(s.Repo.StateDir(), "sandbox", name, "checkout")
}

// CheckoutPath is the host checkout of a sealed loop ("" when none).
func CheckoutPath(s *workspace.Workspace, name string) string {
	b, err := os.ReadFile(checkoutRecord(s, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// DefaultCheckoutDir is where editors look: a sibling of the repository,
// REPO-NAME.
func DefaultCheckoutDir(s *workspace.Workspace, name string) string {
	root := s.Repo.MainWorktree
	if root == "" {
		root = strings.TrimSuffix(s.Repo.CommonDir, string(filepath.Separator)+".git")
	}
	return filepath.Join(filepath.Dir(root), filepath.Base(root)+"-"+name)
}

// Checkout gives a sealed loop a normal host worktree of its branch, for
// editors: fetched first, detached at loop/NAME (so the fetch can move the
// branch), and fast-forwarded by every later fetch while it has no work of
// its own. It is never the sandbox's clone.
func Checkout(ctx context.Context, s *workspace.Workspace, m *state.Meta, dir string) (string, error) {
	if !m.Sandbox.Sealed {
		return m.Worktree, nil // the loop's own worktree is a host one
	}
	if p := CheckoutPath(s, m.Name); p != "" && workspace.Exists(p) {
		return p, nil
	}
	if _, err := Refresh(ctx, s, m); err != nil {
		return "", err
	}
	if dir == "" {
		dir = DefaultCheckoutDir(s, m.Name)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: m.ShortBranch(), Args: append(noHooks(), "worktree", "add", "-q", "--detach", dir, m.Branch)}); err != nil {
		return "", fmt.Errorf("checkout %s: %w", m.Name, err)
	}
	if err := os.WriteFile(checkoutRecord(s, m.Name), []byte(dir+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("checkout %s: %w", m.Name, err)
	}
	return dir, nil
}

// noHooks are git's options for a checkout of the loop's commits that
// git loop makes or moves on its own: no hook runs. A relative
// core.hooksPath (.githooks, husky's .husky/_) finds its hooks in the
// checkout, the agent's files: a post-merge it committed ran on the host
// at every fetch. (The user's own hooks run when the user moves it.)
func noHooks() []string { return []string{"-c", "core.hooksPath=/dev/null"} }

// forwardCheckout moves a sealed loop's host checkout from old to new
// when it sits at old with nothing of its own; otherwise it says why not.
func forwardCheckout(ctx context.Context, s *workspace.Workspace, m *state.Meta, res FetchResult) {
	dir := CheckoutPath(s, m.Name)
	if dir == "" || !res.Moved || !workspace.Exists(dir) {
		return
	}
	head, err := s.Query.Line(ctx, git.Cmd{Dir: dir, Args: []string{"rev-parse", "HEAD"}})
	if err == nil && head != res.Old {
		// A commit the user made there, which a sync merged in inside:
		// the branch now holds it, and the checkout follows.
		if ok, _ := s.Query.Succeeds(ctx, git.Cmd{Dir: dir, Args: []string{"merge-base", "--is-ancestor", head, res.New}}); ok {
			head = res.Old
		}
	}
	if err != nil || head != res.Old {
		s.Reporter().Warn(fmt.Sprintf("loop %s: the checkout %s is not at the branch's last commit; left as it is", m.Name, dir))
		return
	}
	if err := s.Git.Run(ctx, git.Cmd{Dir: dir, Label: m.ShortBranch(), Args: append(noHooks(), "merge", "--ff-only", "-q", res.New)}); err != nil {
		s.Reporter().Warn(fmt.Sprintf("loop %s: could not fast-forward the checkout %s: %v", m.Name, dir, err))
	}
}

// RemoveCheckout removes a sealed loop's host checkout (rm, once its work
// was judged).
func RemoveCheckout(ctx context.Context, s *workspace.Workspace, name string) error {
	dir := CheckoutPath(s, name)
	if dir == "" || !workspace.Exists(dir) {
		return nil
	}
	return s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: name, Args: []string{"worktree", "remove", "--force", dir}})
}

// CopyHooks copies the regular files of the host's hooks dir (never
// through a link) into a new clone's.
// The context clones of a loop get them the same way.
func CopyHooks(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil // no hooks
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".sample") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// lockFetch takes (waiting) the loop's fetch lock: a flock on a host-only
// file beside the clone, released when the returned file closes and every
// process that inherited it is gone.
func lockFetch(s *workspace.Workspace, name string) (*os.File, error) {
	dir := filepath.Dir(ClonePath(s, name))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", name, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "fetch.lock"), os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("fetch %s: lock: %w", name, err)
	}
	return f, nil
}

// clearQuarantineLocks removes the ref lock files under a loop's
// quarantine (refs/gitloop/NAME/), which only its fetches write: called
// holding the fetch lock, so each is what a killed fetch left.
func clearQuarantineLocks(s *workspace.Workspace, name string) {
	root := filepath.Join(s.Repo.CommonDir, filepath.FromSlash(Quarantine(name)))
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, ".lock") {
			_ = os.Remove(p)
		}
		return nil
	})
}
