// Package status answers git loop ls and status: one row per loop, kept
// cheap by a status cache exactly as correct as git status.
package status

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/land"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// Loop states.
const (
	StateReady  = "ready"
	StateBroken = "broken" // worktree or branch vanished; "git loop prune" cleans up
)

// LoopStatus is one loop as ls and status show it. Its JSON form is the
// stable --json output.
type LoopStatus struct {
	Name      string         `json:"name"`
	Branch    string         `json:"branch"`
	Base      string         `json:"base"`
	BaseSHA   string         `json:"baseSha"`
	Head      string         `json:"head"`
	Worktree  string         `json:"worktree"`
	State     string         `json:"state"`
	Problems  []string       `json:"problems,omitempty"`
	Agent     string         `json:"agent"`
	Driver    string         `json:"driver"`
	Sandbox   sandbox.State  `json:"sandbox"`
	SandboxID string         `json:"sandboxId,omitempty"`
	Ports     []sandbox.Port `json:"ports,omitempty"`
	Ahead     int            `json:"ahead"`
	Behind    int            `json:"behind"`
	Dirty     bool           `json:"dirty"`
	Changes   int            `json:"changes"`
	// ChangesUnknown: the loop's uncommitted work lives in a sandbox
	// whose engine did not answer, so Dirty and Changes are not known
	// (shown as "unreachable", never "clean").
	ChangesUnknown bool `json:"changesUnknown,omitempty"`
	// Placement is where the loop's files live: "local" (this host;
	// every loop today) or "remote" (on its engine).
	Placement string `json:"placement"`
	// LastFetch is when the host last fetched a sealed loop's work from
	// its sandbox (absent: never, or not sealed).
	LastFetch time.Time         `json:"lastFetch,omitzero"`
	Created   time.Time         `json:"created"`
	Versions  map[string]string `json:"versions,omitempty"`
	// Unpromoted are the layers with commits not yet promoted.
	Unpromoted []string `json:"unpromoted,omitempty"`
	// Proposed are the gated layers whose work is proposed and waits for
	// review ("git loop review ls"): promoted as far as the loop goes.
	Proposed []string `json:"proposed,omitempty"`
	// ContextBehind are the context layers whose clone moved on after the
	// loop took its version ("git loop sync NAME" brings it in).
	ContextBehind []string `json:"contextBehind,omitempty"`
}

// List returns the status of every loop, sorted by name. It stays fast
// with hundreds of loops: refs come from one for-each-ref, sandboxes from
// one list call per driver, and per-loop git work runs in parallel and is
// skipped entirely when a loop's cached answer is provably current.
func List(ctx context.Context, s *workspace.Workspace) ([]LoopStatus, error) {
	if err := lifecycle.RecoverIfIdle(ctx, s); err != nil {
		return nil, err
	}
	metas, errs := s.Store().List()
	for _, err := range errs {
		s.Reporter().Warn(err.Error())
	}
	return statuses(ctx, s, metas, false, false)
}

// Status returns one loop's status, fetched from its sandbox first when
// it is sealed (status NAME: the current state, wherever it lives).
func Status(ctx context.Context, s *workspace.Workspace, name string) (LoopStatus, error) {
	return one(ctx, s, name, true)
}

// View is Status for the web viewer, which must stay cheap: a remote
// loop is shown as the host last fetched it (with the age of that
// fetch), with no exec into it.
func View(ctx context.Context, s *workspace.Workspace, name string) (LoopStatus, error) {
	return one(ctx, s, name, false)
}

func one(ctx context.Context, s *workspace.Workspace, name string, remote bool) (LoopStatus, error) {
	m, err := s.Get(name)
	if err != nil {
		return LoopStatus{}, err
	}
	st, err := statuses(ctx, s, []*state.Meta{m}, true, remote)
	if err != nil {
		return LoopStatus{}, err
	}
	return st[0], nil
}

