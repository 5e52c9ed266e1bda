// Package land takes a loop's work where it belongs: promote (push, or
// propose for review when a layer is gated), sync, review of proposals,
// and the pre-push gate that keeps loop work off a gated main.
package land

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/leakscan"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Code is the loop's own code repository, the fourth layer promote and
// sync know besides the context layers.
const Code workspace.Layer = "code"

// PromoteLayers are the layers promote handles, in the order "all" runs
// them.
var PromoteLayers = []workspace.Layer{Code, workspace.Knowledge, workspace.Notes, workspace.Personal}

// Gates (config keys <layer>.gate).
const (
	GateReview = "review" // lands as a proposal merged by review
	GateDirect = "direct" // pushed straight to main
)

// promotePushTries bounds the push, fetch and merge rounds of an ungated
// promote racing other writers.
const promotePushTries = 12

// Gate is the gate of a layer: review for knowledge and code, direct for
// notes and personal, unless <layer>.gate says otherwise.
func Gate(s *workspace.Workspace, l workspace.Layer) string {
	if v := s.Config.Get(string(l) + ".gate"); v != "" {
		return v
	}
	if l == workspace.Knowledge || l == Code {
		return GateReview
	}
	return GateDirect
}

// target is one layer of one loop as promote and sync see it: the
// worktree where the loop's branch is checked out, the main it lands on
// and where that main lives.
type target struct {
	layer  workspace.Layer
	dir    string // worktree with the loop's branch checked out
	common string // the repository's common git dir (refs are read there)
	branch string // full ref of the loop's branch in that repository
	main   string // full ref of the local main (code: the loop's base)
	remote string // remote holding main, "" when none
	// remoteMain is main's name on the remote (refs/heads/main).
	remoteMain string
	// track is where main is looked for: the remote-tracking ref, or the
	// local main without a remote.
	track string
	// env is added to the fetches and pushes of context layers: the loop
	// vault's ssh key, so a loop never borrows the host's access.
	env []string
	// leaks checks every push for vault values (nil: nothing is pushed).
	leaks *leakscan.Scan
	// sealed is the loop when t is a sealed loop's code: dir is then the
	// host's repository, the branch is landed from its ref, and what
	// changes the branch runs inside the sandbox (sealed.go).
	sealed *state.Meta
	// own is set for a loop's own context clone (owncontext.go): dir is
	// then never a place the host runs git; clone is the user's clone,
	// landing the loop's landing repository, head the loop's branch as
	// last fetched into it.
	own     *state.ContextWorktree
	meta    *state.Meta
	clone   string
	landing string
	head    string
	// memory is set on the personal layer of a loop with personal
	// memory of its own (memory.go): its changes land in the user's
	// clone first.
	memory bool
}

// ref is what t lands: HEAD of its worktree, or a sealed loop's branch as
// the host has it.
func (t target) ref() string {
	if t.sealed != nil {
		return t.branch
	}
	return "HEAD"
}

// stopDir is where a merge t stopped on is in progress: its worktree, or
// a sealed loop's clone inside its sandbox (the path there).
func (t target) stopDir() string {
	if t.sealed != nil {
		return t.sealed.Worktree
	}
	return t.dir
}

// merge merges track into the loop's branch: in its worktree, or inside a
// sealed loop's sandbox.
func (t target) merge(ctx context.Context, s *workspace.Workspace, track string) ([]string, error) {
	if t.sealed != nil {
		return mergeInside(ctx, s, t, []mergeRev{revFor(ctx, s, track)})
	}
	st := t
	st.track = track
	return mergeMain(ctx, s, st)
}

func (t target) conflict(m *state.Meta, op string, files []string) error {
	return &workspace.ConflictError{Loop: m.Name, Op: op, Layer: t.layer, Dir: t.stopDir(), Files: files, Sealed: t.sealed != nil}
}

// repo is where the host runs git for t: the user's clone for an own
// context clone, else the worktree.
func (t target) repo() string {
	if t.own != nil {
		return t.clone
	}
	return t.dir
}

// checkPush refuses to push HEAD of t when it carries a vault value.
func (t target) checkPush(ctx context.Context, s *workspace.Workspace, loop string) error {
	if t.own != nil {
		return t.checkOwn(ctx, s, loop, t.head)
	}
	return t.leaks.Check(ctx, loop, t.layer, t.dir, t.track, revParse(ctx, s, t.dir, t.ref()))
}

func (t target) label() string {
	return string(t.layer) + ":" + strings.TrimPrefix(t.branch, "refs/heads/")
}

