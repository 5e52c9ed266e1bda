// Package lifecycle makes and unmakes loops: new, adopt, rm, prune,
// init, stop/start and uninstall. Each operation records an intent before
// it changes anything, and its undo sits beside it; Lock takes the state
// lock and finishes or undoes what an interrupted command left behind.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/agent"
	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/gitloop/worktreeinclude"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/templates"
)

// NewOptions are the inputs of New.
type NewOptions struct {
	Name   string
	Base   string // ref or sha; empty: config "base", then the current branch
	Driver string // sandbox driver; empty: config sandbox.driver
	// Context is where context worktrees start: "latest" (default),
	// "cached", or a commit.
	Context string
	// Profiles are opt-in tiers from the knowledge repo, after the
	// default_profiles setting, in order.
	Profiles []string
	// DistillFrom makes a distill loop over that loop's transcript.
	DistillFrom string
	// Repos are roster repositories to mount read-only.
	Repos []string
	// Vault is the personal vault the loop gets (empty: config
	// vault.default, else none).
	Vault string
	// Agent is the agent the loop runs, recorded (empty: none recorded,
	// the loop runs the agent setting as it is at each run).
	Agent  string
	DryRun bool
	// SetupOutput receives the output of the setup commands (nil: discard).
	SetupOutput io.Writer
}

