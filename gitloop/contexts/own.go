package contexts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// A docker or bwrap loop owns its context clones. Each layer it mounts is
// a repository of its own at the loop's context dir (inside the loop dir,
// which only this loop's sandbox sees), borrowing the objects of the
// user's clone through objects/info/alternates: the sandbox sees that
// object store read-only, and nothing else of the user's clone (no refs,
// no config, no other loop's branch). Once the sandbox has run, the host
// never runs git in such a clone: its commits come back as packs through
// git-remote-gitloop (upload-pack runs inside), into a host-only landing
// repository, and what the host puts in goes by git run inside the
// sandbox, which can only hurt the sandbox.

// OwnsContexts reports whether loops on driver get context clones of
// their own: the sandboxed drivers. The none driver is the user, trusted;
// its context worktrees stay linked worktrees of the user's clones.
func OwnsContexts(driver string) bool { return driver == "docker" || driver == "bwrap" }

// ObjectsOf is the object store of a user's layer clone, which a loop's
// own clones borrow and its sandbox sees read-only.
func ObjectsOf(clone string) string { return filepath.Join(clone, ".git", "objects") }

// LandingDir is the host-only bare repository where a loop's commits of
// one layer are fetched, checked and merged before they are pushed: under
// the loop's host part, which no sandbox mounts. What fails a check
// (a vault value) therefore never reaches the user's clone, whose objects
// every loop reads.
func LandingDir(s *workspace.Workspace, name string, l workspace.Layer) string {
	return filepath.Join(s.Store().HostDir(name), "context", string(l)+".git")
}

