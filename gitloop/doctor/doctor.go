// Package doctor checks git loop's tools and the repository's loops, and
// with fix repairs what it can.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/agent"
	"github.com/gitloop-dev/git-loop/gitloop/egress"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/githooks"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/status"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/hooks"
)

// Check severities.
const (
	CheckOK   = "ok"
	CheckWarn = "warn"
	CheckFail = "fail"
)

// Check is one finding of Doctor.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fixed  bool   `json:"fixed,omitempty"`
}

// MinGit is the oldest git git loop supports: worktree porcelain -z and
// rev-parse --path-format need 2.36.
var MinGit = [2]int{2, 36}

// Doctor checks the tools and state git loop depends on; with fix, it
// finishes interrupted operations and prunes dead loops.
func Doctor(ctx context.Context, s *workspace.Workspace, fix bool, driverReport func(context.Context) Check) []Check {
	var checks []Check
	checks = append(checks, checkGit(ctx, s))
	if s.Config != nil {
		for _, w := range s.Config.Warnings {
			checks = append(checks, Check{Name: "config", Status: CheckWarn, Detail: w})
		}
	}
	if driverReport != nil {
		checks = append(checks, driverReport(ctx))
	}
	checks = append(checks, checkAgent(s))
	if c, ok := checkLogin(s); ok {
		checks = append(checks, c)
	}
	if s.Repo == nil {
		return checks
	}
	checks = append(checks, checkLoopAgents(s)...)
	intents, err := s.Store().Intents()
	legacy := s.Store().LegacyLoops()
	switch {
	case err != nil:
		checks = append(checks, Check{Name: "state", Status: CheckFail, Detail: err.Error()})
	case len(legacy) > 0 && fix:
		l, err := lifecycle.Lock(ctx, s) // migrates, then recovers
		if err != nil {
			checks = append(checks, Check{Name: "state", Status: CheckFail, Detail: err.Error()})
		} else {
			s.Unlock(l)
			checks = append(checks, Check{Name: "state", Status: CheckOK, Detail: fmt.Sprintf("checked %d %s in the old layout", len(legacy), workspace.Plural(len(legacy), "record", "records")), Fixed: true})
		}
	case len(legacy) > 0:
		checks = append(checks, Check{Name: "state", Status: CheckWarn, Detail: fmt.Sprintf("%d %s in the old layout, where the sandbox can edit them (run \"git loop doctor --fix\")", len(legacy), workspace.Plural(len(legacy), "loop record", "loop records"))})
	case len(intents) > 0 && fix:
		l, err := lifecycle.Lock(ctx, s) // recovers
		if err != nil {
			checks = append(checks, Check{Name: "state", Status: CheckFail, Detail: err.Error()})
		} else {
			s.Unlock(l)
			checks = append(checks, Check{Name: "state", Status: CheckOK, Detail: fmt.Sprintf("finished %d interrupted %s", len(intents), workspace.Plural(len(intents), "operation", "operations")), Fixed: true})
		}
	case len(intents) > 0:
		checks = append(checks, Check{Name: "state", Status: CheckWarn, Detail: fmt.Sprintf("%d interrupted %s (run \"git loop doctor --fix\")", len(intents), workspace.Plural(len(intents), "operation", "operations"))})
	default:
		checks = append(checks, Check{Name: "state", Status: CheckOK, Detail: "no interrupted operations"})
	}
	checks = append(checks, checkHooks(ctx, s, fix))
	checks = append(checks, checkSealed(ctx, s, fix)...)
	checks = append(checks, checkImageGit(ctx, s)...)
	if dirs, err := lifecycle.Unadopted(ctx, s); err != nil {
		checks = append(checks, Check{Name: "adopt", Status: CheckFail, Detail: err.Error()})
	} else if len(dirs) > 0 && fix {
		n, err := lifecycle.AdoptAll(ctx, s, dirs)
		c := Check{Name: "adopt", Status: CheckOK, Detail: fmt.Sprintf("made %d %s", n, workspace.Plural(n, "worktree on a loop branch a loop", "worktrees on loop branches loops")), Fixed: n > 0}
		if err != nil {
			c.Status, c.Detail = CheckFail, c.Detail+"; "+err.Error()
		}
		checks = append(checks, c)
	} else if len(dirs) > 0 {
		checks = append(checks, Check{Name: "adopt", Status: CheckWarn, Detail: fmt.Sprintf("%d %s: %s (run \"git loop doctor --fix\")", len(dirs), workspace.Plural(len(dirs), "worktree on a loop branch is not a loop", "worktrees on loop branches are not loops"), workspace.Summarize(dirs, 3))})
	}
	checks = append(checks, checkContexts(ctx, s, fix)...)
	if fix {
		pruned, err := lifecycle.Prune(ctx, s, false)
		if err != nil {
			checks = append(checks, Check{Name: "loops", Status: CheckFail, Detail: err.Error()})
		} else if len(pruned) > 0 {
			checks = append(checks, Check{Name: "loops", Status: CheckOK, Detail: fmt.Sprintf("pruned %d dead %s", len(pruned), workspace.Plural(len(pruned), "loop", "loops")), Fixed: true})
		}
	} else if st, err := status.List(ctx, s); err == nil {
		broken := 0
		for _, l := range st {
			if l.State == status.StateBroken {
				broken++
			}
		}
		if broken > 0 {
			checks = append(checks, Check{Name: "loops", Status: CheckWarn, Detail: fmt.Sprintf("%d %s lost a worktree or branch (run \"git loop prune\")", broken, workspace.Plural(broken, "loop", "loops"))})
		} else {
			checks = append(checks, Check{Name: "loops", Status: CheckOK, Detail: fmt.Sprintf("%d %s", len(st), workspace.Plural(len(st), "loop", "loops"))})
		}
	}
	return checks
}

