package archtest

import (
	"sort"
	"strings"
	"testing"
)

// gitloopImports is the layering inside gitloop/ (docs/ARCHITECTURE.md): for each
// package, the gitloop packages it may import. The leaves (git, state,
// config, compose, vault) know no loop; transcript reads files and knows
// no repository; workspace, the core every operation takes, imports only
// leaves; each concern imports the workspace and the concerns below it,
// never one above. A new package under gitloop/ needs a line here.
var gitloopImports = map[string][]string{
	// Leaves.
	"git":        nil,
	"state":      nil,
	"config":     nil,
	"compose":    nil,
	"vault":      {"git"},
	"transcript": nil, // file formats only: no repository, no workspace
	"gittest":    nil, // test helpers
	"egress":     nil, // the host's model login and its proxy: files and HTTP only

	// The core.
	"workspace/workspacetest": {"workspace", "git"}, // test helper
	"workspace":               {"git", "state", "config"},

	// Concerns, bottom up.
	"agent":           {"workspace", "transcript", "compose", "state", "config", "git"},
	"knowledge":       {"workspace", "state", "config", "git"},
	"notes":           {"workspace", "state", "config", "git"},
	"githooks":        {"workspace", "state", "config", "git"},
	"worktreeinclude": {"workspace", "git"},
	"toolchain":       {"workspace"},
	"sandboxspec":     {"agent", "toolchain", "workspace", "compose", "vault", "state", "config", "git"},
	"contexts":        {"transport", "sandboxspec", "agent", "workspace", "compose", "state", "config", "git"},
	"transport":       {"sandboxspec", "workspace", "state", "config", "git"},
	"session":         {"egress", "transport", "contexts", "agent", "sandboxspec", "workspace", "transcript", "state", "config", "git"},
	"lifecycle":       {"transport", "worktreeinclude", "contexts", "sandboxspec", "agent", "workspace", "transcript", "compose", "vault", "state", "config", "git"},
	"leakscan":        {"sandboxspec", "workspace", "vault", "git"},
	"land":            {"transport", "leakscan", "lifecycle", "contexts", "sandboxspec", "workspace", "state", "config", "git"},
	"status":          {"transport", "land", "lifecycle", "contexts", "workspace", "state", "config", "git"},
	"doctor":          {"egress", "status", "lifecycle", "githooks", "agent", "workspace", "state", "config", "git"},
}

func TestGitloopLayering(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range packages(t) {
		if !under(p.ImportPath, "gitloop") {
			continue
		}
		rel := strings.TrimPrefix(p.ImportPath, module+"/gitloop")
		if rel == "" {
			t.Errorf("package gitloop is back: operations belong to their concern's package under gitloop/")
			continue
		}
		name := strings.TrimPrefix(rel, "/")
		allowed, ok := gitloopImports[name]
		if !ok {
			t.Errorf("gitloop/%s is not in gitloopImports: add it with the gitloop packages it may import", name)
			continue
		}
		seen[name] = true
		for _, imp := range p.Imports {
			if !under(imp, "gitloop") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/gitloop/")
			if !contains(allowed, dep) {
				t.Errorf("gitloop/%s imports gitloop/%s: it may import only %v", name, dep, allowed)
			}
		}
	}
	var gone []string
	for name := range gitloopImports {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	if len(gone) > 0 {
		t.Errorf("gitloopImports lists packages that do not exist: %v", gone)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
