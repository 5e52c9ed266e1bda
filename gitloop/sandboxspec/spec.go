// Package sandboxspec is what a loop's sandbox is made of: the mount table
// of docs/sandbox.md (the worktree, the git dirs read-only where git would run
// host code, the context worktrees, the agent program, the hooks' binary)
// and the delivery of the selected vault's secrets.
package sandboxspec

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/agent"
	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// Spec is the sandbox spec of a loop, with the mount table of docs/sandbox.md.
func Spec(s *workspace.Workspace, m *state.Meta) (sandbox.Spec, error) {
	id, err := s.Repo.WorkspaceID()
	if err != nil {
		return sandbox.Spec{}, err
	}
	loopDir := s.Store().LoopDir(m.Name)
	home := s.HomeDir(m.Name)
	spec := sandbox.Spec{
		Workspace: id,
		Loop:      m.Name,
		Image:     m.Sandbox.Image,
		Workdir:   m.Worktree,
		Home:      home,
		Vault:     m.Vault,
		Mounts: append([]sandbox.Mount{
			{Source: m.Worktree, Target: m.Worktree},
			// All of git loop's state is hidden under a tmpfs (the lock,
			// intents, every loop's host-only part loop/host/NAME: records,
			// run logs, locks), and only this loop's sandbox part
			// (loops/NAME: agent dir, $HOME, contexts) is bound back.
			{Target: s.Repo.StateDir(), Tmpfs: true},
			{Source: loopDir, Target: loopDir},
		}, gitDirMounts(s.Repo.CommonDir, m.Worktree)...),
		User: fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
		Env: map[string]string{
			"GIT_LOOP_NAME":    m.Name,
			"GIT_LOOP_WORKDIR": m.Worktree,
			"GIT_LOOP_BRANCH":  m.ShortBranch(),
		},
	}
	if m.Sandbox.Remote() {
		return remoteSpec(s, m, spec), nil
	}
	if m.Sandbox.Sealed {
		// The sandbox's own clone at the worktree's path, and the host's
		// objects it borrows, read-only: no git dir of the host's, so
		// nothing the host's git reads is writable inside.
		objects := filepath.Join(s.Repo.CommonDir, "objects")
		spec.Mounts = []sandbox.Mount{
			{Source: s.SealedClone(m.Name), Target: m.Worktree},
			{Target: s.Repo.StateDir(), Tmpfs: true},
			{Source: loopDir, Target: loopDir},
			{Source: objects, Target: objects, ReadOnly: true},
		}
	}
	if sealedLocal(m) {
		// As root, never root inside (workspace.SandboxUser): the files
		// it works in are given to its user first. An unsealed loop
		// (made before sealing, until doctor --fix seals it) shares the
		// host's worktree and git dir, which the host's git must go on
		// trusting: it runs as you, as it did.
		spec.User = s.SandboxUserSpec()
	}
	spec.Env["GIT_LOOP_AGENT_DIR"] = s.AgentDir(m.Name)
	if m.Sandbox.Toolchain != "" {
		// Shared by every loop with the same toolchain: read-only.
		spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: m.Sandbox.Toolchain, Target: m.Sandbox.Toolchain, ReadOnly: true})
		spec.Env["PATH"] = m.Sandbox.ToolchainPath
		for k, v := range m.Sandbox.ToolchainEnv {
			if _, set := spec.Env[k]; !set {
				spec.Env[k] = v
			}
		}
	}
	// Network and limits are the host's policy, read from the settings on
	// every exec (never from the loop's records): a change applies to
	// every loop, whose sandbox is recreated for it (they are in the
	// config hash).
	spec.Network = sandbox.Network(s.Config.SandboxNetwork())
	spec.Placement = sandbox.Placement(s.Config.SandboxPlacement())
	spec.Limits.Pids, spec.Limits.Memory, spec.Limits.NanoCPUs = s.Config.SandboxLimits()
	for _, c := range m.Contexts {
		if c.Own {
			// The loop's own clone is in the loop dir; of the user's
			// clone it sees only the objects it borrows, read-only: no
			// ref, config or hook of it, so no other loop's notes and no
			// main to move.
			objects := filepath.Join(c.Clone, ".git", "objects")
			spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: objects, Target: objects, ReadOnly: true})
		} else {
			// A linked worktree of the user's clone (the none driver, or
			// a loop not converted yet): git inside it needs the clone's
			// git dir.
			spec.Mounts = append(spec.Mounts, gitDirMounts(c.Clone+"/.git", c.Dir)...)
		}
		spec.Env["GIT_LOOP_"+strings.ToUpper(c.Layer)] = c.Dir
	}
	if clone, err := s.LayerClone(workspace.Personal); err == nil && len(m.Contexts) > 0 {
		spec.Env["GIT_LOOP_PERSONAL"] = clone
		if mem := clone + "/memory"; OwnMemory(m) {
			// A sealed loop's own copy, at the user's memory path (where
			// its agent's settings point): it never sees what other
			// loops wrote, nor writes the user's clone; its memory lands
			// there by promote.
			if own := s.MemoryDir(m.Name); workspace.Exists(own) {
				spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: own, Target: mem})
			}
		} else if workspace.Exists(mem) {
			// Only memory/: never the personal repo's .git, git-crypt key
			// or vaults. The none driver, and loops made unsealed, share
			// the user's memory.
			spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: mem, Target: mem})
		}
	}
	for _, clone := range m.Repos {
		spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: clone, Target: clone, ReadOnly: true})
	}
	// The agent program, read-only at its host path, and on PATH (see
	// agent.Mounts).
	agentMounts, agentPath := agent.Mounts(s, m)
	spec.Mounts = append(spec.Mounts, agentMounts...)
	spec.Path = append(spec.Path, agentPath...)
	for k, v := range agent.ConfigEnv(s, m) {
		spec.Env[k] = v
	}
	hookSandbox(s, m, &spec)
	for _, p := range m.Sandbox.Ports {
		spec.Ports = append(spec.Ports, sandbox.Port{Host: p[0], Container: p[1]})
	}
	// The selected vault's mounts/home entries, read-only at $HOME (see
	// vault.go; values and env come per exec from DeliverVault).
	vaultMounts(s, m, &spec)
	if err := GiveToSandbox(s, m, false); err != nil {
		return sandbox.Spec{}, err
	}
	return spec, nil
}