func checkGit(ctx context.Context, s *workspace.Workspace) Check {
	out, err := s.Query.Line(ctx, git.Cmd{Args: []string{"version"}})
	if err != nil {
		return Check{Name: "git", Status: CheckFail, Detail: "git not found: install git " + fmt.Sprintf("%d.%d", MinGit[0], MinGit[1]) + " or newer"}
	}
	v := strings.TrimPrefix(out, "git version ")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		major, _ := strconv.Atoi(parts[0])
		minor, _ := strconv.Atoi(parts[1])
		if major < MinGit[0] || major == MinGit[0] && minor < MinGit[1] {
			return Check{Name: "git", Status: CheckFail, Detail: fmt.Sprintf("git %s is too old: git loop needs %d.%d or newer", v, MinGit[0], MinGit[1])}
		}
	}
	return Check{Name: "git", Status: CheckOK, Detail: "git " + v}
}

func checkAgent(s *workspace.Workspace) Check {
	if s.Config == nil {
		return Check{Name: "agent", Status: CheckWarn, Detail: "no configuration"}
	}
	// The same parse and lookup as run and attach (agent.Parse, Find), so
	// doctor and run agree on whether the agent is there.
	setting := s.Config.Agent()
	a, err := agent.Parse(setting)
	if err != nil {
		return Check{Name: "agent", Status: CheckFail, Detail: err.Error()}
	}
	if strings.ContainsRune(a.Argv[a.Run], '/') && !filepath.IsAbs(a.Argv[a.Run]) {
		return Check{Name: "agent", Status: CheckOK, Detail: fmt.Sprintf("%s (%s, in each loop's worktree)", setting, a.Kind)}
	}
	b, err := a.Find("")
	if err != nil {
		return Check{Name: "agent", Status: CheckWarn, Detail: fmt.Sprintf("agent %q is not installed: %s, or choose another with \"git loop config set agent CMD\"; loops open a shell until then", setting, a.Install())}
	}
	return Check{Name: "agent", Status: CheckOK, Detail: fmt.Sprintf("%s (%s)", setting, b.Path)}
}

// checkLoopAgents checks the agents loops recorded with "new --agent"
// (the others run the agent setting, checked above), as run would find
// them.
func checkLoopAgents(s *workspace.Workspace) []Check {
	metas, _ := s.Store().List()
	var out []Check
	for _, m := range metas {
		if m.Agent == "" || m.Sandbox.Driver == "docker" {
			continue // the setting's, or maybe the image's own copy
		}
		a, err := agent.Parse(m.Agent)
		if err == nil {
			_, err = a.Find(m.Worktree)
		}
		if err != nil {
			out = append(out, Check{Name: "agent", Status: CheckWarn, Detail: fmt.Sprintf("loop %s runs agent %q, which is not installed (%v): %s, or run it with --agent CMD", m.Name, m.Agent, err, a.Install())})
		}
	}
	return out
}

