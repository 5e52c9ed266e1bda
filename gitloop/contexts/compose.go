package contexts

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

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
		memory = filepath.Join(personal, "memory")
	} else {
		personal = ""
	}
	tiers := []compose.Tier{{Name: "doctrine", Template: templates.Doctrine()}}
	if knowledge != "" {
		meta := knowledgeMeta(knowledge)
		tiers = append(tiers, compose.Tier{Name: "team", Dir: filepath.Join(meta, ".claude")})
		for _, p := range m.Profiles {
			dir := filepath.Join(meta, "profiles", p, ".claude")
			if !workspace.Exists(filepath.Join(meta, "profiles", p)) {
				return compose.Options{}, &workspace.UsageError{Err: fmt.Errorf("no profile %q in the knowledge repo (%s); profiles: %s", p, filepath.Join(meta, "profiles"), strings.Join(profileNames(meta), ", "))}
			}
			tiers = append(tiers, compose.Tier{Name: "profile:" + p, Dir: dir})
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
		Format: compose.FormatFor(m.Agent),
		Data: compose.Data{
			Loop: m.Name, Branch: m.ShortBranch(), Base: m.Base, Workdir: m.Worktree,
			Knowledge: knowledge, Notes: contextOf(m, workspace.Notes), Personal: personal, Memory: memory,
			AgentDir: s.AgentDir(m.Name),
		},
		MemoryDir: memory,
		Target:    s.AgentDir(m.Name),
	}, nil
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