// targets builds the targets of a loop for layers.
func targets(ctx context.Context, s *workspace.Workspace, m *state.Meta, layers []workspace.Layer) ([]target, error) {
	sshEnv, err := sandboxspec.LoopSSHEnv(ctx, s, m)
	if err != nil {
		return nil, err
	}
	// A docker or bwrap loop made before own context clones gets them
	// first: landing never runs git in a dir the sandbox writes.
	contexts.EnsureOwn(ctx, s, m)
	var out []target
	for _, l := range layers {
		switch l {
		case Code:
			if m.Sandbox.Sealed {
				t, ok, err := sealedTarget(ctx, s, m)
				if err != nil {
					return nil, err
				}
				if ok {
					out = append(out, t)
				}
				continue
			}
			if m.BaseRef == "" || !strings.HasPrefix(m.BaseRef, "refs/heads/") {
				s.Reporter().Warn(fmt.Sprintf("code: loop %s started from %s, not a branch; nothing to promote the code onto", m.Name, m.Base))
				continue
			}
			t := target{layer: Code, dir: m.Worktree, common: s.Repo.CommonDir, branch: m.Branch, main: m.BaseRef}
			if err := fillRemote(ctx, s, &t, s.Repo.CommonDir); err != nil {
				return nil, err
			}
			out = append(out, t)
		case workspace.Knowledge, workspace.Notes:
			var c *state.ContextWorktree
			for i := range m.Contexts {
				if m.Contexts[i].Layer == string(l) {
					c = &m.Contexts[i]
				}
			}
			if c == nil {
				continue // the loop has no worktree of this layer
			}
			if c.Own {
				t, err := ownTarget(ctx, s, m, c, sshEnv)
				if err != nil {
					return nil, err
				}
				out = append(out, t)
				continue
			}
			t := target{layer: l, dir: c.Dir, common: filepath.Join(c.Clone, ".git"), branch: c.Branch, main: "refs/heads/main", env: sshEnv}
			if err := fillRemote(ctx, s, &t, c.Clone); err != nil {
				return nil, err
			}
			out = append(out, t)
		case workspace.Personal:
			clone, err := s.LayerClone(workspace.Personal)
			if errors.Is(err, workspace.ErrNoContext) {
				continue
			}
			if err != nil {
				return nil, err
			}
			head, err := s.Query.Line(ctx, git.Cmd{Dir: clone, Args: []string{"symbolic-ref", "-q", "HEAD"}})
			if err != nil || head == "" {
				return nil, fmt.Errorf("personal: the clone %s is not on a branch; check out main first (git -C %s switch main)", clone, clone)
			}
			t := target{layer: workspace.Personal, dir: clone, common: filepath.Join(clone, ".git"), branch: head, main: head, env: sshEnv}
			t.memory = sandboxspec.OwnMemory(m) && workspace.Exists(s.MemoryDir(m.Name))
			if err := fillRemote(ctx, s, &t, clone); err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// fillRemote finds the remote holding t.main: its configured upstream, or
// origin when origin has a branch of that name. Without one, main is
// local.
func fillRemote(ctx context.Context, s *workspace.Workspace, t *target, repo string) error {
	out, err := s.Query.Line(ctx, git.Cmd{Dir: repo, Args: []string{"for-each-ref", "--format=%(upstream:remotename)%00%(upstream:remoteref)%00%(upstream)", t.main}})
	if err != nil {
		return fmt.Errorf("%s: %w", t.layer, err)
	}
	if p := strings.Split(out, "\x00"); len(p) == 3 && p[0] != "" && p[1] != "" && p[2] != "" {
		t.remote, t.remoteMain, t.track = p[0], p[1], p[2]
	} else if track := "refs/remotes/origin/" + strings.TrimPrefix(t.main, "refs/heads/"); revParse(ctx, s, repo, track) != "" {
		// No upstream configured, but origin has the branch: that is
		// where it is shared. A branch only this clone has stays local.
		t.remote, t.remoteMain, t.track = "origin", t.main, track
	} else if t.layer != Code {
		// A layer cloned from an empty remote: its main is unborn (or was
		// born here, before any push), so for-each-ref has no upstream to
		// show, but the clone's config names it. The first promote
		// creates main there.
		short := strings.TrimPrefix(t.main, "refs/heads/")
		remote, _ := s.Query.Line(ctx, git.Cmd{Dir: repo, Args: []string{"config", "--get", "branch." + short + ".remote"}})
		merge, _ := s.Query.Line(ctx, git.Cmd{Dir: repo, Args: []string{"config", "--get", "branch." + short + ".merge"}})
		if remote != "" && remote != "." && strings.HasPrefix(merge, "refs/heads/") {
			t.remote, t.remoteMain, t.track = remote, merge, "refs/remotes/"+remote+"/"+strings.TrimPrefix(merge, "refs/heads/")
		}
	}
	if t.remote == "" {
		t.track = t.main
		return nil
	}
	return nil
}

// remoteURL is the URL of t's remote as configured (before insteadOf
// rewriting, so a known host is recognised whatever transport reaches
// it). Only proposals need it: landing directly does not pay for it.
func remoteURL(ctx context.Context, s *workspace.Workspace, t target) string {
	if t.remote == "" {
		return ""
	}
	u, _ := s.Query.Line(ctx, git.Cmd{Dir: t.repo(), Args: []string{"config", "--get", "remote." + t.remote + ".url"}})
	return u
}

// solo reports whether t's remote is the layer's local solo-mode origin:
// a proposal there stays a local branch.
func solo(ctx context.Context, s *workspace.Workspace, t target) bool {
	if t.layer == Code || t.remote == "" {
		return false
	}
	return remoteURL(ctx, s, t) == s.Dirs.OriginPath(t.layer)
}

// fetch updates t.track. Concurrent fetches into one clone can race for
// the tracking ref's lock, so a failure is retried a few times.
func fetch(ctx context.Context, s *workspace.Workspace, t target) error {
	if t.remote == "" {
		return nil
	}
	var err error
	for i := range 4 {
		if err = s.Git.Run(ctx, git.Cmd{Dir: t.repo(), Label: t.label(), Env: t.env, Args: []string{"fetch", "-q", t.remote, "+" + t.remoteMain + ":" + t.track}}); err == nil {
			return nil
		}
		if i == 0 && remoteLacksMain(ctx, s, t) {
			return nil // a new, empty remote: nothing to fetch, main comes with the first promote
		}
		if !sleepCtx(ctx, time.Duration(20*(i+1)+rand.IntN(50))*time.Millisecond) {
			return ctx.Err()
		}
	}
	return fmt.Errorf("%s: fetch: %w\ncheck that the remote is reachable (\"git -C %s remote -v\", \"git ls-remote %s\"), then run the command again", t.layer, err, t.dir, t.remote)
}

// remoteLacksMain reports whether t's remote answers and has no main (a
// repository just made on a forge).
func remoteLacksMain(ctx context.Context, s *workspace.Workspace, t target) bool {
	out, err := s.Query.Output(ctx, git.Cmd{Dir: t.dir, Env: t.env, Args: []string{"ls-remote", "--heads", t.remote, t.remoteMain}})
	return err == nil && len(strings.TrimSpace(string(out))) == 0
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func revParse(ctx context.Context, s *workspace.Workspace, dir, rev string) string {
	sha, _ := s.Query.Line(ctx, git.Cmd{Dir: dir, Args: []string{"rev-parse", "--verify", "--quiet", rev + "^{commit}"}})
	return sha
}

func isAncestor(ctx context.Context, s *workspace.Workspace, dir, a, b string) (bool, error) {
	return s.Query.Succeeds(ctx, git.Cmd{Dir: dir, Args: []string{"merge-base", "--is-ancestor", a, b}})
}

// aheadBehind counts HEAD's commits not on track and track's not on
// HEAD; a missing track (a remote without main yet) has nothing.
func aheadBehind(ctx context.Context, s *workspace.Workspace, dir, ref, track string) (ahead, behind int, err error) {
	if revParse(ctx, s, dir, ref) == "" {
		return 0, 0, nil // an unborn branch (a clone of an empty remote) has nothing to promote
	}
	out, err := s.Query.Output(ctx, git.Cmd{Dir: dir, Args: []string{"rev-list", "--left-right", "--count", ref + "..." + track}})
	if err != nil {
		if revParse(ctx, s, dir, track) == "" {
			n, cerr := s.Query.Line(ctx, git.Cmd{Dir: dir, Args: []string{"rev-list", "--count", ref}})
			ahead, _ = strconv.Atoi(n)
			return ahead, 0, cerr
		}
		return 0, 0, err
	}
	a, b, _ := strings.Cut(strings.TrimSpace(string(out)), "\t")
	ahead, err1 := strconv.Atoi(a)
	behind, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("unexpected rev-list output %q", out)
	}
	return ahead, behind, nil
}

func countRange(ctx context.Context, s *workspace.Workspace, dir, from, to string) (int, error) {
	out, err := s.Query.Line(ctx, git.Cmd{Dir: dir, Args: []string{"rev-list", "--count", from + ".." + to}})
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out)
}

// head is the commit of the loop's branch (checked out in t.dir), read
// from the ref store without a git process when it can be.
func head(ctx context.Context, s *workspace.Workspace, t target) string {
	if t.own != nil {
		return t.head
	}
	if t.common != "" {
		if sha, found, ok := workspace.ReadRef(t.common, t.branch); ok && found {
			return sha
		}
	}
	return revParse(ctx, s, t.dir, t.ref())
}

// mergeMain merges t.track into the loop's branch in its worktree; the
// callers have checked that main has commits the branch lacks. On a
// conflict the merge stays in progress and the conflicted files are
// returned.
func mergeMain(ctx context.Context, s *workspace.Workspace, t target) (conflicts []string, err error) {
	merr := s.Git.Run(ctx, git.Cmd{Dir: t.dir, Label: t.label(), Args: []string{"merge", "-q", "--no-edit", t.track}})
	if merr == nil || s.Git.DryRun {
		return nil, nil
	}
	files, _ := unmerged(ctx, s, t.dir)
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: merging %s: %w", t.layer, t.track, merr)
	}
	return files, nil
}

func unmerged(ctx context.Context, s *workspace.Workspace, dir string) ([]string, error) {
	out, err := s.Query.Output(ctx, git.Cmd{Dir: dir, Args: []string{"diff", "--name-only", "-z", "--diff-filter=U"}})
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// PromoteOptions are the inputs of Promote.
type PromoteOptions struct {
	Name      string
	Layers    []workspace.Layer // empty: all
	CommitAll bool
	Message   string
	Continue  bool
	Abort     bool
	// LookPath finds gh (tests replace it); nil uses exec.LookPath.
	LookPath func(string) (string, error)
}

// Landed is what promote did with one layer.
type Landed struct {
	Layer  workspace.Layer `json:"layer"`
	Action string          `json:"action"` // pushed, proposed, pull-request, nothing
	Commit string          `json:"commit,omitempty"`
	Ref    string          `json:"ref,omitempty"` // where it landed or the proposal's branch
	URL    string          `json:"url,omitempty"` // where to open the pull request, or the one gh opened
	Pushes int             `json:"pushes,omitempty"`
}

// RunState is a stopped promote or sync, saved so --continue and --abort
// pick up where it stopped.
type RunState struct {
	Op        string            `json:"op"`
	Loop      string            `json:"loop"`
	Layers    []workspace.Layer `json:"layers"`  // the stopped layer first, then those still to do
	Stopped   string            `json:"stopped"` // the worktree with the merge in progress
	OrigHeads map[string]string `json:"origHeads"`
	CommitAll bool              `json:"commitAll,omitempty"`
	Message   string            `json:"message,omitempty"`
}

func runStatePath(s *workspace.Workspace, name string) string {
	return filepath.Join(s.Store().HostDir(name), "run.json")
}

func readRunState(s *workspace.Workspace, name string) (*RunState, error) {
	data, err := os.ReadFile(runStatePath(s, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rs RunState
	if err := json.Unmarshal(data, &rs); err != nil {
		return nil, fmt.Errorf("read %s: %w", runStatePath(s, name), err)
	}
	return &rs, nil
}

func writeRunState(s *workspace.Workspace, rs *RunState) error {
	if s.Git.DryRun {
		return nil
	}
	data, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(runStatePath(s, rs.Loop), data, 0o644)
}

func clearRunState(s *workspace.Workspace, name string) {
	if !s.Git.DryRun {
		_ = os.Remove(runStatePath(s, name))
	}
}

// loopLock serialises promote and sync of one loop without blocking other
// loops: concurrent promotes of different loops must race for real.
// openRun starts or resumes a loop's multi-step run (promote, sync) under
// the loop's run lock: --abort undoes a stopped run (rs is then nil: there
// is nothing more to do), --continue concludes its merge and hands back its
// state, and with neither a stopped run is refused and fresh makes the state
// of a new one. unlock releases the lock once the run is done.
func openRun(ctx context.Context, s *workspace.Workspace, name, op string, abort, cont bool, fresh func(*state.Meta) *RunState) (m *state.Meta, rs *RunState, unlock func(), err error) {
	if m, err = s.Get(name); err != nil {
		return nil, nil, nil, err
	}
	l, err := s.LoopLock(ctx, m.Name)
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if rs == nil {
			l.Unlock()
		}
	}()
	stopped, err := readRunState(s, m.Name)
	if err != nil {
		return nil, nil, nil, err
	}
	switch {
	case abort || cont:
		if stopped == nil || stopped.Op != op {
			return nil, nil, nil, &workspace.UsageError{Err: fmt.Errorf("loop %q has no stopped %s to %s", m.Name, op, map[bool]string{true: "abort", false: "continue"}[abort])}
		}
		// A sealed loop's code stopped inside its sandbox: the host never
		// runs git in that clone, so the merge is ended there.
		inside := m.Sandbox.Sealed && len(stopped.Layers) > 0 && stopped.Layers[0] == Code
		if abort {
			if inside {
				return nil, nil, nil, abortInside(ctx, s, m, stopped)
			}
			return nil, nil, nil, abortRun(ctx, s, stopped)
		}
		conclude := concludeMerge
		if inside {
			conclude = func(ctx context.Context, s *workspace.Workspace, rs *RunState) error {
				return concludeInside(ctx, s, m, rs)
			}
		}
		if err := conclude(ctx, s, stopped); err != nil {
			return nil, nil, nil, err
		}
		return m, stopped, l.Unlock, nil
	case stopped != nil:
		return nil, nil, nil, &workspace.UsageError{Err: fmt.Errorf("a %s of %q is stopped on a conflict in %s; run \"git loop %s --continue %s\" or \"--abort\"", stopped.Op, m.Name, stopped.Stopped, stopped.Op, m.Name)}
	}
	return m, fresh(m), l.Unlock, nil
}

// ParseLayers reads --layer values: code, knowledge, notes, personal, all.
func ParseLayers(vals []string) ([]workspace.Layer, error) {
	var out []workspace.Layer
	seen := map[workspace.Layer]bool{}
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "all" {
				return nil, nil
			}
			l := workspace.Layer(p)
			ok := false
			for _, x := range PromoteLayers {
				ok = ok || x == l
			}
			if !ok {
				return nil, &workspace.UsageError{Err: fmt.Errorf("--layer %q: not code, knowledge, notes, personal or all", p)}
			}
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// Promote lands a loop's work (git-loop-promote(1)): per layer, commit if asked,
// fetch, merge the latest main into the loop's branch (never rebase), then
// push main (ungated) or make a proposal (gated).
func Promote(ctx context.Context, s *workspace.Workspace, opts PromoteOptions) ([]Landed, error) {
	m, rs, unlock, err := openRun(ctx, s, opts.Name, "promote", opts.Abort, opts.Continue, func(m *state.Meta) *RunState {
		layers := opts.Layers
		if len(layers) == 0 {
			layers = PromoteLayers
		}
		return &RunState{Op: "promote", Loop: m.Name, Layers: layers, OrigHeads: map[string]string{}, CommitAll: opts.CommitAll, Message: opts.Message}
	})
	if err != nil || rs == nil {
		return nil, err
	}
	defer unlock()
	ts, err := targets(ctx, s, m, rs.Layers)
	if err != nil {
		return nil, err
	}
	// Every layer is checked for vault values before any is pushed (and
	// each again right before its push, which may follow a commit or a
	// merge): a leak in notes must not follow the code out.
	leaks := leakscan.New(s)
	all := &workspace.SecretLeakError{Loop: m.Name}
	for i := range ts {
		ts[i].leaks = leaks
		err := ts[i].checkPush(ctx, s, m.Name)
		if err == nil && ts[i].memory {
			err = checkMemory(ctx, s, m, leaks)
		}
		var le *workspace.SecretLeakError
		if errors.As(err, &le) {
			all.Leaks = append(all.Leaks, le.Leaks...)
		} else if err != nil {
			return nil, err
		}
	}
	if len(all.Leaks) > 0 {
		return nil, all
	}
	var out []Landed
	for i, t := range ts {
		if opts.Continue && i == 0 && t.stopDir() != rs.Stopped {
			return nil, fmt.Errorf("the stopped promote was in %s, not %s", rs.Stopped, t.dir)
		}
		resumed := opts.Continue && i == 0
		if !resumed {
			rs.OrigHeads[string(t.layer)] = head(ctx, s, t)
		}
		res, err := promoteTarget(ctx, s, m, t, rs, resumed, opts)
		if err != nil {
			var ce *workspace.ConflictError
			if errors.As(err, &ce) {
				rs.Layers = layerNames(ts[i:])
				rs.Stopped = t.stopDir()
				if werr := writeRunState(s, rs); werr != nil {
					return out, fmt.Errorf("%w (and saving the run state failed: %v)", err, werr)
				}
			}
			return out, err
		}
		out = append(out, res)
	}
	clearRunState(s, m.Name)
	return out, nil
}

func layerNames(ts []target) []workspace.Layer {
	out := make([]workspace.Layer, len(ts))
	for i, t := range ts {
		out[i] = t.layer
	}
	return out
}

func promoteTarget(ctx context.Context, s *workspace.Workspace, m *state.Meta, t target, rs *RunState, resumed bool, opts PromoteOptions) (Landed, error) {
	if t.own != nil {
		return promoteOwn(ctx, s, m, t, rs, opts)
	}
	res := Landed{Layer: t.layer, Action: "nothing"}
	if !resumed {
		if t.memory {
			if err := landMemory(ctx, s, m, t, rs.Message); err != nil {
				return res, err
			}
		}
		if rs.CommitAll {
			if err := commitAll(ctx, s, t, rs.Message); err != nil {
				return res, err
			}
		}
		if err := fetch(ctx, s, t); err != nil {
			return res, err
		}
		if t.sealed != nil {
			// A commit the user made in the host checkout goes in first.
			if r, ok := checkoutRev(ctx, s, t.sealed); ok {
				files, err := mergeInside(ctx, s, t, []mergeRev{r})
				if err != nil {
					return res, err
				}
				if files != nil {
					return res, t.conflict(m, "promote", files)
				}
			}
		}
		// One rev-list says both whether the loop has work of its own
		// (none: done, without merging main in, which is sync's job) and
		// whether main moved since (then it is merged in first).
		ahead, behind, err := aheadBehind(ctx, s, t.dir, t.ref(), t.track)
		if err != nil {
			return res, err
		}
		if ahead == 0 {
			return res, nil
		}
		s.Reporter().Step(fmt.Sprintf("promoting %s of %s", t.layer, m.Name))
		if behind > 0 {
			files, err := t.merge(ctx, s, t.track)
			if err != nil {
				return res, err
			}
			if files != nil {
				return res, t.conflict(m, "promote", files)
			}
		}
	}
	res.Commit = head(ctx, s, t)
	if Gate(s, t.layer) == GateReview {
		return propose(ctx, s, m, t, res, opts)
	}
	return land(ctx, s, m, t, res)
}

// commitAll commits every change of the layer's worktree.
func commitAll(ctx context.Context, s *workspace.Workspace, t target, msg string) error {
	if t.sealed != nil {
		return commitAllInside(ctx, s, t, msg)
	}
	dirty, err := s.DirtyFiles(ctx, t.dir)
	if err != nil || len(dirty) == 0 {
		return err
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", msg}} {
		if args[0] == "commit" && t.layer != Code {
			if err := noNewSubmodule(ctx, s, t); err != nil {
				return err
			}
		}
		if err := s.Git.Run(ctx, git.Cmd{Dir: t.dir, Label: t.label(), Args: args}); err != nil {
			return fmt.Errorf("%s: %w", t.layer, err)
		}
	}
	return nil
}

// noNewSubmodule refuses to commit what "add -A" staged in a context
// layer when it recorded a git repository below the top as a submodule:
// from then on every git status there (git loop's, the user's) would run
// git inside it, with the config its writer chose (core.fsmonitor runs a
// command). Sandboxes write such worktrees: every loop writes personal
// memory/ in the user's clone. Checked in the index, after the add, so a
// repository planted while the add runs is caught too; what was staged
// for it is unstaged.
func noNewSubmodule(ctx context.Context, s *workspace.Workspace, t target) error {
	gitlinks := func(args ...string) (map[string]bool, error) {
		out, err := s.Query.Output(ctx, git.Cmd{Dir: t.dir, Args: args})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.layer, err)
		}
		links := map[string]bool{}
		for rec := range strings.SplitSeq(string(out), "\x00") {
			// "MODE SHA STAGE\tPATH" (ls-files) or "MODE TYPE SHA\tPATH" (ls-tree)
			if meta, path, ok := strings.Cut(rec, "\t"); ok && strings.HasPrefix(meta, "160000 ") {
				links[path] = true
			}
		}
		return links, nil
	}
	staged, err := gitlinks("ls-files", "--stage", "-z")
	if err != nil || len(staged) == 0 {
		return err
	}
	had := map[string]bool{}
	if revParse(ctx, s, t.dir, "HEAD") != "" {
		if had, err = gitlinks("ls-tree", "-r", "-z", "HEAD"); err != nil {
			return err
		}
	}
	var added []string
	for p := range staged {
		if !had[p] {
			added = append(added, p)
		}
	}
	if len(added) == 0 {
		return nil
	}
	sort.Strings(added)
	_ = s.Git.Run(ctx, git.Cmd{Dir: t.dir, Label: t.label(), Args: append([]string{"reset", "-q", "--"}, added...)})
	return fmt.Errorf("%s: %s in %s is a git repository of its own, which a commit would record as a submodule whose config every git status there obeys (a sandbox may have planted it); nothing was committed: look at it, remove it (rm -rf %s), and promote again", t.layer, added[0], t.dir, filepath.Join(t.dir, added[0]))
}

// land pushes HEAD to main; a push rejected because main moved is
// followed by fetch and merge, and tried again, a bounded number of times.
// Without a remote, the local main moves by compare-and-swap.
func land(ctx context.Context, s *workspace.Workspace, m *state.Meta, t target, res Landed) (Landed, error) {
	if t.remote == "" {
		old := revParse(ctx, s, t.dir, t.main)
		if err := s.Git.Run(ctx, git.Cmd{Dir: t.dir, Label: t.label(), Args: []string{"update-ref", "-m", "git loop promote " + m.Name, t.main, t.ref(), old}}); err != nil {
			return res, fmt.Errorf("%s: %s moved while promoting; run the promote again: %w", t.layer, t.main, err)
		}
		res.Action, res.Ref = "pushed", t.main
		return res, nil
	}
	for attempt := 1; ; attempt++ {
		res.Pushes = attempt
		if err := t.checkPush(ctx, s, m.Name); err != nil {
			return res, err
		}
		perr := s.Git.Run(ctx, git.Cmd{Dir: t.dir, Label: t.label(), Env: t.env, Args: []string{"push", "-q", t.remote, t.ref() + ":" + t.remoteMain}})
		if perr == nil || s.Git.DryRun {
			res.Action, res.Ref = "pushed", t.remote+"/"+strings.TrimPrefix(t.remoteMain, "refs/heads/")
			if attempt > 1 {
				res.Commit = head(ctx, s, t) // merged again since
			}
			return res, nil
		}
		if attempt == promotePushTries {
			return res, fmt.Errorf("%s: gave up after %d pushes: %w", t.layer, attempt, perr)
		}
		if err := fetch(ctx, s, t); err != nil {
			return res, err
		}
		// The push may have landed and only its local bookkeeping failed
		// (a racing fetch holding the tracking ref's lock).
		if ok, _ := isAncestor(ctx, s, t.dir, t.ref(), t.track); ok {
			res.Action, res.Ref, res.Commit = "pushed", t.remote+"/"+strings.TrimPrefix(t.remoteMain, "refs/heads/"), revParse(ctx, s, t.dir, t.ref())
			return res, nil
		}
		if ok, err := isAncestor(ctx, s, t.dir, t.track, t.ref()); err != nil {
			return res, err
		} else if ok {
			return res, fmt.Errorf("%s: push: %w", t.layer, perr) // not a race: refused for another reason
		}
		files, err := t.merge(ctx, s, t.track)
		if err != nil {
			return res, err
		}
		if files != nil {
			return res, t.conflict(m, "promote", files)
		}
		// Writers racing for one remote spread out.
		if !sleepCtx(ctx, time.Duration(rand.IntN(40*attempt))*time.Millisecond) {
			return res, ctx.Err()
		}
	}
}

// ProposalRef records the commit a loop proposed for a gated layer, in
// the repository holding the layer (the code repository, or the layer's
// clone).
func ProposalRef(layer workspace.Layer, loop string) string {
	return "refs/loop-proposed/" + string(layer) + "/" + loop
}

// propose makes a gated layer's proposal: the loop's branch itself. On a
// shared remote the branch is pushed; on a known host a pull request is
// opened with gh, or its URL printed.
func propose(ctx context.Context, s *workspace.Workspace, m *state.Meta, t target, res Landed, opts PromoteOptions) (Landed, error) {
	res.Action, res.Ref = "proposed", strings.TrimPrefix(t.branch, "refs/heads/")
	url := remoteURL(ctx, s, t)
	if t.remote != "" && (t.layer == Code || url != s.Dirs.OriginPath(t.layer)) {
		if err := t.checkPush(ctx, s, m.Name); err != nil {
			return res, err
		}
		if err := startMain(ctx, s, t); err != nil {
			return res, err
		}
		if err := s.Git.Run(ctx, git.Cmd{Dir: t.dir, Label: t.label(), Env: t.env, Args: []string{"push", "-q", "--force-with-lease", t.remote, t.ref() + ":" + t.branch}}); err != nil {
			return res, fmt.Errorf("%s: pushing the proposal: %w", t.layer, err)
		}
	}
	// The record that this commit was proposed: review lists it, status
	// says "proposed" instead of "not promoted", and work the loop does
	// afterwards is not merged by review until it is proposed too.
	if err := s.Git.Run(ctx, git.Cmd{Dir: t.dir, Label: t.label(), Args: []string{"update-ref", ProposalRef(t.layer, m.Name), res.Commit}}); err != nil {
		return res, fmt.Errorf("%s: recording the proposal: %w", t.layer, err)
	}
	if t.remote == "" || (t.layer != Code && url == s.Dirs.OriginPath(t.layer)) {
		return res, nil // solo: the local branch is the proposal
	}
	return pullRequest(ctx, s, t, res, opts)
}

// pullRequest opens the pull request of a pushed proposal on a known
// host with gh, or gives its URL.
func pullRequest(ctx context.Context, s *workspace.Workspace, t target, res Landed, opts PromoteOptions) (Landed, error) {
	web := hostRepoURL(remoteURL(ctx, s, t))
	if web == "" {
		return res, nil
	}
	head, base := strings.TrimPrefix(t.branch, "refs/heads/"), strings.TrimPrefix(t.remoteMain, "refs/heads/")
	res.URL = fmt.Sprintf("%s/compare/%s...%s?expand=1", web, base, head)
	if s.Git.DryRun {
		return res, nil
	}
	look := opts.LookPath
	if look == nil {
		look = exec.LookPath
	}
	gh, err := look("gh")
	if err != nil || !strings.Contains(web, "github") {
		return res, nil
	}
	if exec.CommandContext(ctx, gh, "auth", "status").Run() != nil {
		s.Reporter().Warn("gh is not authenticated (run \"gh auth login\"); open the pull request at " + res.URL)
		return res, nil
	}
	cmd := exec.CommandContext(ctx, gh, "pr", "create", "--repo", strings.TrimPrefix(strings.TrimPrefix(web, "https://"), "http://"), "--head", head, "--base", base, "--fill")
	cmd.Dir = t.repo()
	cmd.Env = git.Env()
	outb, err := cmd.CombinedOutput()
	if err != nil {
		s.Reporter().Warn(fmt.Sprintf("gh pr create failed (%v): %s; open the pull request at %s", err, strings.TrimSpace(string(outb)), res.URL))
		return res, nil
	}
	res.Action = "pull-request"
	if u := strings.TrimSpace(lastLine(string(outb))); strings.HasPrefix(u, "http") {
		res.URL = u
	}
	return res, nil
}

// startMain creates main on a context layer's empty remote before the
// first proposal, so the proposal has a base to be reviewed and merged
// against: main starts as the empty layer the loop started from.
func startMain(ctx context.Context, s *workspace.Workspace, t target) error {
	if t.layer == Code || revParse(ctx, s, t.dir, t.track) != "" {
		return nil
	}
	empty, err := contexts.EmptyLayer(ctx, s, t.layer, t.dir)
	if err != nil {
		return err
	}
	if ok, _ := isAncestor(ctx, s, t.dir, empty, "HEAD"); !ok {
		return nil // the loop did not start from an empty layer
	}
	if err := s.Git.Run(ctx, git.Cmd{Dir: t.dir, Label: t.label(), Env: t.env, Args: []string{"push", "-q", t.remote, empty + ":" + t.remoteMain}}); err != nil {
		return fmt.Errorf("%s: creating %s on %s (the remote has no commits yet): %w", t.layer, strings.TrimPrefix(t.remoteMain, "refs/heads/"), t.remote, err)
	}
	return fetch(ctx, s, t)
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// knownHosts are forges whose pull-request URLs promote knows.
var knownHosts = []string{"github.com", "gitlab.com", "bitbucket.org", "codeberg.org"}

// hostRepoURL turns a remote URL on a known host into the repository's
// web address ("" for any other remote).
func hostRepoURL(remote string) string {
	host, path := "", ""
	if u, err := url.Parse(remote); err == nil && u.Host != "" {
		host, path = u.Hostname(), u.Path
	} else if at, rest, ok := strings.Cut(remote, ":"); ok && !strings.Contains(at, "/") {
		// scp-like: git@github.com:owner/repo.git
		_, host, _ = strings.Cut(at, "@")
		if host == "" {
			host = at
		}
		path = rest
	}
	for _, h := range knownHosts {
		if strings.EqualFold(host, h) {
			path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
			if path == "" {
				return ""
			}
			return "https://" + h + "/" + path
		}
	}
	return ""
}

// concludeMerge finishes the merge a stopped run left in progress: files
// resolved but not added (no conflict markers left) are added; files still
// conflicted are refused.
func concludeMerge(ctx context.Context, s *workspace.Workspace, rs *RunState) error {
	if m, c := ownStopped(s, rs); c != nil {
		return concludeOwn(ctx, s, rs, m, c)
	}
	dir := rs.Stopped
	files, err := unmerged(ctx, s, dir)
	if err != nil {
		return err
	}
	var still []string
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err == nil && (strings.Contains(string(data), "<<<<<<< ") || strings.Contains(string(data), ">>>>>>> ")) {
			still = append(still, f)
			continue
		}
		if err := s.Git.Run(ctx, git.Cmd{Dir: dir, Label: "resolve", Args: []string{"add", "-A", "--", f}}); err != nil {
			return err
		}
	}
	if len(still) > 0 {
		return &workspace.ConflictError{Loop: rs.Loop, Op: rs.Op, Layer: rs.Layers[0], Dir: dir, Files: still}
	}
	if revParse(ctx, s, dir, "MERGE_HEAD") == "" {
		return nil // committed by hand
	}
	return s.Git.Run(ctx, git.Cmd{Dir: dir, Label: string(rs.Layers[0]), Args: []string{"commit", "-q", "--no-edit"}})
}

// abortRun undoes the stopped layer: the merge is aborted and a commit
// --commit-all made is undone, so the worktree is as it was. Layers that
// landed before the conflict stay landed.
func abortRun(ctx context.Context, s *workspace.Workspace, rs *RunState) error {
	if m, c := ownStopped(s, rs); c != nil {
		return abortOwn(ctx, s, rs, m, c)
	}
	dir := rs.Stopped
	if revParse(ctx, s, dir, "MERGE_HEAD") != "" {
		if err := s.Git.Run(ctx, git.Cmd{Dir: dir, Label: string(rs.Layers[0]), Args: []string{"merge", "--abort"}}); err != nil {
			return err
		}
	}
	if orig := rs.OrigHeads[string(rs.Layers[0])]; orig != "" && revParse(ctx, s, dir, "HEAD") != orig {
		if err := s.Git.Run(ctx, git.Cmd{Dir: dir, Label: string(rs.Layers[0]), Args: []string{"reset", "-q", orig}}); err != nil {
			return err
		}
	}
	clearRunState(s, rs.Loop)
	return nil
}