// seedOwn makes c.Dir a clone of the loop's own on c.Branch at c.SHA. It
// runs before the sandbox ever sees the dir, on a dir it has just
// emptied, with a config it wrote itself: the one moment the host runs
// git there (a checkout).
func seedOwn(ctx context.Context, s *workspace.Workspace, c state.ContextWorktree) error {
	if err := os.RemoveAll(c.Dir); err != nil {
		return err
	}
	gitDir := filepath.Join(c.Dir, ".git")
	if err := writeGitDir(gitDir, c); err != nil {
		return err
	}
	// The layer's remote, as in the user's clone: the agent may fetch it
	// with the loop's vault key (its pushes stay the pre-push guard's).
	if url, _ := s.Query.Line(ctx, git.Cmd{Dir: c.Clone, Args: []string{"config", "--get", "remote.origin.url"}}); url != "" {
		remote := "[remote \"origin\"]\n\turl = " + configQuote(url) + "\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
		f, err := os.OpenFile(filepath.Join(gitDir, "config"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString(remote)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if err := transport.CopyHooks(filepath.Join(c.Clone, ".git", "hooks"), filepath.Join(gitDir, "hooks")); err != nil {
		return err
	}
	return s.Git.Run(ctx, git.Cmd{Dir: c.Dir, Label: c.Layer + ":" + strings.TrimPrefix(c.Branch, "refs/heads/"), Args: []string{"reset", "-q", "--hard"}})
}

// configQuote is v as a quoted git config value.
func configQuote(v string) string {
	r := strings.NewReplacer("\\", "\\\\", "\"", "\\\"", "\n", "\\n", "\t", "\\t")
	return "\"" + r.Replace(v) + "\""
}

// writeGitDir writes a minimal git dir by hand (a git init costs a
// process, and writes sample hooks nobody runs): HEAD on the branch, the
// branch at the start commit, alternates onto the user's clone.
func writeGitDir(gitDir string, c state.ContextWorktree) error {
	cfg := "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n"
	if len(c.SHA) == 64 {
		cfg = "[core]\n\trepositoryformatversion = 1\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n[extensions]\n\tobjectformat = sha256\n"
	}
	files := []struct{ path, data string }{
		{"config", cfg},
		{"HEAD", "ref: " + c.Branch + "\n"},
		{filepath.FromSlash(c.Branch), c.SHA + "\n"},
		{filepath.Join("objects", "info", "alternates"), ObjectsOf(c.Clone) + "\n"},
	}
	for _, d := range []string{"objects/pack", "refs/tags", "hooks", "info"} {
		if err := os.MkdirAll(filepath.Join(gitDir, filepath.FromSlash(d)), 0o755); err != nil {
			return err
		}
	}
	for _, f := range files {
		p := filepath.Join(gitDir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ensureLanding makes a loop's landing repository for a layer: bare,
// with a config git loop wrote, borrowing the user's clone's objects.
func ensureLanding(ctx context.Context, s *workspace.Workspace, name string, c state.ContextWorktree) (string, error) {
	dir := LandingDir(s, name, workspace.Layer(c.Layer))
	alt := filepath.Join(dir, "objects", "info", "alternates")
	if _, err := os.Stat(alt); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", err
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	// Made once per loop and layer, moving no ref of the user's: not
	// logged.
	quiet := &git.Runner{Inherit: s.Git.Inherit}
	if err := quiet.Run(ctx, git.Cmd{Label: c.Layer, Args: []string{"init", "-q", "--bare", tmp}}); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, "objects", "info", "alternates"), []byte(ObjectsOf(c.Clone)+"\n"), 0o644); err != nil {
		return "", err
	}
	_ = os.RemoveAll(dir)
	return dir, os.Rename(tmp, dir)
}

// Fetched is what FetchOwn brought back into a loop's landing repository.
type Fetched struct {
	Landing string // the landing repository
	Head    string // the loop's branch in its clone ("" when absent)
	// Snapshot is the loop's uncommitted work as a commit on Head, when
	// asked for and there is some.
	Snapshot string
}

// FetchOwn fetches a loop's context branch from its own clone into the
// landing repository's quarantine refs (refs/gitloop/NAME/), through
// git-remote-gitloop with upload-pack run inside the sandbox: fsck, size
// cap and timeout as for the code. With snapshot, uncommitted work comes
// too, as a commit.
func FetchOwn(ctx context.Context, s *workspace.Workspace, m *state.Meta, c state.ContextWorktree, snapshot bool) (Fetched, error) {
	landing, err := ensureLanding(ctx, s, m.Name, c)
	if err != nil {
		return Fetched{}, fmt.Errorf("%s: %w", c.Layer, err)
	}
	t, err := target(ctx, s, m, c)
	if err != nil {
		return Fetched{}, err
	}
	kv, err := transport.TargetEnv(m.Name, t)
	if err != nil {
		return Fetched{}, err
	}
	env := []string{kv}
	q := transport.Quarantine(m.Name)
	var extra []string
	if snapshot {
		env = append(env, transport.EnvSnapshot+"=1")
		extra = []string{"+refs/gitloop/*:" + q + "side/*"}
	}
	// The fetch moves no ref of the user's: it is not logged.
	quiet := &git.Runner{Inherit: s.Git.Inherit, DryRun: s.Git.DryRun}
	if _, err := transport.Fetch(ctx, quiet, transport.FetchOptions{
		GitDir:       landing,
		Name:         m.Name,
		SourceBranch: c.Branch,
		Extra:        extra,
		Env:          env,
	}); err != nil {
		return Fetched{}, fmt.Errorf("%s: %w", c.Layer, err)
	}
	f := Fetched{Landing: landing}
	f.Head, _ = s.Query.Line(ctx, git.Cmd{Dir: landing, Args: []string{"rev-parse", "--verify", "--quiet", q + "head^{commit}"}})
	if snapshot {
		f.Snapshot, _ = s.Query.Line(ctx, git.Cmd{Dir: landing, Args: []string{"rev-parse", "--verify", "--quiet", q + "side/snapshot^{commit}"}})
	}
	return f, nil
}

// target is where the transport and ExecIn reach a loop's context clone:
// its engine and spec, the clone's path inside (the host's path).
func target(ctx context.Context, s *workspace.Workspace, m *state.Meta, c state.ContextWorktree) (transport.Target, error) {
	eng, err := s.OpenEngine(ctx, m.Sandbox.Driver)
	if err != nil {
		return transport.Target{}, fmt.Errorf("loop %s: %w", m.Name, err)
	}
	spec, err := sandboxspec.Spec(s, m)
	if err != nil {
		return transport.Target{}, err
	}
	return transport.Target{Engine: eng, Spec: spec, Dir: c.Dir}, nil
}

// GiveCommit makes sha, a commit of the user's clone, reachable in a
// loop's own context clone before git inside merges it: a local loop's
// clone borrows the user's objects already; a remote loop's gets it by a
// push over gitloop:: (receive-pack inside, nothing run here).
func GiveCommit(ctx context.Context, s *workspace.Workspace, m *state.Meta, c state.ContextWorktree, sha string) error {
	if !m.Sandbox.Remote() || sha == "" {
		return nil
	}
	t, err := target(ctx, s, m, c)
	if err != nil {
		return err
	}
	if err := transport.PushCommit(ctx, s.Git, filepath.Join(c.Clone, ".git"), m.Name, t, c.Layer+":"+strings.TrimPrefix(c.Branch, "refs/heads/"), sha); err != nil {
		return fmt.Errorf("%s: %w", c.Layer, err)
	}
	return nil
}

// ExecIn runs the shell script in a loop's context clone, inside its
// sandbox: how the host changes that clone (a merge, a commit) without
// ever running git there itself. Its stdout comes back bounded, as data.
func ExecIn(ctx context.Context, s *workspace.Workspace, m *state.Meta, c state.ContextWorktree, env map[string]string, script string, args ...string) (string, int, error) {
	t, err := target(ctx, s, m, c)
	if err != nil {
		return "", 127, err
	}
	var out, errb bounded
	out.left, errb.left = 64<<10, 8<<10
	code, err := t.Engine.Exec(ctx, t.Spec, sandbox.Exec{
		Cmd:     append([]string{"sh", "-c", script, "sh"}, args...),
		Env:     env,
		Dir:     c.Dir,
		Stdout:  &out,
		Stderr:  &errb,
		Offline: true,
	})
	if err != nil {
		return "", code, fmt.Errorf("%s: in loop %s's sandbox: %w", c.Layer, m.Name, err)
	}
	if code != 0 && code != 1 {
		return out.String(), code, fmt.Errorf("%s: in loop %s's sandbox: exit %d: %s", c.Layer, m.Name, code, workspace.FirstLine(visible(errb.String())))
	}
	return out.String(), code, nil
}

// bounded keeps the first left bytes written to it.
type bounded struct {
	bytes.Buffer
	left int
}

func (b *bounded) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > b.left {
		p = p[:b.left]
	}
	b.left -= len(p)
	b.Buffer.Write(p)
	return n, nil
}

// visible replaces control characters: the sandbox's text on the user's
// terminal.
func visible(s string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// LastFetched is a remote loop's branch of layer c as the host last
// fetched it (promote, rm, diff), read from its host-only landing
// repository: its clone is on the engine, and the dir at c.Dir here is
// the host's copy at the start commit. ok is false before any fetch.
func LastFetched(ctx context.Context, s *workspace.Workspace, m *state.Meta, c state.ContextWorktree) (string, bool) {
	landing := LandingDir(s, m.Name, workspace.Layer(c.Layer))
	if !workspace.Exists(filepath.Join(landing, "objects", "info", "alternates")) {
		return "", false
	}
	sha, err := s.Query.Line(ctx, git.Cmd{Dir: landing, Args: []string{"rev-parse", "--verify", "--quiet", transport.Quarantine(m.Name) + "head^{commit}"}})
	return sha, err == nil && sha != ""
}

// ReadOwnRef reads a loop's branch in its own clone as data (no git, no
// exec): opened without following a link, bounded, valid only as one
// object name. ok is false when the file cannot say (packed, absent).
func ReadOwnRef(c state.ContextWorktree) (string, bool) {
	if !strings.HasPrefix(c.Branch, "refs/heads/") || strings.Contains(c.Branch, "..") {
		return "", false
	}
	// Rooted at the loop dir (the sandbox's mount point, which it cannot
	// replace): a link anywhere below, .git or the context dir included,
	// cannot lead out of the loop's own files.
	loopDir := filepath.Dir(filepath.Dir(c.Dir))
	rel, err := filepath.Rel(loopDir, filepath.Join(c.Dir, ".git", filepath.FromSlash(c.Branch)))
	if err != nil {
		return "", false
	}
	return workspace.ReadRefFileUnder(loopDir, rel)
}

// convertScript runs inside the sandbox, in a context dir that was a
// linked worktree of the user's clone: it replaces the .git file by a
// repository of its own on the loop's branch ($1) at its commit ($2),
// borrowing the objects at $3, and reads the index from the branch
// (the files, and so uncommitted changes, stay as they are). git runs
// inside: the host writes nothing in a dir the agent can swap for a link.
const convertScript = `set -e
rm -rf .git
git init -q -b "${1#refs/heads/}" .
printf '%s\n' "$3" > .git/objects/info/alternates
git update-ref "$1" "$2"
git read-tree "$1"`

// convertLegacy turns a docker or bwrap loop's context worktree, a linked
// worktree of the user's clone (what loops had before own clones), into
// a clone of its own at the same dir, by git run inside its sandbox. The
// branch is read from the user's clone as data and kept there for the
// user to look at.
func convertLegacy(ctx context.Context, s *workspace.Workspace, m *state.Meta, i int) error {
	c := m.Contexts[i]
	sha, found, ok := workspace.ReadRef(filepath.Join(c.Clone, ".git"), c.Branch)
	if !ok || !found {
		return fmt.Errorf("%s: its branch %s is not in %s", c.Layer, c.Branch, c.Clone)
	}
	own := c
	own.Own, own.SHA, own.BranchCreated = true, sha, false
	// The exec's sandbox already has the own clone's mounts (the objects,
	// read-only; no more of the user's git dir).
	was := m.Contexts[i]
	m.Contexts[i] = own
	if _, _, err := ExecIn(ctx, s, m, own, nil, convertScript, c.Branch, sha, ObjectsOf(c.Clone)); err != nil {
		m.Contexts[i] = was
		return err
	}
	forgetWorktree(c)
	return nil
}

// forgetWorktree removes the user's clone's admin dir of a converted
// worktree (git worktree prune would keep it: the dir's .git exists), so
// the clone no longer counts the branch as checked out.
func forgetWorktree(c state.ContextWorktree) {
	admin := filepath.Join(c.Clone, ".git", "worktrees")
	entries, err := os.ReadDir(admin)
	if err != nil {
		return
	}
	want := filepath.Join(c.Dir, ".git")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(admin, e.Name(), "gitdir"))
		if err == nil && filepath.Clean(strings.TrimSpace(string(b))) == want {
			_ = os.RemoveAll(filepath.Join(admin, e.Name()))
		}
	}
}

// ConvertLegacy gives a docker or bwrap loop made before own context
// clones clones of its own, in place, and says so. It returns whether
// the record changed (the caller writes it). Loops on none keep linked
// worktrees.
func ConvertLegacy(ctx context.Context, s *workspace.Workspace, m *state.Meta) (bool, error) {
	if !OwnsContexts(m.Sandbox.Driver) {
		return false, nil
	}
	changed := false
	var errs []error
	for i, c := range m.Contexts {
		if c.Own || !workspace.Exists(c.Clone) || !workspace.Exists(c.Dir) {
			continue
		}
		if err := convertLegacy(ctx, s, m, i); err != nil {
			errs = append(errs, fmt.Errorf("loop %s: converting its %s context: %w", m.Name, c.Layer, err))
			continue
		}
		changed = true
		s.Reporter().Warn(fmt.Sprintf("loop %s: its %s context is now a clone of its own, out of reach of other loops (it was a worktree of %s, whose branch %s is kept: delete it once promoted)", m.Name, c.Layer, c.Clone, strings.TrimPrefix(c.Branch, "refs/heads/")))
	}
	if changed {
		// Made by the host, as root when git loop is: the sandbox's user
		// gets them.
		if err := sandboxspec.GiveToSandbox(s, m, true); err != nil {
			errs = append(errs, err)
		}
	}
	return changed, errors.Join(errs...)
}

// EnsureOwn converts a loop's legacy context worktrees (ConvertLegacy)
// before its sandbox runs, and records what changed. A conversion that
// fails is reported and the loop runs as it was.
func EnsureOwn(ctx context.Context, s *workspace.Workspace, m *state.Meta) {
	changed, err := ConvertLegacy(ctx, s, m)
	if err != nil {
		s.Reporter().Warn(err.Error() + " (it keeps its worktree of the shared clone, which other loops can reach)")
	}
	if seeded, err := ensureMemory(s, m); err != nil {
		s.Reporter().Warn(fmt.Sprintf("loop %s: %v (its sandbox gets no personal memory)", m.Name, err))
	} else if seeded {
		if err := sandboxspec.GiveToSandbox(s, m, true); err != nil {
			s.Reporter().Warn(err.Error())
		}
	}
	if changed {
		if err := s.Store().WriteMeta(m); err != nil {
			s.Reporter().Warn(fmt.Sprintf("loop %s: could not record its own context clones: %v", m.Name, err))
		}
	}
}
