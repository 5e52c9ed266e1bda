package sandboxspec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/vault"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// PersonalVault is the vault of the personal repo, always its main clone
// (git-crypt and linked worktrees do not mix: git-crypt issue #105).
func PersonalVault(s *workspace.Workspace) (*vault.Repo, error) {
	clone, err := s.LayerClone(workspace.Personal)
	if err != nil {
		return nil, err
	}
	return &vault.Repo{Dir: clone}, nil
}

// VaultName is the vault a command uses: the flag, else vault.default.
func VaultName(s *workspace.Workspace, flag string) (string, error) {
	name := flag
	if name == "" && s.Config != nil {
		name = s.Config.VaultDefault()
	}
	if name == "" {
		return "", fmt.Errorf("no vault named: use --vault NAME, or set a default (\"git loop config set --global vault.default NAME\"; \"git loop vault init\" makes %q the default)", vault.DefaultName)
	}
	return name, vault.ValidName(name)
}

// checkVault makes sure a loop can get its vault: the vault exists and the
// personal repo is unlocked. New calls it before any change.
func CheckVault(ctx context.Context, s *workspace.Workspace, name string) error {
	if name == "" {
		return nil
	}
	if err := vault.ValidName(name); err != nil {
		return err
	}
	v, err := PersonalVault(s)
	if err != nil {
		return fmt.Errorf("vault %s: %w", name, err)
	}
	ok, err := v.Exists(ctx, name)
	if err != nil {
		return fmt.Errorf("vault %s: %w", name, err)
	}
	if !ok && s.Config != nil && name == s.Config.VaultDefault() {
		// The default vault before anything is set in it ("vault init"
		// names it): an empty vault, nothing to deliver.
		return nil
	}
	if !ok {
		return fmt.Errorf("vault %s does not exist (\"git loop vault status\" lists the vaults; \"git loop vault set VAR --vault %s\" makes it)", name, name)
	}
	if !v.Initialized() {
		return vault.ErrNotInitialized
	}
	if !v.Unlocked() {
		return fmt.Errorf("vault %s: %w", name, &vault.LockedError{Repo: v.Dir})
	}
	return nil
}

// RemoteVaultHome is the host's private copy of a remote loop's vault
// home files (filled by DeliverVault), which new streams into the loop's
// $HOME on its engine; "" when the loop has no vault.
func RemoteVaultHome(s *workspace.Workspace, m *state.Meta, spec sandbox.Spec) string {
	if m.Vault == "" || !m.Sandbox.Remote() {
		return ""
	}
	return vaultRuntimeDir(s, spec.Workspace, m.Name)
}

// vaultRuntimeDir is the private host dir holding a loop's copies of its
// vault's mounts, with the modes ssh insists on: never the git-crypt
// checkout itself, and outside every other loop's mount table.
func vaultRuntimeDir(s *workspace.Workspace, workspace, loop string) string {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, fmt.Sprintf("git-loop-%d", os.Getuid()), "vault", workspace+"-"+loop)
}

// vaultMounts adds the loop's vault mounts to its spec: each
// mounts/home entry read-only at $HOME/<entry>, from the loop's private
// copy. The entry names come from git, so the mount table (and the
// sandbox's config hash) is the same whether the vault is locked or not;
// a copy not yet filled is an empty placeholder, and deliverVault fills it
// before anything runs.
func vaultMounts(s *workspace.Workspace, m *state.Meta, spec *sandbox.Spec) {
	if m.Vault == "" || vault.ValidName(m.Vault) != nil {
		return
	}
	v, err := PersonalVault(s)
	if err != nil {
		return
	}
	ctx := context.Background()
	e, err := v.List(ctx, m.Vault)
	if err != nil || len(e.Mounts) == 0 {
		return
	}
	dirs, _ := v.MountDirs(ctx, m.Vault)
	dir := vaultRuntimeDir(s, spec.Workspace, m.Name)
	if err := privateDir(dir); err != nil {
		return
	}
	for _, name := range e.Mounts {
		if vault.ValidEntry(name) != nil {
			continue
		}
		src := filepath.Join(dir, name)
		if _, err := os.Lstat(src); errors.Is(err, os.ErrNotExist) {
			if dirs[name] {
				_ = os.Mkdir(src, 0o700)
			} else if f, err := os.OpenFile(src, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
				f.Close()
			}
		}
		spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: src, Target: filepath.Join(spec.Home, name), ReadOnly: true})
	}
}

// privateDir makes dir and its two parents (git-loop-UID/vault) 0700.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for d, i := dir, 0; i < 3; d, i = filepath.Dir(d), i+1 {
		if err := os.Chmod(d, 0o700); err != nil {
			return err
		}
	}
	return nil
}