// New creates a loop: branch, worktree, .worktreeinclude copies, sandbox,
// record. It is all or nothing: a failure (or a kill, found by the next
// command) undoes every step.
func New(ctx context.Context, s *workspace.Workspace, opts NewOptions) (*state.Meta, error) {
	name := opts.Name
	if err := workspace.ValidateName(name, s.Config.BranchPrefix()); err != nil {
		return nil, err
	}
	driver := opts.Driver
	if driver == "" {
		driver = s.Config.SandboxDriver()
	}
	vaultName := opts.Vault
	if vaultName == "" {
		vaultName = s.Config.VaultDefault()
	}
	// A vault that cannot be delivered stops the loop before any change.
	if err := sandboxspec.CheckVault(ctx, s, vaultName); err != nil {
		return nil, fmt.Errorf("new %s: %w", name, err)
	}
	if opts.DryRun {
		return planNew(ctx, s, name, opts)
	}
	l, err := Lock(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", name, err)
	}
	defer s.Unlock(l)

	m, intent, err := prepareNew(ctx, s, name, opts.Base)
	if err != nil {
		return nil, err
	}
	if m.Agent, err = recordedAgent(opts.Agent); err != nil {
		return nil, err
	}
	m.Vault = vaultName
	p := s.Reporter()
	eng, err := s.OpenEngine(ctx, driver)
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", name, err)
	}
	// Setup commands run on the host only when the user chose the host
	// (--driver none, or the setting): not when auto found no sandbox.
	hostByFallback := driver == "auto" && eng.Name() == "none"
	if hostByFallback {
		p.Warn(fmt.Sprintf("no sandbox engine found: loop %s runs on the host, without isolation (see \"git loop doctor\")", name))
	}
	intent.Driver = eng.Name()
	m.Sandbox.Driver = eng.Name()
	if eng.Name() == "docker" || eng.Name() == "kubernetes" {
		m.Sandbox.Image = s.Config.SandboxImage()
		m.Sandbox.Ports = s.Config.Ports()
	}
	m.Sandbox.Sealed = s.Config.SandboxSealed() && (eng.Name() == "docker" || eng.Name() == "bwrap")
	remote, err := remotePlacement(ctx, s, eng)
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", name, err)
	}
	if remote {
		// The engine cannot see this host: the loop's files live there,
		// sealed, whatever sandbox.sealed says.
		if len(opts.Repos) > 0 {
			return nil, &workspace.UsageError{Err: fmt.Errorf("new %s: roster repositories (--repo) are not given to a loop on a remote engine yet", name)}
		}
		m.Sandbox.Sealed, m.Sandbox.Placement = true, state.PlacementRemote
	}
	if pf, ok := eng.(sandbox.Preflighter); ok {
		// Fail before any change: a missing image must not cost a
		// worktree made and undone.
		spec, err := sandboxspec.Spec(s, m)
		if err != nil {
			return nil, err
		}
		if err := pf.Preflight(ctx, spec); err != nil {
			return nil, fmt.Errorf("new %s: %w", name, err)
		}
	}
	if m.Sandbox.Sealed {
		if err := CheckImageGit(ctx, s, eng, m.Sandbox.Image); err != nil {
			return nil, fmt.Errorf("new %s: %w", name, err)
		}
	}
	// The context fetch goes with the vault's ssh key, never the host's.
	gctx, cleanup, err := sandboxspec.WithVaultSSH(ctx, s, vaultName)
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", name, err)
	}
	defer cleanup()
	cws, err := contexts.Plan(gctx, s, name, opts.Context)
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", name, err)
	}
	contexts.Own(cws, eng.Name())
	if remote {
		// Clones of its own on the engine, seeded by a push
		// (seedRemote); the host keeps a copy at the start commit at
		// the same path, which no sandbox sees, to compose from.
		contexts.OwnAll(cws)
	}
	intent.Contexts, m.Contexts = cws, cws
	m.Versions = contexts.Versions(s, cws)
	m.Profiles = dedup(append(s.Config.GetList("default_profiles"), opts.Profiles...))
	if m.Repos, err = contexts.PrepareRepos(ctx, s, dedup(opts.Repos)); err != nil {
		return nil, fmt.Errorf("new %s: %w", name, err)
	}
	if err := s.Store().BeginIntent(intent); err != nil {
		return nil, fmt.Errorf("new %s: %w", name, err)
	}
	err = func() error {
		p.Step(fmt.Sprintf("creating worktree %s on %s", m.Worktree, m.ShortBranch()))
		project := ""
		if opts.DistillFrom != "" {
			project = templates.DistillDoctrine()
		}
		// What does not need the code worktree (the context worktrees,
		// the agent dir, $HOME) is made while git checks it out: on a
		// loaded machine that is most of new's own time.
		tree := m.Worktree
		var wait func() error
		if remote {
			// Made on the engine once the sandbox runs; here, the
			// branch, and a host-only staging dir for what goes in by
			// tar stream.
			tree = transport.StagingDir(s, m.Name)
			wait = startRemoteBranch(ctx, s, m, tree)
		} else if m.Sandbox.Sealed {
			tree = s.SealedClone(m.Name)
			wait = startSealedClone(ctx, s, m, intent.BranchCreated)
		} else {
			wait = startLoopWorktree(ctx, s, s.Git, m)
		}
		err := furnishBeside(ctx, s, m, project)
		if werr := wait(); werr != nil {
			return werr
		}
		if err != nil {
			return err
		}
		if err := worktreeinclude.Copy(ctx, s, tree); err != nil {
			return err
		}
		if opts.DistillFrom != "" {
			if err := snapshotTranscript(s, opts.DistillFrom, tree); err != nil {
				return err
			}
		}
		if err := sandboxspec.EnsureToolchain(ctx, s, eng, m); err != nil {
			return err
		}
		// All of it made as root, when git loop is: the sandbox's user
		// gets it before the sandbox starts.
		if err := sandboxspec.GiveToSandbox(s, m, true); err != nil {
			return err
		}
		spec, err := sandboxspec.RunSpec(ctx, s, m)
		if err != nil {
			return err
		}
		p.Step(fmt.Sprintf("starting %s sandbox", eng.Name()))
		st, err := eng.Ensure(ctx, spec)
		if err != nil {
			return err
		}
		m.Sandbox.ID, m.Sandbox.ConfigHash = st.ID, spec.ConfigHash()
		if remote {
			if err := seedRemote(ctx, s, eng, m, spec, tree); err != nil {
				return err
			}
		}
		return s.Store().WriteMeta(m)
	}()
	if err != nil {
		// Undo with a fresh context: the original may be the one that
		// was cancelled (Ctrl-C), and the undo must still run.
		if uerr := undoNew(context.WithoutCancel(ctx), s, intent); uerr != nil {
			p.Warn(fmt.Sprintf("could not undo loop %q: %v (run \"git loop doctor --fix\")", name, uerr))
		}
		return nil, fmt.Errorf("new %s: %w", name, err)
	}
	if err := s.Store().EndIntent(name); err != nil {
		return nil, fmt.Errorf("new %s: %w", name, err)
	}
	if hostByFallback && len(s.Config.Setup()) > 0 {
		p.Warn(fmt.Sprintf("setup commands not run: loop %s has no sandbox, and they run on the host only with an explicit --driver none (or sandbox.driver = \"none\"); run them yourself with \"git loop exec %s -- sh -c …\"", name, name))
		return m, nil
	}
	if err := runSetup(ctx, s, eng, m, opts.SetupOutput); err != nil {
		return m, err
	}
	return m, nil
}