// checkLogin: a Claude or Codex agent is logged in on the host, and the
// egress proxy that lends the login to loops serves. ok is false for
// other agents.
func checkLogin(s *workspace.Workspace) (c Check, ok bool) {
	if s.Config == nil {
		return Check{}, false
	}
	words := strings.Fields(s.Config.Agent())
	if len(words) == 0 {
		return Check{}, false
	}
	kind := egress.KindOf(words[0])
	if kind == "" {
		return Check{}, false
	}
	home, _ := os.UserHomeDir()
	l, err := egress.Find(kind, os.LookupEnv, home)
	if err != nil {
		return Check{Name: "login", Status: CheckWarn, Detail: err.Error() + `; loops' agents are not logged in either (or give a loop its own key: "git loop vault set KEY")`}, true
	}
	if err := l.Check(time.Now()); err != nil {
		return Check{Name: "login", Status: CheckWarn, Detail: err.Error()}, true
	}
	dir, err := os.MkdirTemp("", "git-loop-doctor-")
	if err == nil {
		defer os.RemoveAll(dir)
		err = egress.SelfTest(l, dir)
	}
	if err != nil {
		return Check{Name: "login", Status: CheckFail, Detail: fmt.Sprintf("%s is logged in on the host (%s), but the egress proxy does not serve: %v", kind, l.Source, err)}, true
	}
	if _, err := s.HookBinary(); err != nil {
		return Check{Name: "login", Status: CheckWarn, Detail: fmt.Sprintf("%s is logged in on the host (%s), but no git-loop binary to relay it into sandboxes: put git-loop on PATH", kind, l.Source)}, true
	}
	return Check{Name: "login", Status: CheckOK, Detail: fmt.Sprintf("%s logged in on the host (%s); docker and bwrap loops use it through git loop's egress proxy, never holding it", kind, l.Source)}, true
}

// checkHooks is doctor's view of the hooks; with fix it installs what is
// missing or outdated.
func checkHooks(ctx context.Context, s *workspace.Workspace, fix bool) Check {
	if !s.Config.Bool("hooks") {
		return Check{Name: "hooks", Status: CheckOK, Detail: "off (loop.hooks=false; \"git loop hooks install\" turns them on)"}
	}
	targets, err := githooks.HookStatus(ctx, s, githooks.HooksAll)
	if errors.Is(err, workspace.ErrNoHookBinary) {
		return Check{Name: "hooks", Status: CheckWarn, Detail: err.Error()}
	}
	if err != nil {
		return Check{Name: "hooks", Status: CheckFail, Detail: err.Error()}
	}
	var problems, notes []string
	n := 0
	for _, t := range targets {
		if t.InTree {
			notes = append(notes, (&githooks.HooksInTreeError{Dir: t.Dir}).Error())
			continue
		}
		byAction := map[hooks.Action][]string{}
		for _, c := range t.Result {
			if c.Action != hooks.Unchanged {
				byAction[c.Action] = append(byAction[c.Action], c.Event)
				n++
			}
		}
		for _, a := range []hooks.Action{hooks.Missing, hooks.Outdated} {
			if evs := byAction[a]; len(evs) > 0 {
				problems = append(problems, fmt.Sprintf("%s: %s %s", strings.Join(t.Repos, ", "), strings.Join(evs, ", "), a))
			}
		}
	}
	if n == 0 && len(notes) > 0 {
		return Check{Name: "hooks", Status: CheckWarn, Detail: strings.Join(notes, "; ")}
	}
	if n == 0 {
		return Check{Name: "hooks", Status: CheckOK, Detail: fmt.Sprintf("installed in %d %s", len(targets), workspace.Plural(len(targets), "hooks dir", "hooks dirs"))}
	}
	if fix {
		var inTree *githooks.HooksInTreeError
		if _, err := githooks.InstallHooks(ctx, s, githooks.HooksAll); err != nil && !errors.As(err, &inTree) {
			return Check{Name: "hooks", Status: CheckFail, Detail: err.Error()}
		}
		return Check{Name: "hooks", Status: CheckOK, Detail: fmt.Sprintf("reinstalled %d %s", n, workspace.Plural(n, "hook", "hooks")), Fixed: true}
	}
	return Check{Name: "hooks", Status: CheckWarn, Detail: fmt.Sprintf("%d %s not current: %s (run \"git loop doctor --fix\" or \"git loop hooks install\")", n, workspace.Plural(n, "hook", "hooks"), strings.Join(problems, "; "))}
}