// deliverVault gives a spec about to run something the loop's vault: its
// env vars in the per-exec env, fresh private copies of its mounts (symlinks
// and paths leaving the vault refused), and GIT_SSH_COMMAND with the
// vault's ssh key when it has one. A locked or missing vault is an error
// saying what to do, before anything starts.
func DeliverVault(ctx context.Context, s *workspace.Workspace, m *state.Meta, spec *sandbox.Spec) error {
	if m.Vault == "" {
		return nil
	}
	if err := CheckVault(ctx, s, m.Vault); err != nil {
		return fmt.Errorf("loop %s: %w", m.Name, err)
	}
	v, err := PersonalVault(s)
	if err != nil {
		return err
	}
	if ok, err := v.Exists(ctx, m.Vault); err != nil {
		return fmt.Errorf("loop %s: vault %s: %w", m.Name, m.Vault, err)
	} else if !ok {
		return nil // the default vault, nothing set in it yet (CheckVault allows only that)
	}
	env, err := v.Env(ctx, m.Vault)
	if err != nil {
		return fmt.Errorf("loop %s: vault %s: %w", m.Name, m.Vault, err)
	}
	mounts, err := v.Mounts(ctx, m.Vault)
	if err != nil {
		return fmt.Errorf("loop %s: vault %s: %w", m.Name, m.Vault, err)
	}
	if spec.Env == nil {
		spec.Env = map[string]string{}
	}
	for k, val := range env {
		if strings.HasPrefix(k, "GIT_LOOP_") {
			continue // git loop's own variables win
		}
		spec.Env[k] = val
	}
	if len(mounts) == 0 {
		return nil
	}
	dir := vaultRuntimeDir(s, spec.Workspace, m.Name)
	if err := privateDir(dir); err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, mt := range mounts {
		keep[mt.Name] = true
		if err := syncTree(mt.Path, filepath.Join(dir, mt.Name)); err != nil {
			return fmt.Errorf("loop %s: vault %s: %w", m.Name, m.Vault, err)
		}
	}
	if old, err := os.ReadDir(dir); err == nil {
		for _, e := range old {
			if !keep[e.Name()] {
				_ = os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
	onHost := m.Sandbox.Driver == "none"
	if m.Sandbox.Remote() {
		// No host path reaches a remote engine: the private copy goes
		// into the loop's $HOME on the engine in new's seed (the tar
		// stream on its exec's stdin: RemoteVaultHome), and its ssh key
		// is used there.
		if key := vaultSSHKey(dir); key != "" {
			spec.Env["GIT_SSH_COMMAND"] = SSHCommand(filepath.Join(spec.Home, ".ssh", filepath.Base(key)))
		}
		return nil
	}
	if !onHost && spec.User != "" {
		// Mounted read-only at $HOME, mode 0600: the sandbox's user (not
		// root, when git loop runs as root) must own the copy to read it.
		if uid, gid, ok := workspace.ParseUser(spec.User); ok {
			if err := workspace.OwnAll(dir, uid, gid); err != nil {
				return fmt.Errorf("loop %s: vault %s: %w", m.Name, m.Vault, err)
			}
		}
	}
	if key := vaultSSHKey(dir); key != "" {
		keyPath := filepath.Join(spec.Home, ".ssh", filepath.Base(key))
		if onHost {
			// No sandbox to mount $HOME/.ssh in: ssh reads the private
			// copy itself.
			keyPath = key
		}
		spec.Env["GIT_SSH_COMMAND"] = SSHCommand(keyPath)
	}
	if onHost {
		var unmounted []string
		for _, mt := range mounts {
			if mt.Name != ".ssh" {
				unmounted = append(unmounted, "~/"+mt.Name)
			}
		}
		if len(unmounted) > 0 {
			s.Reporter().Warn(fmt.Sprintf("loop %s runs on the host (driver none): vault %s's home files %s are not mounted (its env and ssh key are delivered); use a sandbox driver for them", m.Name, m.Vault, strings.Join(unmounted, ", ")))
		}
	}
	return nil
}

// runSpec is the spec of a loop for running something in it: Spec plus
// the vault's delivery.
func RunSpec(ctx context.Context, s *workspace.Workspace, m *state.Meta) (sandbox.Spec, error) {
	if err := restoreToolchain(ctx, s, m); err != nil {
		return sandbox.Spec{}, err
	}
	spec, err := Spec(s, m)
	if err != nil {
		return spec, err
	}
	return spec, DeliverVault(ctx, s, m, &spec)
}

// vaultSSHKey is the ssh key in a loop's private vault copy ("" if none).
func vaultSSHKey(dir string) string {
	for _, k := range []string{"id_ed25519", "id"} {
		p := filepath.Join(dir, ".ssh", k)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// SSHCommand is the GIT_SSH_COMMAND that uses key and nothing else: no
// agent, no other identity, no user ssh config, and the known_hosts next
// to the key (ssh would otherwise read the passwd home's, not $HOME's).
func SSHCommand(key string) string {
	known := filepath.Join(filepath.Dir(key), "known_hosts")
	return "ssh -F /dev/null -i " + shellQuote(key) + " -o IdentitiesOnly=yes -o IdentityAgent=none -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o BatchMode=yes -o UserKnownHostsFile=" + shellQuote(known)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// LoopSSHEnv is the environment the host's git gets for a loop's context
// fetch and push: GIT_SSH_COMMAND with the vault's key when the loop's
// vault has one (refreshing the loop's private copy), else nothing.
func LoopSSHEnv(ctx context.Context, s *workspace.Workspace, m *state.Meta) ([]string, error) {
	if m.Vault == "" {
		return nil, nil
	}
	spec, err := RunSpec(ctx, s, m)
	if err != nil {
		return nil, err
	}
	key := vaultSSHKey(vaultRuntimeDir(s, spec.Workspace, m.Name))
	if key == "" {
		return nil, nil
	}
	return []string{"GIT_SSH_COMMAND=" + SSHCommand(key), "SSH_AUTH_SOCK="}, nil
}

// removeVaultCopy deletes a loop's private vault copy.
func RemoveVaultCopy(s *workspace.Workspace, name string) {
	id, err := s.Repo.WorkspaceID()
	if err != nil {
		return
	}
	_ = os.RemoveAll(vaultRuntimeDir(s, id, name))
}

// syncTree makes dst a private copy of src (dirs 0700, files 0600 or 0700
// when executable), rewriting files in place so binds into a running
// sandbox see the new content. Symlinks are refused.
func syncTree(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s is a symlink: refused", src)
	case fi.IsDir():
		if dfi, err := os.Lstat(dst); err == nil && !dfi.IsDir() {
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(dst, 0o700); err != nil {
			return err
		}
		if err := os.Chmod(dst, 0o700); err != nil {
			return err
		}
		ents, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		want := map[string]bool{}
		for _, e := range ents {
			want[e.Name()] = true
			if err := syncTree(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
		have, _ := os.ReadDir(dst)
		for _, e := range have {
			if !want[e.Name()] {
				_ = os.RemoveAll(filepath.Join(dst, e.Name()))
			}
		}
		return nil
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o600)
		if fi.Mode()&0o100 != 0 {
			mode = 0o700
		}
		if dfi, err := os.Lstat(dst); err == nil && !dfi.Mode().IsRegular() {
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Chmod(dst, mode)
	default:
		return errors.New(src + " is not a regular file or directory: refused")
	}
}

type gitEnvKey struct{}

// gitEnv is the extra environment of the git commands run for a loop's
// context (set by withVaultSSH).
func GitEnv(ctx context.Context) []string {
	env, _ := ctx.Value(gitEnvKey{}).([]string)
	return env
}

// withVaultSSH returns a context under which a loop's context fetches use
// the named vault's ssh key alone (from a private temporary copy, removed
// by cleanup). A vault without a key changes nothing.
func WithVaultSSH(ctx context.Context, s *workspace.Workspace, name string) (context.Context, func(), error) {
	nop := func() {}
	if name == "" {
		return ctx, nop, nil
	}
	v, err := PersonalVault(s)
	if err != nil {
		return ctx, nop, err
	}
	mounts, err := v.Mounts(ctx, name)
	if err != nil {
		return ctx, nop, err
	}
	for _, m := range mounts {
		if m.Name != ".ssh" {
			continue
		}
		tmp, err := os.MkdirTemp("", "gitloop-ssh-")
		if err != nil {
			return ctx, nop, err
		}
		cleanup := func() { _ = os.RemoveAll(tmp) }
		dst := filepath.Join(tmp, ".ssh")
		if err := syncTree(m.Path, dst); err != nil {
			cleanup()
			return ctx, nop, err
		}
		key := vaultSSHKey(tmp)
		if key == "" {
			cleanup()
			return ctx, nop, nil
		}
		return context.WithValue(ctx, gitEnvKey{}, []string{"GIT_SSH_COMMAND=" + SSHCommand(key), "SSH_AUTH_SOCK="}), cleanup, nil
	}
	return ctx, nop, nil
}