// furnish gives a loop whose worktree exists everything around it: the
// .worktreeinclude copies, its context worktrees, the composed agent dir,
// the roster file and the sandbox home.
func furnish(ctx context.Context, s *workspace.Workspace, m *state.Meta, project string) error {
	if err := worktreeinclude.Copy(ctx, s, m.Worktree); err != nil {
		return err
	}
	return furnishBeside(ctx, s, m, project)
}

// furnishBeside makes what a loop needs beside its code worktree: its
// context worktrees, the composed agent dir (whose team and profile tiers
// are read from the knowledge worktree), the roster file and the sandbox
// home. It reads and writes nothing of the code worktree, so new runs it
// while git creates that.
func furnishBeside(ctx context.Context, s *workspace.Workspace, m *state.Meta, project string) error {
	if err := contexts.Add(ctx, s, m.Name, m.Contexts); err != nil {
		return err
	}
	if err := contexts.SeedMemory(s, m); err != nil {
		return err
	}
	if err := contexts.ComposeAgent(s, m, project); err != nil {
		return err
	}
	if err := contexts.WriteReposFile(s, s.AgentDir(m.Name), m.Repos); err != nil {
		return err
	}
	return makeHome(s, m.Name)
}

// SetupError is a failed setup command: the loop exists, its setup did
// not finish.
type SetupError struct {
	Loop, Command string
	Code          int
}

func (e *SetupError) Error() string {
	return fmt.Sprintf("loop %s was created, but its setup command %q failed (exit %d); fix it and run: git loop exec %s -- sh -c %q", e.Loop, e.Command, e.Code, e.Loop, e.Command)
}

// runSetup runs the configured setup commands once in the new loop's
// sandbox, in order, stopping at the first failure.
func runSetup(ctx context.Context, s *workspace.Workspace, eng sandbox.Engine, m *state.Meta, out io.Writer) error {
	cmds := s.Config.Setup()
	if len(cmds) == 0 {
		return nil
	}
	if out == nil {
		out = io.Discard
	}
	spec, err := sandboxspec.RunSpec(ctx, s, m)
	if err != nil {
		return err
	}
	for _, c := range cmds {
		s.Reporter().Step("setup: " + c)
		code, err := eng.Exec(ctx, spec, sandbox.Exec{Cmd: []string{"sh", "-c", c}, Stdout: out, Stderr: out})
		if err != nil {
			return fmt.Errorf("setup of %s: %w", m.Name, err)
		}
		if code != 0 {
			return &SetupError{Loop: m.Name, Command: c, Code: code}
		}
	}
	return nil
}