// checkContexts reports docker and bwrap loops whose context dirs are
// still worktrees of the shared clones, and converts them with fix.
// Nothing is said when there are none.
func checkContexts(ctx context.Context, s *workspace.Workspace, fix bool) []Check {
	legacy := lifecycle.LegacyContexts(s)
	if len(legacy) == 0 {
		return nil
	}
	if !fix {
		return []Check{{Name: "contexts", Status: CheckWarn, Detail: fmt.Sprintf("%d %s notes and knowledge in the shared context clones, where other loops can reach them: %s (converted on next use, or run \"git loop doctor --fix\")",
			len(legacy), workspace.Plural(len(legacy), "loop keeps its", "loops keep their"), workspace.Summarize(legacy, 3))}}
	}
	done, err := lifecycle.ConvertContexts(ctx, s)
	if err != nil {
		return []Check{{Name: "contexts", Status: CheckFail, Detail: err.Error()}}
	}
	return []Check{{Name: "contexts", Status: CheckOK, Detail: fmt.Sprintf("gave %d %s context clones of their own", len(done), workspace.Plural(len(done), "loop", "loops")), Fixed: true}}
}

// checkSealed reports the docker and bwrap loops made before sealed loops
// were the default (their sandbox shares a git dir with the host), while
// the setting asks for sealed ones; with fix it seals each, or says why it
// cannot yet. Nothing is said when there are none.
func checkSealed(ctx context.Context, s *workspace.Workspace, fix bool) []Check {
	if s.Config == nil || !s.Config.SandboxSealed() {
		return nil
	}
	var checks []Check
	for _, name := range lifecycle.Unsealed(s) {
		if !fix {
			checks = append(checks, Check{Name: "sealed", Status: CheckWarn, Detail: fmt.Sprintf("unsealed loop %s: its sandbox shares the repository's git dir; run \"git loop doctor --fix\" to seal it", name)})
			continue
		}
		if err := lifecycle.Seal(ctx, s, name); err != nil {
			status := CheckFail
			var se *lifecycle.SealError
			if errors.As(err, &se) {
				status = CheckWarn
			}
			checks = append(checks, Check{Name: "sealed", Status: status, Detail: err.Error()})
			continue
		}
		checks = append(checks, Check{Name: "sealed", Status: CheckOK, Fixed: true, Detail: fmt.Sprintf("sealed loop %s: its sandbox has a clone of its own, with its commits and uncommitted files; \"git loop checkout %s\" gives a host checkout", name, name)})
	}
	return checks
}

// checkImageGit says which docker images sealed loops use (or new ones
// would) lack git, which a sealed loop runs inside; nothing when the
// engine cannot be reached (the driver check says so) or every image has
// it. Answers are cached per image id.
func checkImageGit(ctx context.Context, s *workspace.Workspace) []Check {
	if s.Config == nil {
		return nil
	}
	images := map[string]bool{}
	metas, _ := s.Store().List()
	for _, m := range metas {
		if m.Sandbox.Sealed && m.Sandbox.Driver == "docker" && m.Sandbox.Image != "" {
			images[m.Sandbox.Image] = true
		}
	}
	if d := s.Config.Get("sandbox.driver"); s.Config.SandboxSealed() && (d == "docker" || d == "auto" || d == "") {
		images[s.Config.SandboxImage()] = true
	}
	if len(images) == 0 {
		return nil
	}
	eng, err := s.OpenEngine(ctx, "docker")
	if err != nil {
		return nil
	}
	var checks []Check
	for _, img := range slices.Sorted(maps.Keys(images)) {
		// Another error (an image not built yet) is the driver
		// check's and new's to report.
		if err := lifecycle.CheckImageGit(ctx, s, eng, img); errors.Is(err, lifecycle.ErrImageNoGit) {
			checks = append(checks, Check{Name: "image", Status: CheckFail, Detail: err.Error()})
		}
	}
	return checks
}
