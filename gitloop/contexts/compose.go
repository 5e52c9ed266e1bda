package contexts

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/agent"
	"github.com/gitloop-dev/git-loop/gitloop/compose"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/templates"
)

// teamTierDirs are where a knowledge repo keeps its git loop files:
// .gitloop/, or .loopat/ for a repository laid out for loopat.
var teamTierDirs = []string{".gitloop", ".loopat"}

// knowledgeMeta finds the knowledge repo's git loop dir in a checkout.
func knowledgeMeta(checkout string) string {
	for _, d := range teamTierDirs {
		if p := filepath.Join(checkout, d); workspace.Exists(p) {
			return p
		}
	}
	return filepath.Join(checkout, teamTierDirs[0])
}

// contextOf returns a loop's worktree of a layer ("" when it has none).
func contextOf(m *state.Meta, l workspace.Layer) string {
	for _, c := range m.Contexts {
		if c.Layer == string(l) {
			return c.Dir
		}
	}
	return ""
}

// composeOptions lists the tiers of a loop, weakest first: doctrine,
// team, the profiles in the order chosen, personal. The project tier
// (<workdir>/.claude) is read live by the agent and never copied.
func composeOptions(s *workspace.Workspace, m *state.Meta, extraProject string) (compose.Options, error) {
	knowledge := contextOf(m, workspace.Knowledge)
	personal, _ := s.LayerClone(workspace.Personal)
	memory := ""
	if personal != "" && len(m.Contexts) > 0 {
		if !m.Sandbox.Remote() {
			// A remote loop's engine does not see this host's personal
			// repo: its agent keeps the memory of its own agent dir.
			memory = filepath.Join(personal, "memory")
		}
	} else {
		personal = ""
	}
	tiers := []compose.Tier{{Name: "doctrine", Template: templates.Doctrine()}}
	if knowledge != "" {
		meta := knowledgeMeta(knowledge)
		// The loop's own knowledge clone is the sandbox's to write: its
		// tiers are read within it, never through a link out of it.
		tiers = append(tiers, compose.Tier{Name: "team", Dir: filepath.Join(meta, ".claude"), Within: knowledge})
		for _, p := range m.Profiles {
			dir := filepath.Join(meta, "profiles", p, ".claude")
			if !workspace.Exists(filepath.Join(meta, "profiles", p)) {
				return compose.Options{}, &workspace.UsageError{Err: fmt.Errorf("no profile %q in the knowledge repo (%s); profiles: %s", p, filepath.Join(meta, "profiles"), strings.Join(profileNames(meta), ", "))}
			}
			tiers = append(tiers, compose.Tier{Name: "profile:" + p, Dir: dir, Within: knowledge})
		}
	} else if len(m.Profiles) > 0 {
		return compose.Options{}, &workspace.UsageError{Err: fmt.Errorf("profiles come from the knowledge repo: run \"git loop init\" first")}
	}
	if personal != "" {
		tiers = append(tiers, compose.Tier{Name: "personal", Dir: filepath.Join(personal, ".claude")})
	}
	if extraProject != "" {
		tiers = append(tiers, compose.Tier{Name: "distill", Template: extraProject})
	}
	return compose.Options{
		Tiers:  tiers,
		Format: formatOf(s, m),
		Data: compose.Data{
			Loop: m.Name, Branch: m.ShortBranch(), Base: m.Base, Workdir: m.Worktree,
			Knowledge: knowledge, Notes: contextOf(m, workspace.Notes), Personal: personal, Memory: memory,
			AgentDir: s.AgentDir(m.Name),
		},
		MemoryDir: memory,
		Target:    s.AgentDir(m.Name),
	}, nil
}

// FormatFor is the layout an agent of kind k reads.
func FormatFor(k agent.Kind) compose.Format {
	switch k {
	case agent.Claude:
		return compose.Claude
	case agent.Codex:
		return compose.Codex
	}
	return compose.Generic
}

// formatOf is the layout the loop's agent reads (agent.Parse decides
// which agent a setting runs); an agent setting that does not parse
// composes the generic layout, and run says what is wrong with it.
func formatOf(s *workspace.Workspace, m *state.Meta) compose.Format {
	a, err := agent.ForLoop(s, m, "")
	if err != nil {
		return compose.Generic
	}
	return FormatFor(a.Kind)
}

func profileNames(meta string) []string {
	entries, _ := os.ReadDir(filepath.Join(meta, "profiles"))
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"(none)"}
	}
	return names
}

// composeAgent writes a new loop's agent dir, once.
func ComposeAgent(s *workspace.Workspace, m *state.Meta, extraProject string) error {
	opts, err := composeOptions(s, m, extraProject)
	if err != nil {
		return err
	}
	s.Reporter().Step(fmt.Sprintf("composing %s config from %d tiers", opts.Format, len(opts.Tiers)))
	res, err := compose.Compose(opts)
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	for _, w := range res.Warnings {
		s.Reporter().Warn(w)
	}
	return nil
}