// prepareNew checks everything that can be checked before any change and
// returns the record and intent New will write.
func prepareNew(ctx context.Context, s *workspace.Workspace, name, base string) (*state.Meta, state.Intent, error) {
	if _, err := s.Store().ReadMeta(name); err == nil {
		// Not a usage error: the command was typed right, as with "git
		// branch x" when x exists.
		return nil, state.Intent{}, fmt.Errorf("loop %q already exists (see \"git loop status %s\", or remove it with \"git loop rm %s\")", name, name, name)
	} else if !workspace.IsNoLoop(err) {
		return nil, state.Intent{}, err
	}
	branch := s.BranchRef(name)
	baseName, baseRef, baseSHA, exists, err := resolveBase(ctx, s, base, branch)
	if err != nil {
		return nil, state.Intent{}, err
	}
	if exists {
		return nil, state.Intent{}, plantedBranch(ctx, s, name, branch)
	}
	wt := s.WorktreePath(name)
	if entries, err := os.ReadDir(wt); err == nil && len(entries) > 0 {
		return nil, state.Intent{}, &workspace.UsageError{Err: fmt.Errorf("loop %q: worktree path %s already exists and is not empty; move it away or set loop.worktreeDir", name, wt)}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		if _, lerr := os.Lstat(wt); lerr == nil {
			return nil, state.Intent{}, &workspace.UsageError{Err: fmt.Errorf("loop %q: worktree path %s exists and is not a directory", name, wt)}
		}
	}
	m := &state.Meta{
		Name:     name,
		Branch:   branch,
		Base:     baseName,
		BaseRef:  baseRef,
		BaseSHA:  baseSHA,
		Created:  s.Clock().UTC().Truncate(1e9),
		Worktree: wt,
	}
	in := state.Intent{Op: "new", Loop: name, Branch: branch, BranchCreated: true, BaseSHA: baseSHA, Worktree: wt}
	return m, in, nil
}

// plantedBranch is the refusal of "new NAME" when loop/NAME exists but no
// loop does. new never takes such a branch over: a loop's sandbox shares
// the ref store and can create it on a commit of its own, which "new"
// would then check out and hand to the next agent as if the user had
// chosen it. The user decides, knowing its tip.
func plantedBranch(ctx context.Context, s *workspace.Workspace, name, branch string) error {
	short := workspace.ShortRef(branch)
	// The sha only: the subject is the agent's text, terminal escapes and all.
	tip, err := s.Query.Line(ctx, git.Cmd{Dir: s.Repo.CommonDir, Args: []string{"rev-parse", "--verify", "-q", branch + "^{commit}"}})
	if err != nil {
		tip = "(unreadable: " + err.Error() + ")"
	}
	return &workspace.UsageError{Err: fmt.Errorf("branch %s already exists, at %s, but is not a loop git loop made (a loop's sandbox can create branches); "+
		"look at it (\"git log %s\"), then delete it (\"git branch -D %s\") and run new again, or make it a loop deliberately (\"git worktree add PATH %s\")",
		short, tip, short, short, short)}
}

// recordedAgent is the agent a new loop records: only the one asked for
// with --agent. A loop without one follows the agent setting
// (agent.ForLoop), so that a loop made before an agent was set up, or
// while the setting named a program not installed, runs the agent set
// later.
func recordedAgent(asked string) (string, error) {
	if asked == "" {
		return "", nil
	}
	if _, err := agent.Parse(asked); err != nil {
		return "", err
	}
	return asked, nil
}

// planNew prints (through the runner's log) what New would run.
func planNew(ctx context.Context, s *workspace.Workspace, name string, opts NewOptions) (*state.Meta, error) {
	m, _, err := prepareNew(ctx, s, name, opts.Base)
	if err != nil {
		return nil, err
	}
	_ = startLoopWorktree(ctx, s, &git.Runner{Log: s.Git.Log, DryRun: true}, m)()
	return m, nil
}

// startLoopWorktree starts making the loop's code worktree with r, on a
// new branch at the base commit (prepareNew refuses an existing one).
func startLoopWorktree(ctx context.Context, s *workspace.Workspace, r *git.Runner, m *state.Meta) (wait func() error) {
	return r.StartWorktree(ctx, git.NewWorktree{
		CommonDir: s.Repo.CommonDir,
		Path:      m.Worktree,
		Branch:    m.ShortBranch(),
		Start:     m.BaseSHA,
		Label:     m.ShortBranch(),
		ID:        m.Name,
		Direct:    !r.DryRun && s.Shortcuts().Use(git.WorktreeAdd) && workspace.DirectWorktrees(ctx, s.Repo.MainWorktree),
	})
}

