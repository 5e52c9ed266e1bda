// Package vault keeps the user's secrets in the personal repo, encrypted
// with git-crypt (run as a program, never reimplemented). A vault is a
// directory vaults/<name>/ holding envs/<VAR> (one environment variable per
// file) and mounts/home/<entry> (files and directories bound at
// $HOME/<entry> in a sandbox). Values are read from stdin or a prompt by
// the caller and handed here as bytes, never through argv.
//
// git-crypt and linked worktrees do not mix (git-crypt issue #105): a Repo
// is always the personal repo's main clone.
package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/gitloop-dev/git-loop/gitloop/git"
)

// Dir is the top directory of the vaults in the personal repo.
const Dir = "vaults"

// Header starts every blob git-crypt encrypted.
const Header = "\x00GITCRYPT\x00"

// keyHeader starts a raw git-crypt key file.
const keyHeader = "\x00GITCRYPTKEY"

// attrLine is the .gitattributes rule vault init adds.
const attrLine = "vaults/** filter=git-crypt diff=git-crypt"

// The patterns are compiled on first use, not at start-up: every git loop
// command links this package, few validate a vault name.
var (
	nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`) })
	varRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })
)

// ValidName checks a vault name.
func ValidName(name string) error {
	if !nameRE().MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("invalid vault name %q: use letters, digits, '_', '.' and '-' (at most 64, starting with a letter or digit)", name)
	}
	return nil
}

// ValidVar checks an environment variable name.
func ValidVar(v string) error {
	if !varRE().MatchString(v) || len(v) > 255 {
		return fmt.Errorf("invalid variable name %q: use letters, digits and '_', not starting with a digit", v)
	}
	return nil
}

// ValidMountPath checks a path under mounts/home (and $HOME): relative,
// clean, each component a valid entry name, e.g. ".ssh/id_ed25519".
func ValidMountPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return fmt.Errorf("invalid mount name %q: a clean path under $HOME such as .gitconfig or .ssh/id_ed25519", p)
	}
	for _, c := range strings.Split(p, "/") {
		if err := ValidEntry(c); err != nil {
			return fmt.Errorf("invalid mount name %q: a clean path under $HOME such as .gitconfig or .ssh/id_ed25519", p)
		}
	}
	return nil
}

// ValidEntry checks a mounts/home entry name: one path component, not a
// dot entry that would escape.
func ValidEntry(e string) error {
	if e == "" || e == "." || e == ".." || strings.ContainsAny(e, "/\\\x00") {
		return fmt.Errorf("invalid mount name %q: one file or directory name under $HOME", e)
	}
	return nil
}

// LockedError is returned when a value is needed and the repo is locked.
type LockedError struct{ Repo string }

func (e *LockedError) Error() string {
	return fmt.Sprintf("the vault in %s is locked: run \"git loop vault unlock KEYFILE\" (or \"git loop vault unlock -\" with the key on stdin)", e.Repo)
}

// ErrNotInitialized means vault init never ran in the personal repo.
var ErrNotInitialized = errors.New("the personal repo has no vault: run \"git loop vault init\"")

// NotFoundError is a missing vault, variable or mount.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + " not found" }

// Repo is the personal repo's main clone.
type Repo struct {
	Dir string
	// Log, when set, receives every mutating command as it runs.
	Log io.Writer
	// Remote is the remote changes are pushed to ("origin" when empty; none
	// when the repo has no such remote).
	Remote string
	// GitEnv is added to the environment of every command (a hook's
	// GIT_INDEX_FILE, say).
	GitEnv []string
}

func (r *Repo) remote() string {
	if r.Remote == "" {
		return "origin"
	}
	return r.Remote
}

// run runs a program in the repo, logging it when it mutates.
func (r *Repo) run(ctx context.Context, logged bool, stdin io.Reader, prog string, args ...string) ([]byte, error) {
	if logged && r.Log != nil {
		fmt.Fprintf(r.Log, "[personal] %s %s\n", prog, strings.Join(args, " "))
	}
	if prog == "git" {
		args = append([]string{"-c", "core.fsmonitor=false"}, args...)
	}
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = r.Dir
	cmd.Env = git.Env(r.GitEnv...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) && prog == "git-crypt" {
			return nil, fmt.Errorf("git-crypt is not installed (\"sudo apt-get install git-crypt\" or \"brew install git-crypt\")")
		}
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return out.Bytes(), fmt.Errorf("%s %s: %s", prog, firstArg(args), msg)
	}
	return out.Bytes(), nil
}

func firstArg(args []string) string {
	for i := 0; i < len(args); i++ {
		if args[i] == "-c" {
			i++
			continue
		}
		return args[i]
	}
	return ""
}

func (r *Repo) gitDir() string { return filepath.Join(r.Dir, ".git") }

// Initialized reports whether .gitattributes puts the vaults under git-crypt.
func (r *Repo) Initialized() bool {
	data, err := os.ReadFile(filepath.Join(r.Dir, ".gitattributes"))
	return err == nil && bytes.Contains(data, []byte(attrLine))
}

// Unlocked reports whether git-crypt holds a key in this clone.
func (r *Repo) Unlocked() bool {
	_, err := os.Stat(filepath.Join(r.gitDir(), "git-crypt", "keys", "default"))
	return err == nil
}

// checkMainClone refuses a linked worktree (git-crypt issue #105).
func (r *Repo) checkMainClone() error {
	fi, err := os.Stat(r.gitDir())
	if err != nil {
		return fmt.Errorf("personal repo %s: %w", r.Dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("personal repo %s is a linked worktree: git-crypt works in the main clone only", r.Dir)
	}
	return nil
}

func (r *Repo) requireUnlocked() error {
	if err := r.checkMainClone(); err != nil {
		return err
	}
	if !r.Initialized() {
		return ErrNotInitialized
	}
	if !r.Unlocked() {
		return &LockedError{Repo: r.Dir}
	}
	return nil
}

// Init sets up git-crypt for vaults/** (existing .gitattributes lines
// kept), commits and pushes the rule, and returns the symmetric key (raw).
// It refuses a repo with tracked plaintext under vaults/.
func (r *Repo) Init(ctx context.Context) ([]byte, error) {
	if err := r.checkMainClone(); err != nil {
		return nil, err
	}
	if r.Initialized() {
		return nil, fmt.Errorf("the vault is already initialised in %s (\"git loop vault export-key\" prints its key)", r.Dir)
	}
	out, err := r.run(ctx, false, nil, "git", "ls-files", "-z", "--", Dir)
	if err != nil {
		return nil, err
	}
	if files := splitZ(out); len(files) > 0 {
		return nil, fmt.Errorf("refusing to set up the vault: %s already tracks plaintext under %s/ (%s); remove it from git history first", r.Dir, Dir, strings.Join(files, ", "))
	}
	if !r.Unlocked() {
		if _, err := r.run(ctx, true, nil, "git-crypt", "init"); err != nil {
			return nil, err
		}
	}
	attrs := filepath.Join(r.Dir, ".gitattributes")
	data, err := os.ReadFile(attrs)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, '\n')
	}
	data = append(data, attrLine+"\n"...)
	if err := os.WriteFile(attrs, data, 0o644); err != nil {
		return nil, err
	}
	if err := r.commit(ctx, "vault: encrypt vaults/** with git-crypt", ".gitattributes"); err != nil {
		return nil, err
	}
	return r.ExportKey(ctx)
}

// ExportKey returns the raw git-crypt key.
func (r *Repo) ExportKey(ctx context.Context) ([]byte, error) {
	if err := r.requireUnlocked(); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "gitloop-key-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, err
	}
	f := filepath.Join(tmp, "key")
	if _, err := r.run(ctx, false, nil, "git-crypt", "export-key", f); err != nil {
		return nil, err
	}
	return os.ReadFile(f)
}

// ParseKey accepts a raw git-crypt key or its base64 text.
func ParseKey(data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, []byte(keyHeader)) {
		return data, nil
	}
	s := strings.Join(strings.Fields(string(data)), "")
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !bytes.HasPrefix(key, []byte(keyHeader)) {
		return nil, fmt.Errorf("not a git-crypt key (expected the file \"git loop vault export-key\" wrote, or its base64)")
	}
	return key, nil
}

// Unlock decrypts the vault in this clone with key (raw or base64).
func (r *Repo) Unlock(ctx context.Context, key []byte) error {
	if err := r.checkMainClone(); err != nil {
		return err
	}
	if !r.Initialized() {
		return ErrNotInitialized
	}
	raw, err := ParseKey(key)
	if err != nil {
		return err
	}
	if r.Unlocked() {
		return nil
	}
	tmp, err := os.MkdirTemp("", "gitloop-key-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o700); err != nil {
		return err
	}
	f := filepath.Join(tmp, "key")
	if err := os.WriteFile(f, raw, 0o600); err != nil {
		return err
	}
	_, err = r.run(ctx, true, nil, "git-crypt", "unlock", f)
	return r.explainDirty(ctx, "unlock", err)
}

// explainDirty turns git-crypt's refusal of a dirty checkout into what to
// do (loops write memory/ in the personal repo, so it is often dirty).
func (r *Repo) explainDirty(ctx context.Context, verb string, err error) error {
	if err == nil || !strings.Contains(err.Error(), "not clean") {
		return err
	}
	out, _ := r.run(ctx, false, nil, "git", "status", "--porcelain", "-uno")
	var files []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if len(l) > 3 {
			files = append(files, l[3:])
		}
	}
	return fmt.Errorf("git-crypt %s needs a clean personal repo, and %s has uncommitted changes (%s): commit them (git -C %s commit -am \"memory\") and run it again", verb, r.Dir, strings.Join(files, ", "), r.Dir)
}

// Lock removes the key from this clone and re-encrypts the checkout.
func (r *Repo) Lock(ctx context.Context) error {
	if err := r.checkMainClone(); err != nil {
		return err
	}
	if !r.Unlocked() {
		return nil
	}
	_, err := r.run(ctx, true, nil, "git-crypt", "lock")
	return r.explainDirty(ctx, "lock", err)
}

// Entries lists a vault's variable and mount names (from git, so it works
// while locked).
type Entries struct {
	Vault  string   `json:"vault"`
	Env    []string `json:"env"`
	Mounts []string `json:"mounts"`
}

// Vaults lists the vault names tracked in the repo.
func (r *Repo) Vaults(ctx context.Context) ([]string, error) {
	files, err := r.tracked(ctx, Dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		parts := strings.Split(f, "/")
		if len(parts) > 2 && !seen[parts[1]] {
			seen[parts[1]] = true
			out = append(out, parts[1])
		}
	}
	sort.Strings(out)
	return out, nil
}

func (r *Repo) tracked(ctx context.Context, dir string) ([]string, error) {
	out, err := r.run(ctx, false, nil, "git", "ls-files", "-z", "--", dir)
	if err != nil {
		return nil, err
	}
	return splitZ(out), nil
}

// List returns the names in one vault (never values).
func (r *Repo) List(ctx context.Context, name string) (Entries, error) {
	if err := ValidName(name); err != nil {
		return Entries{}, err
	}
	files, err := r.tracked(ctx, path.Join(Dir, name))
	if err != nil {
		return Entries{}, err
	}
	e := Entries{Vault: name, Env: []string{}, Mounts: []string{}}
	seen := map[string]bool{}
	for _, f := range files {
		rel := strings.TrimPrefix(f, path.Join(Dir, name)+"/")
		if v, ok := strings.CutPrefix(rel, "envs/"); ok && !strings.Contains(v, "/") {
			e.Env = append(e.Env, v)
		} else if m, ok := strings.CutPrefix(rel, "mounts/home/"); ok {
			top, _, _ := strings.Cut(m, "/")
			if !seen[top] {
				seen[top] = true
				e.Mounts = append(e.Mounts, top)
			}
		}
	}
	sort.Strings(e.Env)
	sort.Strings(e.Mounts)
	return e, nil
}

// MountDirs reports which of a vault's mounts are directories (from git,
// so it works while locked).
func (r *Repo) MountDirs(ctx context.Context, name string) (map[string]bool, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	prefix := path.Join(Dir, name, "mounts", "home") + "/"
	files, err := r.tracked(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, f := range files {
		top, rest, _ := strings.Cut(strings.TrimPrefix(f, prefix), "/")
		out[top] = out[top] || rest != ""
	}
	return out, nil
}

// DefaultName is the vault "git loop vault init" makes the default.
const DefaultName = "default"

// Exists reports whether the vault has any tracked entry.
func (r *Repo) Exists(ctx context.Context, name string) (bool, error) {
	e, err := r.List(ctx, name)
	if err != nil {
		return false, err
	}
	return len(e.Env)+len(e.Mounts) > 0, nil
}

func (r *Repo) vaultDir(name string) string { return filepath.Join(r.Dir, Dir, name) }

// Set stores a variable's value, commits and pushes.
func (r *Repo) Set(ctx context.Context, name, v string, value []byte) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := ValidVar(v); err != nil {
		return err
	}
	if err := r.requireUnlocked(); err != nil {
		return err
	}
	dir := filepath.Join(r.vaultDir(name), "envs")
	if err := r.safeDir(dir); err != nil {
		return err
	}
	f := filepath.Join(dir, v)
	if err := writeFileAtomic(f, value, 0o600); err != nil {
		return err
	}
	return r.commit(ctx, fmt.Sprintf("vault %s: set %s", name, v), path.Join(Dir, name, "envs", v))
}

// Get returns a variable's value.
func (r *Repo) Get(ctx context.Context, name, v string) ([]byte, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if err := ValidVar(v); err != nil {
		return nil, err
	}
	if err := r.requireUnlocked(); err != nil {
		return nil, err
	}
	f := filepath.Join(r.vaultDir(name), "envs", v)
	notFound := &NotFoundError{What: fmt.Sprintf("variable %s in vault %s (\"git loop vault ls --vault %s\" lists its variables; \"git loop vault set %s --vault %s\" sets it)", v, name, name, v, name)}
	if err := r.inside(f); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, notFound // no vault holds anything yet
		}
		return nil, err
	}
	data, err := os.ReadFile(f)
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(data, []byte(Header)) {
		return nil, &LockedError{Repo: r.Dir}
	}
	return data, nil
}

// Rm removes a variable, commits and pushes.
func (r *Repo) Rm(ctx context.Context, name, v string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := ValidVar(v); err != nil {
		return err
	}
	if err := r.requireUnlocked(); err != nil {
		return err
	}
	rel := path.Join(Dir, name, "envs", v)
	return r.remove(ctx, rel, fmt.Sprintf("variable %s in vault %s", v, name), fmt.Sprintf("vault %s: rm %s", name, v))
}

// remove deletes rel (a file or a tree) from the index and the disk,
// commits and pushes; what names it when it is not there.
func (r *Repo) remove(ctx context.Context, rel, what, message string) error {
	if _, err := os.Lstat(filepath.Join(r.Dir, rel)); err != nil {
		return &NotFoundError{What: what}
	}
	if _, err := r.run(ctx, true, nil, "git", "rm", "-r", "-q", "--cached", "--", rel); err != nil {
		return err
	}
	_ = os.RemoveAll(filepath.Join(r.Dir, rel))
	return r.commit(ctx, message, rel)
}

// MountAdd copies a host file or directory into mounts/home/<as>.
// Symlinks inside src are refused.
func (r *Repo) MountAdd(ctx context.Context, name, src, as string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if as == "" {
		as = filepath.Base(src)
	}
	if err := ValidMountPath(as); err != nil {
		return err
	}
	if err := r.requireUnlocked(); err != nil {
		return err
	}
	home := filepath.Join(r.vaultDir(name), "mounts", "home")
	if err := r.safeDir(home); err != nil {
		return err
	}
	dst := filepath.Join(home, filepath.FromSlash(as))
	if err := r.safeDir(filepath.Dir(dst)); err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("vault %s already mounts %s: run \"git loop vault mount rm %s --vault %s\" first", name, as, as, name)
	}
	tmp := dst + ".tmp-add"
	_ = os.RemoveAll(tmp)
	if err := CopyTree(src, tmp, false); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return r.commit(ctx, fmt.Sprintf("vault %s: mount %s", name, as), path.Join(Dir, name, "mounts", "home", as))
}

// MountRm removes a mounted entry, commits and pushes.
func (r *Repo) MountRm(ctx context.Context, name, entry string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := ValidMountPath(entry); err != nil {
		return err
	}
	if err := r.requireUnlocked(); err != nil {
		return err
	}
	rel := path.Join(Dir, name, "mounts", "home", entry)
	if err := r.inside(filepath.Join(r.Dir, rel)); err != nil {
		return err
	}
	return r.remove(ctx, rel, fmt.Sprintf("mount %s in vault %s", entry, name), fmt.Sprintf("vault %s: unmount %s", name, entry))
}

// Env returns the vault's variables with their values.
func (r *Repo) Env(ctx context.Context, name string) (map[string]string, error) {
	e, err := r.List(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(e.Env)+len(e.Mounts) == 0 {
		return nil, &NotFoundError{What: fmt.Sprintf("vault %s (\"git loop vault ls\" lists the vaults)", name)}
	}
	if err := r.requireUnlocked(); err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, v := range e.Env {
		if ValidVar(v) != nil {
			continue
		}
		val, err := r.Get(ctx, name, v)
		if err != nil {
			return nil, err
		}
		env[v] = string(val)
	}
	return env, nil
}

// Mount is one entry of mounts/home, checked to stay inside the vault.
type Mount struct {
	Name string // the entry under $HOME
	Path string // its path in the personal repo's checkout
}

// Mounts lists a vault's mounts/home entries, refusing any entry whose
// real path (or any path under it) leaves the vault.
func (r *Repo) Mounts(ctx context.Context, name string) ([]Mount, error) {
	e, err := r.List(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(e.Mounts) == 0 {
		return nil, nil
	}
	if err := r.requireUnlocked(); err != nil {
		return nil, err
	}
	var out []Mount
	for _, m := range e.Mounts {
		if err := ValidEntry(m); err != nil {
			return nil, fmt.Errorf("vault %s: %w", name, err)
		}
		p := filepath.Join(r.vaultDir(name), "mounts", "home", m)
		if err := r.inside(p); err != nil {
			return nil, err
		}
		if err := filepath.Walk(p, func(q string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if fi.Mode()&os.ModeSymlink != 0 {
				return fmt.Errorf("vault %s: %s is a symlink: refused (vault mounts hold plain files and directories only)", name, q)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		out = append(out, Mount{Name: m, Path: p})
	}
	return out, nil
}

// inside checks that p's real path stays in the vaults dir (no symlink
// in the way leads out).
func (r *Repo) inside(p string) error {
	root, err := filepath.EvalSymlinks(filepath.Join(r.Dir, Dir))
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, os.ErrNotExist) {
		// Check the nearest existing parent.
		return r.inside(filepath.Dir(p))
	}
	if err != nil {
		return err
	}
	if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return fmt.Errorf("%s leaves the vault (it resolves to %s): refused", p, real)
	}
	return nil
}

// safeDir creates dir (under the vaults dir) and checks no symlink leads
// out of the vaults.
func (r *Repo) safeDir(dir string) error {
	if err := os.MkdirAll(filepath.Join(r.Dir, Dir), 0o700); err != nil {
		return err
	}
	if err := r.inside(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return r.inside(dir)
}

// CopyTree copies a file or directory tree. Symlinks are refused. With
// private, directories get 0700 and files 0600 (0700 when executable), the
// modes ssh insists on.
func CopyTree(src, dst string, private bool) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("%s is a symlink: refused (copy the file it points to instead)", p)
		case fi.IsDir():
			mode := fi.Mode().Perm()
			if private {
				mode = 0o700
			}
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			return os.Chmod(target, mode)
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			mode := fi.Mode().Perm()
			if private {
				mode = 0o600
				if fi.Mode()&0o100 != 0 {
					mode = 0o700
				}
			}
			return writeFileAtomic(target, data, mode)
		default:
			return fmt.Errorf("%s is not a regular file or directory: refused", p)
		}
	})
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func splitZ(b []byte) []string {
	var out []string
	for _, s := range strings.Split(string(b), "\x00") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