// statuses are metas' rows. fetchAll fetches every running sealed loop
// (else those whose branch moved, read as data); remote lets that reach
// remote loops too (else they are shown as last fetched, no exec).
func statuses(ctx context.Context, s *workspace.Workspace, metas []*state.Meta, fetchAll, remote bool) ([]LoopStatus, error) {
	if len(metas) == 0 {
		return []LoopStatus{}, nil
	}
	sandboxes := sandboxStates(ctx, s, metas)
	// A fetch runs in the sandbox: only in running ones, never starting a
	// stopped one to look at it.
	var running []*state.Meta
	for _, m := range metas {
		if sb, ok := sandboxes[m.Name]; ok && sb.State == sandbox.StateRunning {
			running = append(running, m)
		}
	}
	refreshSealed(ctx, s, running, fetchAll, remote)
	refs, err := s.Refs(ctx)
	if err != nil {
		return nil, err
	}
	snaps, err := sealedSnapshots(ctx, s, metas)
	if err != nil {
		return nil, err
	}
	moves := contexts.CloneMoves(s)
	out := make([]LoopStatus, len(metas))
	for i, m := range metas {
		agentSetting := m.Agent
		if agentSetting == "" && s.Config != nil {
			agentSetting = s.Config.Agent() // the loop follows the setting
		}
		st := LoopStatus{
			Name: m.Name, Branch: m.ShortBranch(), Base: m.Base, BaseSHA: m.BaseSHA,
			Worktree: m.Worktree, State: StateReady, Agent: agentSetting, Driver: m.Sandbox.Driver,
			Created: m.Created, Versions: m.Versions, SandboxID: m.Sandbox.ID,
			Placement: placementOf(m),
		}
		if m.Sandbox.Sealed {
			st.LastFetch, _ = transport.LastFetch(s, m.Name)
		}
		st.ContextBehind = contexts.Behind(m, moves)
		st.Head = refs[m.Branch]
		if st.Head == "" {
			st.State = StateBroken
			st.Problems = append(st.Problems, "branch "+m.ShortBranch()+" is gone")
		}
		if !workspace.Exists(m.Worktree) {
			st.State = StateBroken
			st.Problems = append(st.Problems, "worktree "+m.Worktree+" is gone")
		}
		if sb, ok := sandboxes[m.Name]; ok {
			st.Sandbox, st.Ports = sb.State, sb.Ports
			st.ChangesUnknown = sb.State == sandbox.StateUnreachable && m.Sandbox.Sealed
			if sb.ID != "" {
				st.SandboxID = sb.ID
			}
		} else {
			st.Sandbox = sandbox.StateMissing
		}
		out[i] = st
	}

	// Per-loop git work, bounded: more workers than cores, since each
	// mostly waits on a git process.
	workers := 2 * runtime.NumCPU()
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i, m := range metas {
		if out[i].State != StateReady {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(st *LoopStatus, m *state.Meta) {
			defer func() { <-sem; wg.Done() }()
			baseNow := m.BaseSHA
			if m.BaseRef != "" && refs[m.BaseRef] != "" {
				baseNow = refs[m.BaseRef]
			}
			err := fillWorkState(ctx, s, st, m, baseNow, snaps[transport.SnapshotQuarantine(m.Name)])
			if err == nil {
				st.Unpromoted, err = unpromoted(ctx, s, st, m)
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(&out[i], m)
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// fillWorkState sets ahead/behind and dirty state.
func fillWorkState(ctx context.Context, s *workspace.Workspace, st *LoopStatus, m *state.Meta, baseNow, snapshot string) error {
	cache := readStatusCache(s, m.Name)
	ahead, behind, ok := cache.aheadBehind(st.Head, baseNow)
	if !ok {
		var err error
		ahead, behind, err = countAheadBehind(ctx, s, st.Head, baseNow)
		if err != nil {
			return fmt.Errorf("status of %s: %w", m.Name, err)
		}
		cache.setAheadBehind(st.Head, baseNow, ahead, behind)
	}
	st.Ahead, st.Behind = ahead, behind
	if m.Sandbox.Sealed {
		n, err := sealedChanges(ctx, s, st.Head, snapshot)
		if err != nil {
			return fmt.Errorf("status of %s: %w", m.Name, err)
		}
		st.Changes, st.Dirty = n, n > 0
		writeStatusCache(s, m.Name, cache)
		return nil
	}
	changes, ok := cache.dirtyCount(s.Repo, m.Worktree)
	if !ok {
		var err error
		changes, err = refreshDirty(ctx, s, cache, m.Worktree)
		if err != nil {
			return fmt.Errorf("status of %s: %w", m.Name, err)
		}
	}
	st.Changes, st.Dirty = changes, changes > 0
	writeStatusCache(s, m.Name, cache)
	return nil
}

func countAheadBehind(ctx context.Context, s *workspace.Workspace, head, base string) (int, int, error) {
	if head == base {
		return 0, 0, nil
	}
	out, err := s.Query.Line(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"rev-list", "--left-right", "--count", head + "..." + base}})
	if err != nil {
		return 0, 0, err
	}
	a, b, _ := strings.Cut(out, "\t")
	ahead, err1 := strconv.Atoi(a)
	behind, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("unexpected rev-list output %q", out)
	}
	return ahead, behind, nil
}

// countChanges counts changed, staged and untracked entries of a worktree,
// exactly as git status reports them, and lists what git ignores there
// (the status cache's walk skips those).
func countChanges(ctx context.Context, s *workspace.Workspace, wt string) (int, []string, error) {
	out, err := s.Query.Output(ctx, git.Cmd{Dir: wt, Args: git.StatusArgs})
	if err != nil {
		return 0, nil, err
	}
	n, ignored := git.ParseStatus(out)
	return n, ignored, nil
}

// sandboxStates asks each driver in use for its sandboxes once.
func sandboxStates(ctx context.Context, s *workspace.Workspace, metas []*state.Meta) map[string]sandbox.Status {
	out := map[string]sandbox.Status{}
	drivers := map[string]bool{}
	for _, m := range metas {
		if m.Sandbox.Driver == "none" {
			out[m.Name] = sandbox.Status{Driver: "none", State: sandbox.StateRunning}
			continue
		}
		drivers[m.Sandbox.Driver] = true
	}
	if len(drivers) == 0 {
		return out
	}
	id, err := s.Repo.WorkspaceID()
	if err != nil {
		return out
	}
	// An engine that does not answer leaves its loops unreachable, not
	// missing: their state (and a sealed loop's work) is unknown.
	unreachable := func(d string, err error) {
		s.Reporter().Warn(fmt.Sprintf("sandbox state unknown: %v", err))
		if !errors.Is(err, sandbox.ErrEngineUnreachable) {
			return
		}
		for _, m := range metas {
			if m.Sandbox.Driver == d {
				out[m.Name] = sandbox.Status{Driver: d, State: sandbox.StateUnreachable}
			}
		}
	}
	for d := range drivers {
		eng, err := s.OpenEngine(ctx, d)
		if err != nil {
			unreachable(d, err)
			continue
		}
		list, err := listBounded(ctx, eng, id)
		if err != nil {
			unreachable(d, err)
			continue
		}
		for _, st := range list {
			out[st.Labels[sandbox.LabelLoop]] = st
		}
		if d == "bwrap" {
			// bwrap has no long-lived sandbox: one exists whenever the
			// worktree does.
			for _, m := range metas {
				if m.Sandbox.Driver == d && workspace.Exists(m.Worktree) {
					out[m.Name] = sandbox.Status{Driver: d, State: sandbox.StateRunning}
				}
			}
		}
	}
	return out
}

// listTimeout bounds the one list call ls makes per engine: an engine
// that does not answer by then (a dead remote host, a blackholed address)
// leaves its loops "unreachable" rather than ls hanging on it.
const listTimeout = 5 * time.Second

// listBounded lists the workspace's sandboxes on eng within listTimeout;
// no answer in time is sandbox.ErrEngineUnreachable.
func listBounded(ctx context.Context, eng sandbox.Engine, id string) ([]sandbox.Status, error) {
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	list, err := eng.List(lctx, map[string]string{sandbox.LabelWorkspace: id})
	if err != nil && ctx.Err() == nil && errors.Is(lctx.Err(), context.DeadlineExceeded) && !errors.Is(err, sandbox.ErrEngineUnreachable) {
		err = fmt.Errorf("%s list: %w: no answer in %s: %v", eng.Name(), sandbox.ErrEngineUnreachable, listTimeout, err)
	}
	return list, err
}

// unpromoted lists the layers of a loop holding commits its layer's main
// does not have: code when the branch is ahead of its base, a context
// layer when its branch has commits on no remote-tracking main. A context
// branch still at the commit it started from costs no git call.
func unpromoted(ctx context.Context, s *workspace.Workspace, st *LoopStatus, m *state.Meta) ([]string, error) {
	var out []string
	if st.Ahead > 0 {
		switch landed, proposed, err := codeLanded(ctx, s, st, m); {
		case err != nil:
			return nil, fmt.Errorf("status of %s: %w", m.Name, err)
		case proposed:
			st.Proposed = append(st.Proposed, string(land.Code))
		case !landed:
			out = append(out, string(land.Code))
		}
	}
	for _, c := range m.Contexts {
		if c.Own {
			// The loop's own clone: its branch read as data (no git
			// there, no exec); commits the user's clone does not know
			// are unpromoted.
			sha, ok := contexts.ReadOwnRef(c)
			if m.Sandbox.Remote() {
				sha, ok = contexts.LastFetched(ctx, s, m, c)
			}
			if !ok || sha == c.SHA {
				continue
			}
			n, err := s.Query.Line(ctx, git.Cmd{Dir: c.Clone, Args: []string{"rev-list", "--count", "-1", sha, "--not", "--remotes"}})
			if err != nil || n != "0" {
				out = append(out, c.Layer)
			}
			continue
		}
		sha, found, ok := workspace.ReadRef(filepath.Join(c.Clone, ".git"), c.Branch)
		if !ok || !found || sha == c.SHA {
			continue
		}
		n, err := s.Query.Line(ctx, git.Cmd{Dir: c.Clone, Args: []string{"rev-list", "--count", "-1", c.Branch, "--not", "--remotes"}})
		if err != nil {
			return nil, fmt.Errorf("status of %s: %s: %w", m.Name, c.Layer, err)
		}
		if n != "0" {
			out = append(out, c.Layer)
		}
	}
	// A sealed loop's own memory, read as data against its base: two
	// small dirs, no git; only when lstat says they changed since.
	if len(contexts.MemoryChangedSeen(s, m)) > 0 {
		out = append(out, string(workspace.Personal))
	}
	return out, nil
}

// codeLanded tells a loop ahead of its local base whether its work is
// landed after all, on the base's remote-tracking branch (a review merge
// or a push lands there; the local base is the user's to pull), or
// proposed: the commit promote recorded is the loop's head. Refs are read
// as data; one git call asks for ancestry, only for loops ahead.
func codeLanded(ctx context.Context, s *workspace.Workspace, st *LoopStatus, m *state.Meta) (landed, proposed bool, err error) {
	if sha, found, ok := workspace.ReadRef(s.Repo.CommonDir, land.ProposalRef(land.Code, m.Name)); ok && found && sha == st.Head {
		proposed = true
	}
	if !strings.HasPrefix(m.BaseRef, "refs/heads/") {
		return false, proposed, nil
	}
	track := "refs/remotes/origin/" + strings.TrimPrefix(m.BaseRef, "refs/heads/")
	sha, found, ok := workspace.ReadRef(s.Repo.CommonDir, track)
	if !ok {
		sha, found, err = s.RefSHA(ctx, track)
		if err != nil {
			return false, proposed, err
		}
	}
	if !found || sha == st.BaseSHA {
		return false, proposed, nil
	}
	landed, err = s.Query.Succeeds(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"merge-base", "--is-ancestor", st.Head, sha}})
	if landed {
		proposed = false
	}
	return landed, proposed, err
}