// startSealedClone makes a sealed loop's branch on the host (when new)
// and seeds its sandbox's clone on it, in the background like
// startLoopWorktree.
func startSealedClone(ctx context.Context, s *workspace.Workspace, m *state.Meta, newBranch bool) (wait func() error) {
	// The host's branch and the sandbox's clone are independent: made
	// side by side.
	branch := make(chan error, 1)
	seeded := make(chan error, 1)
	sha := m.BaseSHA
	if newBranch {
		go func() {
			branch <- s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: m.ShortBranch(), Args: []string{"update-ref", m.Branch, m.BaseSHA, ""}})
		}()
	} else {
		var err error
		sha, _, err = s.RefSHA(ctx, m.Branch)
		branch <- err
	}
	go func() { seeded <- transport.Seed(ctx, s, m, sha) }()
	return func() error {
		berr, serr := <-branch, <-seeded
		if berr != nil {
			return berr
		}
		return serr
	}
}

// resolveBase turns what the user asked for into (display name, full ref,
// commit sha) and reports whether branch exists, in one git call. An empty
// base means config "base", else the current branch (or commit, when
// detached).
func resolveBase(ctx context.Context, s *workspace.Workspace, base, branch string) (name, ref, sha string, branchExists bool, err error) {
	if base == "" {
		base = s.Config.Base()
	}
	dir := s.Repo.TopLevel
	if dir == "" {
		dir = s.Repo.CommonDir
	}
	if base == "" {
		base = "HEAD"
	}
	if base == "HEAD" {
		// The default: answered from the ref files when they can answer.
		if ref, sha, ok := workspace.ReadHead(s.Repo.GitDir, s.Repo.CommonDir); ok {
			if _, found, ok := workspace.ReadRef(s.Repo.CommonDir, branch); ok {
				name := "HEAD"
				if ref != "" {
					name = workspace.ShortRef(ref)
				}
				return name, ref, sha, found, nil
			}
		}
	}
	bad := &workspace.UsageError{Err: fmt.Errorf("base %q is not a commit in this repository (use --base REF)", base)}
	if strings.HasPrefix(base, "-") {
		return "", "", "", false, bad
	}
	// Loop names hold no glob characters, so bracketing the last one makes
	// --branches match exactly this branch (a plain pattern would match
	// only branches below it).
	short := strings.TrimPrefix(branch, "refs/heads/")
	pattern := short[:len(short)-1] + "[" + short[len(short)-1:] + "]"
	out, err := s.Query.Output(ctx, git.Cmd{Dir: dir, Args: []string{"rev-parse", base + "^{commit}", "--symbolic-full-name", base, "--branches=" + pattern}})
	var ge *git.Error
	if errors.As(err, &ge) {
		if base == "HEAD" {
			if ref, err := s.Query.Line(ctx, git.Cmd{Dir: dir, Args: []string{"symbolic-ref", "-q", "HEAD"}}); err == nil && ref != "" {
				// HEAD names a branch, yet is no commit: the branch is
				// unborn, and a loop needs a commit to start from.
				return "", "", "", false, fmt.Errorf("this repository has no commits yet (%s is unborn): make a first commit, e.g. git commit --allow-empty -m \"Initial commit\", then run git loop new again", workspace.ShortRef(ref))
			}
		}
		return "", "", "", false, bad
	}
	if err != nil {
		return "", "", "", false, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	sha, rest := lines[0], lines[1:]
	// rest is [symbolic base] [branch]; a base that is a bare sha prints no
	// symbolic line, and a base that is the branch itself prints it twice.
	switch {
	case len(rest) == 2:
		ref, branchExists = rest[0], true
	case len(rest) == 1 && rest[0] == branch:
		branchExists = true
	case len(rest) == 1:
		ref = rest[0]
	}
	if !strings.HasPrefix(ref, "refs/") {
		ref = ""
	}
	name = base
	if ref != "" {
		name = workspace.ShortRef(ref)
	}
	return name, ref, sha, branchExists, nil
}

func dedup(items []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range items {
		if !seen[it] {
			seen[it] = true
			out = append(out, it)
		}
	}
	return out
}

// makeHome creates the sandbox's $HOME with a .gitconfig carrying the
// user's git identity: the sandbox does not see the user's own ~/.gitconfig,
// and commits made there must still be the user's.
func makeHome(s *workspace.Workspace, name string) error {
	home := s.HomeDir(name)
	// home/ is the sandbox's: one left by an earlier sandbox (adopt) may be
	// a symlink to a host dir, and the write below must not follow it.
	if fi, err := os.Lstat(home); err == nil && !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (a sandbox may have replaced it)", home)
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	gitconfig := filepath.Join(home, ".gitconfig")
	userName, email := s.Config.GitIdentity()
	if workspace.Exists(gitconfig) || (userName == "" && email == "") {
		return nil
	}
	var b strings.Builder
	b.WriteString("# Written by git loop: your git identity, for commits made in this loop's sandbox.\n[user]\n")
	if userName != "" {
		fmt.Fprintf(&b, "\tname = %s\n", gitConfigQuote(userName))
	}
	if email != "" {
		fmt.Fprintf(&b, "\temail = %s\n", gitConfigQuote(email))
	}
	return os.WriteFile(gitconfig, []byte(b.String()), 0o644)
}

// gitConfigQuote writes a value so git config reads it back unchanged.
func gitConfigQuote(v string) string {
	v = strings.NewReplacer("\\", "\\\\", "\"", "\\\"", "\n", " ").Replace(v)
	return "\"" + v + "\""
}

// undoNew removes whatever an interrupted New created: sandbox, worktree,
// branch (only if New created it and nothing was committed on it), state.
func undoNew(ctx context.Context, s *workspace.Workspace, in state.Intent) error {
	if _, err := s.Store().ReadMeta(in.Loop); err == nil {
		// The record is New's last step: the loop was complete when the
		// command died, so only the intent is left to clear.
		return s.Store().EndIntent(in.Loop)
	}
	if err := removeSandbox(ctx, s, in.Driver, in.Loop, in.Worktree); err != nil {
		return err
	}
	if err := contexts.Remove(ctx, s, in.Contexts, true); err != nil {
		return err
	}
	if err := removeWorktree(ctx, s, in.Worktree, in.Branch); err != nil {
		return err
	}
	if err := transport.RemoveClone(s, in.Loop); err != nil {
		return err
	}
	if in.BranchCreated {
		clearStaleRefLock(s, in.Branch)
		// Delete only if it still points where New put it: a commit made
		// on it since is work, and work is never deleted by an undo.
		sha, exists, err := s.RefSHA(ctx, in.Branch)
		if err != nil {
			return err
		}
		if exists && sha == in.BaseSHA {
			if err := s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: workspace.ShortRef(in.Branch), Args: []string{"update-ref", "-d", in.Branch, in.BaseSHA}}); err != nil {
				return err
			}
		}
	}
	if err := s.Store().RemoveLoopDir(in.Loop); err != nil {
		return err
	}
	return s.Store().EndIntent(in.Loop)
}