// GiveToSandbox makes what a loop's sandbox works in its user's: the
// loop dir (agent dir, $HOME, context clones), its sealed clone and the
// egress dir (whose socket it connects to). Only as root, and only for
// sealed docker and bwrap loops; the host's own state stays root's. With all false it
// stops at a dir whose top is given already (the common case: a stat
// each); the host calls it with all true after it wrote into them (new,
// a seal, a recomposed agent dir), and a loop made before sandboxes ran
// as a user is given on its first use.
func GiveToSandbox(s *workspace.Workspace, m *state.Meta, all bool) error {
	if os.Getuid() != 0 || !sealedLocal(m) {
		return nil
	}
	uid, gid := s.SandboxUser()
	own := workspace.Own
	if all {
		own = workspace.OwnAll
	}
	dirs := []string{s.Store().LoopDir(m.Name), EgressDir(s, m.Name)}
	if m.Sandbox.Sealed {
		dirs = append(dirs, s.SealedClone(m.Name))
	}
	for _, d := range dirs {
		if err := own(d, uid, gid); err != nil {
			return fmt.Errorf("loop %s: %w", m.Name, err)
		}
	}
	return nil
}

// OwnMemory reports whether loop m has personal memory of its own
// (workspace.MemoryDir) rather than the user's: a sealed docker or bwrap
// loop on this host, with context layers.
func OwnMemory(m *state.Meta) bool {
	return sealedLocal(m) && !m.Sandbox.Remote() && len(m.Contexts) > 0
}

