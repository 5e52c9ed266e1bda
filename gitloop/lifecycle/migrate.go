package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Loops made before the host-only part existed kept their record
// (meta.json) in the loop dir the sandbox mounts read-write: a hostile
// agent could have edited it to name another worktree, vault, mount or
// driver. Migration moves each record where no sandbox reaches, but takes
// from the old file only what the host can check itself; a record that
// names anything else is refused, never carried over.

// migrateLocked moves every old-layout record into the host-only part.
// The caller holds the state lock.
func migrateLocked(ctx context.Context, s *workspace.Workspace) {
	for _, name := range s.Store().LegacyLoops() {
		m, dropped, err := checkLegacy(ctx, s, name)
		if err != nil {
			s.Reporter().Warn(fmt.Sprintf("loop %s: its old record was not moved, because the sandbox could edit it and %v; it is kept as %s (inspect it; \"git loop prune\" cleans up)", name, err, quarantineLegacy(s, name)))
			continue
		}
		if err := s.Store().WriteMeta(m); err != nil {
			s.Reporter().Warn(fmt.Sprintf("loop %s: could not move its record: %v", name, err))
			continue
		}
		moveLegacyLogs(s, name)
		cleanLegacy(s, name)
		for _, d := range dropped {
			s.Reporter().Warn(fmt.Sprintf("loop %s: %s (the sandbox could edit that record)", name, d))
		}
		s.Reporter().Warn(fmt.Sprintf("loop %s: moved its record to %s, where no sandbox reaches", name, s.Store().HostDir(name)))
	}
}

// hasLegacy reports whether any record is still in the old place.
func hasLegacy(s *workspace.Workspace) bool { return len(s.Store().LegacyLoops()) > 0 }

// checkLegacy reads an old record and keeps only what the host confirms:
// the name and branch are this loop's and the branch exists; the worktree
// is where this repository puts this loop's; the driver is a sandbox (none
// only when that is the configured driver); the base ref exists; the
// context worktrees and roster repos are the ones the host's settings
// give. A vault is kept only when it is the configured default: nothing on
// the host recorded another choice. What fails a check is replaced by the
// host's value or dropped, and reported.
func checkLegacy(ctx context.Context, s *workspace.Workspace, name string) (*state.Meta, []string, error) {
	if err := workspace.ValidateName(name, s.Config.BranchPrefix()); err != nil {
		return nil, nil, fmt.Errorf("%q is not a loop name", name)
	}
	m, err := s.Store().ReadLegacyMeta(name)
	if err != nil {
		return nil, nil, fmt.Errorf("it cannot be read (%v)", err)
	}
	var dropped []string
	if m.Name != name {
		dropped = append(dropped, fmt.Sprintf("name %q in its old record replaced by %q", m.Name, name))
		m.Name = name
	}
	if want := s.BranchRef(name); m.Branch != want {
		dropped = append(dropped, fmt.Sprintf("branch %q in its old record replaced by %s", m.Branch, want))
		m.Branch = want
	}
	if _, found, ok := workspace.ReadRef(s.Repo.CommonDir, m.Branch); !ok || !found {
		return nil, nil, fmt.Errorf("its branch %s does not exist", m.ShortBranch())
	}
	// The worktree is where this repository puts the loop's, never where
	// the old record says: rm deletes it, and the sandbox mounts it.
	wt := filepath.Clean(m.Worktree)
	if !filepath.IsAbs(m.Worktree) || (wt != s.WorktreePath(name) && wt != filepath.Join(s.Store().LoopDir(name), "workdir")) {
		found := ""
		for _, c := range []string{s.WorktreePath(name), filepath.Join(s.Store().LoopDir(name), "workdir")} {
			if fi, err := os.Lstat(c); err == nil && fi.IsDir() && found == "" {
				found = c
			}
		}
		if found == "" {
			return nil, nil, fmt.Errorf("its worktree %q is not where this repository puts loop %s's, and there is none there", m.Worktree, name)
		}
		dropped = append(dropped, fmt.Sprintf("worktree %q in its old record replaced by %s, where this repository puts it", m.Worktree, found))
		wt = found
	}
	if fi, err := os.Lstat(wt); err == nil && !fi.IsDir() {
		return nil, nil, fmt.Errorf("its worktree %s is not a directory", wt)
	}
	m.Worktree = wt
	switch m.Sandbox.Driver {
	case "docker", "bwrap":
	default:
		if m.Sandbox.Driver == "none" && s.Config.SandboxDriver() == "none" {
			break
		}
		eng, err := s.OpenEngine(ctx, s.Config.SandboxDriver())
		if err != nil {
			return nil, nil, fmt.Errorf("it names driver %q and the configured one cannot open: %v", m.Sandbox.Driver, err)
		}
		dropped = append(dropped, fmt.Sprintf("driver %q in its old record replaced by %s, the configured one", m.Sandbox.Driver, eng.Name()))
		m.Sandbox = state.SandboxMeta{Driver: eng.Name()}
		if eng.Name() == "docker" {
			m.Sandbox.Image = s.Config.SandboxImage()
		}
	}
	// The base is where promote lands and what the push guard keeps: a
	// ref the old record could have pointed anywhere. It is the one the
	// host picks for an adopted loop (the base setting, else the main
	// worktree's branch, else main or master), whatever the record says;
	// the base commit is the merge base with it (a planted one could hide
	// the loop's changes from diff and review).
	name, ref, sha := adoptBase(ctx, s, m.Branch)
	if ref != m.BaseRef {
		dropped = append(dropped, fmt.Sprintf("base %q in its old record replaced by %s (\"git loop config set base REF\" before the next command picks another)", m.Base, name))
		m.Base, m.BaseRef = name, ref
	}
	m.BaseSHA = sha
	if m.Vault != "" && m.Vault != s.Config.VaultDefault() {
		dropped = append(dropped, fmt.Sprintf("vault %q dropped: its old record named it, and the host cannot confirm that choice (\"git loop rm\" and \"git loop new --vault\" give a loop a vault)", m.Vault))
		m.Vault = ""
	}
	var ctxs []state.ContextWorktree
	for _, c := range m.Contexts {
		l := workspace.Layer(c.Layer)
		clone, err := s.LayerClone(l)
		if !slices.Contains(workspace.LoopLayers, l) || err != nil || filepath.Clean(c.Clone) != clone || filepath.Clean(c.Dir) != s.ContextDir(name, l) || c.Branch != s.BranchRef(name) {
			dropped = append(dropped, fmt.Sprintf("context worktree %q dropped: not where the host puts this loop's", c.Dir))
			continue
		}
		// Records in the old place predate own context clones: a flag
		// saying otherwise is the sandbox's (the conversion decides).
		c.Own = false
		ctxs = append(ctxs, c)
	}
	m.Contexts = ctxs
	if len(m.Repos) > 0 {
		roster, _ := s.Config.Repos()
		for rn, clone := range m.Repos {
			ok := false
			for _, r := range roster {
				ok = ok || (r.Name == rn && filepath.Clean(clone) == s.Dirs.RepoClonePath(r))
			}
			if !ok {
				dropped = append(dropped, fmt.Sprintf("repo %q dropped: %s is not the roster's clone", rn, clone))
				delete(m.Repos, rn)
			}
		}
	}
	var profiles []string
	for _, p := range m.Profiles {
		if workspace.ValidateName(p, "x/") == nil {
			profiles = append(profiles, p)
		}
	}
	m.Profiles = profiles
	return m, dropped, nil
}