// hostPathsProber is implemented by engines that can tell whether they
// see this host's files (docker, by a probe).
type hostPathsProber interface {
	SeesHostPaths(ctx context.Context, p sandbox.Placement, image string) (bool, error)
}

// remotePlacement decides where a new loop's files live: on its engine
// when the engine cannot see this host (a cluster; a docker engine the
// setting or the probe says is remote), else here.
func remotePlacement(ctx context.Context, s *workspace.Workspace, eng sandbox.Engine) (bool, error) {
	p := sandbox.Placement(s.Config.SandboxPlacement()).Or()
	caps := eng.Capabilities()
	if !caps.Volumes {
		if p == sandbox.PlacementRemote {
			return false, fmt.Errorf("sandbox.placement = remote needs an engine that keeps a loop's files (docker, kubernetes), not %s", eng.Name())
		}
		return false, nil
	}
	if pr, ok := eng.(hostPathsProber); ok {
		if caps.HostPaths && p != sandbox.PlacementRemote {
			return false, nil // a local socket: its creates check again
		}
		sees, err := pr.SeesHostPaths(ctx, p, s.Config.SandboxImage())
		return !sees, err
	}
	return !caps.HostPaths, nil
}

// startRemoteBranch makes a remote loop's branch on the host and an
// empty staging dir for its .worktreeinclude copies, and the loop's
// worktree path as an empty dir (as a sealed loop's: nothing a host git
// could be led into).
func startRemoteBranch(ctx context.Context, s *workspace.Workspace, m *state.Meta, staging string) (wait func() error) {
	err := s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: m.ShortBranch(), Args: []string{"update-ref", m.Branch, m.BaseSHA, ""}})
	if err == nil {
		err = os.RemoveAll(staging)
	}
	if err == nil {
		err = os.MkdirAll(staging, 0o700)
	}
	if err == nil {
		err = os.MkdirAll(m.Worktree, 0o755)
	}
	return func() error { return err }
}