// refreshSealed fetches the sealed loops whose sandbox branch moved since
// their last fetch, as read from the clone's ref file (data, no exec); the
// others cost nothing. Uncommitted work made since is seen at the next
// exec's or diff's fetch, or with "git loop status NAME". A remote loop's
// clone is on its engine, where no ref file can be read: ls shows it as
// the host last fetched it (loop/NAME, the snapshot, the FETCHED age) and
// never execs into it unless remote (status NAME).
func refreshSealed(ctx context.Context, s *workspace.Workspace, metas []*state.Meta, always, remote bool) {
	for _, m := range metas {
		switch {
		case !m.Sandbox.Sealed:
			continue
		case m.Sandbox.Remote():
			if !remote {
				continue
			}
		case !always && !transport.Moved(s, m):
			continue
		}
		if _, err := transport.Refresh(ctx, s, m); err != nil {
			s.Reporter().Warn(fmt.Sprintf("loop %s: could not fetch from its sandbox: %v", m.Name, err))
		}
	}
}

// sealedSnapshots maps the quarantine refs of sealed loops' snapshots to
// their commits, in one git call (none when no loop is sealed).
func sealedSnapshots(ctx context.Context, s *workspace.Workspace, metas []*state.Meta) (map[string]string, error) {
	sealed := false
	for _, m := range metas {
		sealed = sealed || m.Sandbox.Sealed
	}
	if !sealed {
		return nil, nil
	}
	out, err := s.Query.Output(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"for-each-ref", "--format=%(refname) %(objectname)", transport.QuarantinePrefix}})
	if err != nil {
		return nil, fmt.Errorf("list sandbox snapshots: %w", err)
	}
	snaps := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if ref, sha, ok := strings.Cut(line, " "); ok && strings.HasSuffix(ref, "/side/snapshot") {
			snaps[ref] = sha
		}
	}
	return snaps, nil
}

// sealedChanges counts the files the sandbox's last snapshot changes
// against its branch: its uncommitted work, known without running git in
// its clone.
func sealedChanges(ctx context.Context, s *workspace.Workspace, head, snapshot string) (int, error) {
	if snapshot == "" || head == "" {
		return 0, nil
	}
	out, err := s.Query.Output(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"diff", "--name-only", "-z", head, snapshot}})
	if err != nil {
		return 0, err
	}
	return strings.Count(string(out), "\x00"), nil
}

// placementOf is where a loop's files live, as ls --json says it.
func placementOf(m *state.Meta) string {
	if m.Sandbox.Remote() {
		return "remote"
	}
	return "local"
}