// sealedLocal says m is a sealed docker or bwrap loop: one whose sandbox
// runs as SandboxUser.
func sealedLocal(m *state.Meta) bool {
	return m.Sandbox.Sealed && (m.Sandbox.Driver == "docker" || m.Sandbox.Driver == "bwrap")
}

// gitDirMounts exposes a repository's git dir to the sandbox so git works
// in the given worktree, without handing the sandbox a way to run commands
// on the host: git on the host reads the repository's config (fsmonitor,
// hooksPath, aliases…) and runs its hooks, so both are read-only inside,
// and the other worktrees' admin dirs (their HEAD and index) are hidden.
func gitDirMounts(gitDir, worktree string) []sandbox.Mount {
	hooks := filepath.Join(gitDir, "hooks")
	// A missing hooks dir could be created inside, and git would run what
	// it holds: make it exist so it can be bound read-only.
	_ = os.MkdirAll(hooks, 0o755)
	mounts := []sandbox.Mount{
		{Source: gitDir, Target: gitDir},
		{Source: filepath.Join(gitDir, "config"), Target: filepath.Join(gitDir, "config"), ReadOnly: true},
		{Source: hooks, Target: hooks, ReadOnly: true},
	}
	// With extensions.worktreeConfig (git sparse-checkout turns it on)
	// git also reads config.worktree, of the main worktree in the common
	// dir and of a linked one in its admin dir: a file the sandbox could
	// create there would be config the host obeys. They are made to
	// exist, empty (as good as missing), so they can be bound read-only.
	mounts = append(mounts, readOnlyFile(filepath.Join(gitDir, "config.worktree"))...)
	if admin := worktreeAdminDir(worktree); admin != "" && filepath.Dir(admin) == filepath.Join(gitDir, "worktrees") {
		mounts = append(mounts,
			sandbox.Mount{Target: filepath.Join(gitDir, "worktrees"), Tmpfs: true},
			sandbox.Mount{Source: admin, Target: admin})
		// commondir and gitdir say where the worktree's repository is: a
		// commondir rewritten inside would hand host git a config of the
		// sandbox's choosing.
		for _, f := range []string{"commondir", "gitdir", "config.worktree"} {
			mounts = append(mounts, readOnlyFile(filepath.Join(admin, f))...)
		}
	}
	return mounts
}

// readOnlyFile binds path read-only over itself, creating it empty when
// missing; nothing when it cannot be made a regular file.
func readOnlyFile(path string) []sandbox.Mount {
	if fi, err := os.Lstat(path); err != nil {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return nil
		}
		f.Close()
	} else if !fi.Mode().IsRegular() {
		return nil
	}
	return []sandbox.Mount{{Source: path, Target: path, ReadOnly: true}}
}

// worktreeAdminDir is the git dir of a linked worktree ("" when unknown).
func worktreeAdminDir(worktree string) string {
	data, err := os.ReadFile(filepath.Join(worktree, ".git"))
	if err != nil {
		return ""
	}
	dir, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "gitdir: ")
	if !ok {
		return ""
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(worktree, dir)
	}
	return filepath.Clean(dir)
}

// SandboxEnv names the sandbox driver a command runs in (docker, bwrap);
// unset on the host, and in a loop on the none driver, which is the host.
const SandboxEnv = "GIT_LOOP_SANDBOX"

// BaseRefEnv carries the loop's base ref into its sandbox, for the
// pre-push guard there.
const BaseRefEnv = "GIT_LOOP_BASE_REF"