// seedRemote fills a remote loop's sandbox, which runs: its clone by a
// push of the branch, its .worktreeinclude copies, $HOME and agent dir by
// a tar stream, and says when the image lacks the agent.
func seedRemote(ctx context.Context, s *workspace.Workspace, eng sandbox.Engine, m *state.Meta, spec sandbox.Spec, staging string) error {
	s.Reporter().Step(fmt.Sprintf("seeding the clone of %s on %s", m.ShortBranch(), eng.Name()))
	t := transport.Target{Engine: eng, Spec: spec, Dir: m.Worktree}
	prog := ""
	if a, err := agent.ForLoop(s, m, ""); err == nil && len(a.Argv) > a.Run {
		prog = filepath.Base(a.Argv[a.Run])
	}
	puts := [][2]string{{staging, m.Worktree}, {s.HomeDir(m.Name), s.HomeDir(m.Name)}, {s.AgentDir(m.Name), s.AgentDir(m.Name)}}
	if dir := sandboxspec.RemoteVaultHome(s, m, spec); dir != "" {
		// The vault's home files, from the private copy RunSpec made,
		// over the same exec's stdin: never in argv or the container's
		// config. Unlike a local loop's read-only mount, they sit in the
		// loop's writable $HOME.
		puts = append(puts, [2]string{dir, s.HomeDir(m.Name)})
	}
	// Each context layer as the code: an empty repository made inside,
	// the loop's start commit pushed from the user's clone over
	// gitloop::, checked out inside; it borrows nothing. The layers and
	// the code are repositories of their own, on volumes of their own:
	// seeded side by side (their round trips overlap).
	layers := make(chan error, len(m.Contexts))
	for _, c := range m.Contexts {
		s.Reporter().Step(fmt.Sprintf("seeding the %s clone of %s on %s", c.Layer, m.Name, eng.Name()))
		go func() {
			ct := transport.Target{Engine: eng, Spec: spec, Dir: c.Dir}
			if err := transport.SeedByPush(ctx, s.Git, filepath.Join(c.Clone, ".git"), m.Name, ct, c.Branch, c.SHA, nil); err != nil {
				layers <- fmt.Errorf("%s: %w", c.Layer, err)
				return
			}
			layers <- nil
		}()
	}
	found, err := transport.SeedRemote(ctx, s, m, t, m.BaseSHA, puts, prog)
	errs := []error{err}
	for range m.Contexts {
		errs = append(errs, <-layers)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	_ = os.RemoveAll(staging)
	if !found {
		// Nothing of the host's is mounted on a remote engine: the image
		// must have the agent.
		s.Reporter().Warn(fmt.Sprintf("loop %s is on a remote engine, where the agent program %q is not in the image %s (programs on this host are not copied there): use an image that has it (\"git loop image build\" with it installed, or sandbox.image)", m.Name, prog, spec.Image))
	}
	return nil
}
