package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// Stop stops a loop's sandbox; the loop, its worktree and $HOME stay. The
// next exec (or Start) brings it back.
func Stop(ctx context.Context, s *workspace.Workspace, name string) error {
	m, eng, spec, err := loopSandbox(ctx, s, name)
	if err != nil {
		return err
	}
	if err := eng.Stop(ctx, spec); err != nil {
		return fmt.Errorf("stop %s: %w", m.Name, err)
	}
	return nil
}

// Start makes a loop's sandbox run (creating it again if it vanished, or if
// its configuration changed) and returns its status.
func Start(ctx context.Context, s *workspace.Workspace, name string) (sandbox.Status, error) {
	m, eng, spec, err := loopSandbox(ctx, s, name)
	if err != nil {
		return sandbox.Status{}, err
	}
	if err := sandboxspec.DeliverVault(ctx, s, m, &spec); err != nil {
		return sandbox.Status{}, err
	}
	st, err := eng.Ensure(ctx, spec)
	if err != nil {
		return st, fmt.Errorf("start %s: %w", m.Name, err)
	}
	if st.ID != m.Sandbox.ID || spec.ConfigHash() != m.Sandbox.ConfigHash {
		m.Sandbox.ID, m.Sandbox.ConfigHash = st.ID, spec.ConfigHash()
		if err := s.Store().WriteMeta(m); err != nil {
			return st, err
		}
	}
	return st, nil
}

func loopSandbox(ctx context.Context, s *workspace.Workspace, name string) (*state.Meta, sandbox.Engine, sandbox.Spec, error) {
	m, err := s.Get(name)
	if err != nil {
		return nil, nil, sandbox.Spec{}, err
	}
	if !workspace.Exists(m.Worktree) {
		return nil, nil, sandbox.Spec{}, fmt.Errorf("loop %s: worktree %s is gone (run \"git loop prune\")", m.Name, m.Worktree)
	}
	eng, err := s.OpenEngine(ctx, m.Sandbox.Driver)
	if err != nil {
		return nil, nil, sandbox.Spec{}, fmt.Errorf("loop %s: %w", m.Name, err)
	}
	spec, err := sandboxspec.Spec(s, m)
	if err != nil {
		return nil, nil, sandbox.Spec{}, err
	}
	return m, eng, spec, nil
}

// UninstallPlan is everything Uninstall would remove from this workspace.
type UninstallPlan struct {
	Loops     []string          `json:"loops"`
	AtRisk    []string          `json:"atRisk,omitempty"` // loops refused without force, with why
	Resources sandbox.Resources `json:"resources"`
	StateDir  string            `json:"stateDir"`
	Workspace string            `json:"workspace"`
	Warnings  []string          `json:"warnings,omitempty"`

	atRisk []*workspace.WorkAtRiskError
}

// PlanUninstall lists what Uninstall removes: every loop (as rm does), the
// containers, images and networks labelled with this workspace on every
// driver that keeps any, and $GIT_COMMON_DIR/loop. It changes nothing.
func PlanUninstall(ctx context.Context, s *workspace.Workspace, drivers []string) (*UninstallPlan, error) {
	id, err := s.Repo.WorkspaceID()
	if err != nil {
		return nil, err
	}
	p := &UninstallPlan{StateDir: s.Repo.StateDir(), Workspace: id}
	metas, _ := s.Store().List()
	for _, m := range metas {
		p.Loops = append(p.Loops, m.Name)
		err := checkNoWorkAtRisk(ctx, s, m)
		var risk *workspace.WorkAtRiskError
		if errors.As(err, &risk) {
			p.atRisk = append(p.atRisk, risk)
			p.AtRisk = append(p.AtRisk, err.Error())
		} else if err != nil {
			return nil, err
		}
	}
	for _, d := range drivers {
		eng, err := s.OpenEngine(ctx, d)
		if err != nil {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		pg, ok := eng.(sandbox.Purger)
		if !ok {
			continue
		}
		r, err := pg.Resources(ctx, map[string]string{sandbox.LabelWorkspace: id})
		if err != nil {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		p.Resources.Containers = append(p.Resources.Containers, r.Containers...)
		p.Resources.Images = append(p.Resources.Images, r.Images...)
		p.Resources.Networks = append(p.Resources.Networks, r.Networks...)
		p.Resources.Volumes = append(p.Resources.Volumes, r.Volumes...)
	}
	sort.Strings(p.Resources.Containers)
	return p, nil
}

// Uninstall removes what plan lists. Loops with work at risk make it
// refuse unless force is set.
func Uninstall(ctx context.Context, s *workspace.Workspace, plan *UninstallPlan, drivers []string, force bool) error {
	if len(plan.atRisk) > 0 && !force {
		e := *plan.atRisk[0]
		e.Hint = fmt.Sprintf("uninstall would delete it (%d %s at risk); land the work or use --force", len(plan.atRisk), workspace.Plural(len(plan.atRisk), "loop", "loops"))
		return &e
	}
	for _, name := range plan.Loops {
		if err := Remove(ctx, s, RemoveOptions{Name: name, Force: force}); err != nil {
			return fmt.Errorf("uninstall: %w", err)
		}
	}
	for _, d := range drivers {
		eng, err := s.OpenEngine(ctx, d)
		if err != nil {
			continue // nothing of it can exist if it cannot be reached
		}
		if pg, ok := eng.(sandbox.Purger); ok {
			if _, err := pg.Purge(ctx, map[string]string{sandbox.LabelWorkspace: plan.Workspace}); err != nil {
				return fmt.Errorf("uninstall: %w", err)
			}
		}
	}
	if err := os.RemoveAll(plan.StateDir); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	return nil
}