// hookSandbox lets the hooks git runs inside a loop's sandbox do their
// part there: the pre-push guard must stop the agent's own pushes, and
// the sandbox runs git on the loop's worktree and context clones, whose
// hooks dirs hold the shims. The shims call git-loop, so the host's binary
// is mounted read-only at its host path (a static Linux binary, so only
// from a Linux host); the settings the guard reads but the sandbox cannot
// (the user's config file and the team's, outside the mount table) come
// resolved in the environment, which the settings chain reads above
// every file.
func hookSandbox(s *workspace.Workspace, m *state.Meta, spec *sandbox.Spec) {
	if m.Sandbox.Driver != "docker" && m.Sandbox.Driver != "bwrap" {
		return
	}
	spec.Env[SandboxEnv] = m.Sandbox.Driver
	// The guard's loop inside (its record is host-only): the base it
	// guards; name, worktrees and branch are in the env already.
	if m.BaseRef != "" {
		spec.Env[BaseRefEnv] = m.BaseRef
	}
	for _, key := range []string{"branchPrefix", "code.gate", "knowledge.gate", "notes.gate", "personal.gate"} {
		if k, ok := config.Lookup(key); ok {
			spec.Env[k.EnvName()] = s.Config.Get(key)
		}
	}
	if runtime.GOOS != "linux" {
		return
	}
	bin, err := s.HookBinary()
	if err != nil {
		return
	}
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return
	}
	spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: real, Target: bin, ReadOnly: true})
	// The door to the host's egress proxy (gitloop/egress): a dir of the
	// loop's host-only part, where the proxy's socket appears while an
	// agent runs, read-only at a fixed path of the sandbox's own (at its
	// host path it would show the host-only part's layout). Made here,
	// since docker binds only what exists; always, so the mount table
	// (and a container's config hash) is the same from "new" on. (rm's
	// spec names no driver and does not get here.)
	dir := EgressDir(s, m.Name)
	_ = os.MkdirAll(dir, 0o700)
	spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: dir, Target: EgressMount, ReadOnly: true})
}

// EgressDir holds the socket of a loop's egress proxy, on the host.
func EgressDir(s *workspace.Workspace, name string) string {
	return filepath.Join(s.Store().HostDir(name), "egress")
}

// EgressMount is where EgressDir is in the sandbox.
const EgressMount = "/run/git-loop/egress"

// remoteSpec is the spec of a loop whose engine cannot see this host: no
// host path at all. Its clone, $HOME and agent dir are dirs of the
// engine's own (volumes, a claim's sub-paths) at the same paths as on a
// local loop, filled by a push and by tar streams (transport.SeedByPush,
// PutDir); the agent program and git come from the image. Its context
// clones (knowledge, notes) are dirs of the engine's too, seeded by a
// push. Personal memory, roster repositories, the toolchain and the
// hooks' binary are not given to it (new says so); the vault's home files
// go in with new's seed (RemoteVaultHome), and the egress proxy is
// reached through a relay over an exec (session.remoteEgress).
func remoteSpec(s *workspace.Workspace, m *state.Meta, spec sandbox.Spec) sandbox.Spec {
	spec.Mounts = []sandbox.Mount{
		{Target: m.Worktree, Volume: true},
		{Target: s.HomeDir(m.Name), Volume: true},
		{Target: s.AgentDir(m.Name), Volume: true},
	}
	for _, c := range m.Contexts {
		// The loop's own clone of the layer, on the engine: nothing of
		// the user's clone is seen (it holds its own objects).
		spec.Mounts = append(spec.Mounts, sandbox.Mount{Target: c.Dir, Volume: true})
		spec.Env["GIT_LOOP_"+strings.ToUpper(c.Layer)] = c.Dir
	}
	spec.Env["GIT_LOOP_AGENT_DIR"] = s.AgentDir(m.Name)
	spec.Network = sandbox.Network(s.Config.SandboxNetwork())
	spec.Placement = sandbox.PlacementRemote
	spec.Limits.Pids, spec.Limits.Memory, spec.Limits.NanoCPUs = s.Config.SandboxLimits()
	for k, v := range agent.ConfigEnv(s, m) {
		spec.Env[k] = v
	}
	spec.Env[SandboxEnv] = m.Sandbox.Driver
	if m.BaseRef != "" {
		spec.Env[BaseRefEnv] = m.BaseRef
	}
	for _, p := range m.Sandbox.Ports {
		spec.Ports = append(spec.Ports, sandbox.Port{Host: p[0], Container: p[1]})
	}
	return spec
}