// Composition returns what a loop's agent dir was composed from.
func Composition(s *workspace.Workspace, name string) (*compose.Result, error) {
	m, err := s.Get(name)
	if err != nil {
		return nil, err
	}
	res, err := compose.Load(s.AgentDir(m.Name))
	if err != nil {
		return nil, fmt.Errorf("loop %s has no composed agent config (it was created before composition, or its agent dir was removed): %w", m.Name, err)
	}
	return res, nil
}

// Recompose makes the loop's agent dir composed for the agent kind about
// to run in it, when it was composed for another (a loop made before an
// agent was set up, "run --agent codex" in a loop composed for Claude): the
// tiers are composed again in the new layout, and what the agents wrote
// there themselves (sessions, history, their state files) is carried
// over, so the transcripts of every agent that ran stay where log finds
// them. A loop without a composition (made before composition existed) is
// left alone. It returns a warning when the agent must run without its
// composition.
//
// The agent dir is the sandbox's to write: it is read as hostile (the
// provenance through compose.Load, entries moved as they are, inside an
// os.Root), and a link in its place is not followed.
func Recompose(s *workspace.Workspace, m *state.Meta, k agent.Kind) (done bool, warning string, err error) {
	want := FormatFor(k)
	dir := s.AgentDir(m.Name)
	old, err := compose.Load(dir)
	if err != nil || old.Format == want {
		return false, "", nil
	}
	cannot := func(err error) (bool, string, error) {
		return false, fmt.Sprintf("loop %s was composed for %s; %s runs without its composed config (%v)", m.Name, old.Format, want, err), nil
	}
	opts, err := composeOptions(s, m, "")
	if err != nil {
		return cannot(err)
	}
	opts.Format = want
	// The new dir is composed in the loop's host-only dir, which the
	// sandbox cannot see (a dir it could see, it could swap for a link
	// while the host writes there), and moved into place within an
	// os.Root on the state dir, where no link leads out.
	stateDir := s.Repo.StateDir()
	root, err := os.OpenRoot(stateDir)
	if err != nil {
		return cannot(err)
	}
	defer root.Close()
	rel, err := filepath.Rel(stateDir, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return cannot(fmt.Errorf("%s is not under %s", dir, stateDir))
	}
	if fi, err := root.Lstat(rel); err != nil || !fi.IsDir() {
		return cannot(fmt.Errorf("%s is not a directory", dir))
	}
	hostDir := filepath.Dir(s.LogDir(m.Name))
	if err := os.MkdirAll(hostDir, 0o700); err != nil {
		return cannot(err)
	}
	tmp, err := os.MkdirTemp(hostDir, "compose-")
	if err != nil {
		return cannot(err)
	}
	defer os.RemoveAll(tmp)
	tmpRel, err := filepath.Rel(stateDir, tmp)
	if err != nil || strings.HasPrefix(tmpRel, "..") {
		return cannot(fmt.Errorf("%s is not under %s", tmp, stateDir))
	}
	opts.Target = filepath.Join(tmp, "agent")
	opts.Data.AgentDir = dir
	res, err := compose.Compose(opts)
	if err != nil {
		return cannot(err)
	}
	if err := WriteReposFile(s, opts.Target, m.Repos); err != nil {
		return cannot(err)
	}
	composed := map[string]bool{compose.ProvenanceFile: true, ReposFile: true}
	for _, f := range old.Files {
		composed[strings.SplitN(f.Path, "/", 2)[0]] = true
	}
	fresh := filepath.Join(tmpRel, "agent")
	entries, err := fs.ReadDir(root.FS(), rel)
	if err != nil {
		return cannot(err)
	}
	for _, e := range entries {
		if composed[e.Name()] {
			continue
		}
		if _, err := root.Lstat(filepath.Join(fresh, e.Name())); err == nil {
			continue // the new composition has its own
		}
		// A rename moves the entry itself, a link as a link.
		if err := root.Rename(filepath.Join(rel, e.Name()), filepath.Join(fresh, e.Name())); err != nil {
			return cannot(err)
		}
	}
	stale := filepath.Join(tmpRel, "old")
	if err := root.Rename(rel, stale); err != nil {
		return cannot(err)
	}
	if err := root.Rename(fresh, rel); err != nil {
		_ = root.Rename(stale, rel)
		return cannot(err)
	}
	// Composed by the host: the sandbox's user gets it (as root, it would
	// be root's and read-only to the agent).
	uid, gid := s.SandboxUser()
	if OwnsContexts(m.Sandbox.Driver) && m.Sandbox.Sealed {
		if err := workspace.OwnAll(dir, uid, gid); err != nil {
			return false, "", err
		}
	}
	who := string(k)
	if k == agent.Command {
		who = "an agent of no known kind"
	}
	s.Reporter().Warn(fmt.Sprintf("loop %s runs %s now: its agent config is composed again, in the %s layout (it was %s; what the agents wrote there is kept)", m.Name, who, want, old.Format))
	for _, w := range res.Warnings {
		s.Reporter().Warn(w)
	}
	return true, "", nil
}