// quarantineLegacy renames a refused record so it is not read again (the
// rename moves a planted symlink, never its target).
func quarantineLegacy(s *workspace.Workspace, name string) string {
	to := s.Store().LegacyMetaPath(name) + ".untrusted"
	if err := os.Rename(s.Store().LegacyMetaPath(name), to); err != nil {
		return s.Store().LegacyMetaPath(name)
	}
	return to
}

// moveLegacyLogs moves the old run logs (regular files only) into the
// host-only log dir; anything else there (a symlink, a FIFO) stays behind
// and is deleted with the rest of the old entries.
func moveLegacyLogs(s *workspace.Workspace, name string) {
	old := filepath.Join(s.Store().LoopDir(name), "log")
	fi, err := os.Lstat(old)
	if err != nil || !fi.IsDir() {
		return
	}
	entries, err := os.ReadDir(old)
	if err != nil {
		return
	}
	dir := s.LogDir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == "agent.lock" {
			continue
		}
		_ = os.Rename(filepath.Join(old, e.Name()), filepath.Join(dir, e.Name()))
	}
}

// cleanLegacy removes what the host used to keep in the sandbox part:
// the record, run logs, run lock, status cache. A promote stopped on a
// conflict (run.json) is not carried over: its paths came from there too.
func cleanLegacy(s *workspace.Workspace, name string) {
	dir := s.Store().LoopDir(name)
	if _, err := os.Lstat(filepath.Join(dir, "run.json")); err == nil {
		s.Reporter().Warn(fmt.Sprintf("loop %s: a stopped promote's state was left in the old place and is dropped: finish the merge by hand, then promote again", name))
	}
	for _, f := range []string{"meta.json", "run.json", "status-cache.json", "run", "log"} {
		_ = os.RemoveAll(filepath.Join(dir, f))
	}
}
