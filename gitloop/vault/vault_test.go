package vault_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/vault"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { gittest.Main(m, nil) }

// RequireGitCrypt skips (fails under GIT_LOOP_TEST_REQUIRE) without git-crypt.
func requireGitCrypt(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("git-crypt")
	sandboxtest.Require(t, err, "git-crypt", `install git-crypt ("sudo apt-get install git-crypt")`)
}

// personal makes a bare remote and a clone of it with one commit.
func personal(t *testing.T) (clone, remote string) {
	t.Helper()
	requireGitCrypt(t)
	dir := t.TempDir()
	remote = filepath.Join(dir, "personal.git")
	gittest.Git(t, dir, "init", "-q", "--bare", "-b", "main", remote)
	clone = filepath.Join(dir, "personal")
	gittest.Git(t, dir, "clone", "-q", remote, clone)
	gittest.WriteFile(t, clone, ".gitattributes", "*.md text\n")
	gittest.WriteFile(t, clone, "config.toml", "")
	gittest.Commit(t, clone, "seed")
	gittest.Git(t, clone, "push", "-q", "origin", "main")
	return clone, remote
}

const secret = "s3cr3t-Zq9-value-never-in-git"

func allObjects(t *testing.T, gitDir string) []byte {
	t.Helper()
	cmd := exec.Command("git", "--git-dir", gitDir, "cat-file", "--batch-all-objects", "--batch")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInitSetPushNoPlaintextOnRemote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clone, remote := personal(t)
	r := &vault.Repo{Dir: clone}
	key, err := r.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(key, []byte("\x00GITCRYPTKEY")) {
		t.Fatalf("key does not look like a git-crypt key")
	}
	attrs, _ := os.ReadFile(filepath.Join(clone, ".gitattributes"))
	if !strings.HasPrefix(string(attrs), "*.md text\n") || !strings.Contains(string(attrs), "vaults/** filter=git-crypt") {
		t.Errorf(".gitattributes = %q", attrs)
	}
	if _, err := r.Init(ctx); err == nil {
		t.Errorf("second init succeeded")
	}
	if err := r.Set(ctx, "work", "API_TOKEN", []byte(secret)); err != nil {
		t.Fatal(err)
	}
	sshDir := filepath.Join(t.TempDir(), ".ssh")
	gittest.WriteFile(t, sshDir, "id_ed25519", "PRIVATE-"+secret)
	if err := r.MountAdd(ctx, "work", sshDir, ""); err != nil {
		t.Fatal(err)
	}
	if err := r.Set(ctx, "other", "OTHER", []byte("other-value")); err != nil {
		t.Fatal(err)
	}
	// Every object on the remote: the secret's bytes appear in none.
	objs := allObjects(t, remote)
	if bytes.Contains(objs, []byte(secret)) {
		t.Fatalf("the secret is on the remote in plaintext")
	}
	st, err := r.Status(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if !st.RemoteChecked || !st.RemoteEncrypted || !st.Unlocked || len(st.Vaults) != 2 {
		t.Errorf("status = %+v", st)
	}
	// The vault blobs on the remote start with the git-crypt header.
	tree := gittest.Git(t, remote, "ls-tree", "-r", "main", "--", "vaults")
	n := 0
	for _, line := range strings.Split(tree, "\n") {
		f := strings.Fields(line)
		blob := gittest.Git(t, remote, "cat-file", "blob", f[2])
		if !strings.HasPrefix(blob, vault.Header) {
			t.Errorf("%s is not encrypted on the remote", f[3])
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d vault blobs on the remote, want 3:\n%s", n, tree)
	}
	e, err := r.List(ctx, "work")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(e.Env, ",") != "API_TOKEN" || strings.Join(e.Mounts, ",") != ".ssh" {
		t.Errorf("list = %+v", e)
	}

	// A fresh clone elsewhere: names without the key, values with it.
	other := filepath.Join(t.TempDir(), "elsewhere")
	gittest.Git(t, filepath.Dir(other), "clone", "-q", remote, other)
	o := &vault.Repo{Dir: other}
	if o.Unlocked() || !o.Initialized() {
		t.Fatalf("fresh clone: unlocked=%v initialized=%v", o.Unlocked(), o.Initialized())
	}
	e2, err := o.List(ctx, "work")
	if err != nil || strings.Join(e2.Env, ",") != "API_TOKEN" {
		t.Errorf("locked list = %+v, %v", e2, err)
	}
	_, err = o.Get(ctx, "work", "API_TOKEN")
	var le *vault.LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "git loop vault unlock") {
		t.Errorf("locked get: %v", err)
	}
	if _, err := o.Env(ctx, "work"); !errors.As(err, &le) {
		t.Errorf("locked env: %v", err)
	}
	b64 := []byte(base64Encode(key) + "\n")
	if err := o.Unlock(ctx, b64); err != nil {
		t.Fatal(err)
	}
	got, err := o.Get(ctx, "work", "API_TOKEN")
	if err != nil || string(got) != secret {
		t.Errorf("get after unlock = %q, %v", got, err)
	}
	env, err := o.Env(ctx, "work")
	if err != nil || len(env) != 1 || env["API_TOKEN"] != secret {
		t.Errorf("env = %d vars, %v", len(env), err)
	}
	ms, err := o.Mounts(ctx, "work")
	if err != nil || len(ms) != 1 || ms[0].Name != ".ssh" {
		t.Fatalf("mounts = %+v, %v", ms, err)
	}
	if data, _ := os.ReadFile(filepath.Join(ms[0].Path, "id_ed25519")); string(data) != "PRIVATE-"+secret {
		t.Errorf("mounted key = %q", data)
	}

	// A concurrent change: the first clone's next push merges and retries.
	if err := o.Set(ctx, "work", "SECOND", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := r.Rm(ctx, "work", "API_TOKEN"); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, other, "pull", "-q", "--no-rebase")
	e3, _ := o.List(ctx, "work")
	if strings.Join(e3.Env, ",") != "SECOND" {
		t.Errorf("after concurrent set and rm: %+v", e3)
	}
	if err := o.MountRm(ctx, "work", ".ssh"); err != nil {
		t.Fatal(err)
	}
	// A dirty checkout (loops write memory/): lock says what to do.
	gittest.WriteFile(t, other, "config.toml", "dirty = true\n")
	if err := o.Lock(ctx); err == nil || !strings.Contains(err.Error(), "config.toml") || !strings.Contains(err.Error(), "commit") {
		t.Errorf("lock with a dirty checkout: %v", err)
	}
	gittest.Git(t, other, "checkout", "--", "config.toml")
	if err := o.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if o.Unlocked() {
		t.Errorf("still unlocked after lock")
	}
	if bytes.Contains(allObjects(t, remote), []byte(secret)) {
		t.Fatalf("the secret is on the remote in plaintext")
	}
}

func base64Encode(b []byte) string {
	var buf bytes.Buffer
	enc := newB64(&buf)
	_, _ = enc.Write(b)
	_ = enc.Close()
	return buf.String()
}

func TestInitRefusesTrackedPlaintext(t *testing.T) {
	t.Parallel()
	clone, _ := personal(t)
	gittest.WriteFile(t, clone, "vaults/x/envs/A", "plain")
	gittest.Commit(t, clone, "oops")
	if _, err := (&vault.Repo{Dir: clone}).Init(context.Background()); err == nil || !strings.Contains(err.Error(), "plaintext") {
		t.Errorf("init over tracked plaintext: %v", err)
	}
}

func TestNamesAndEscapesRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clone, _ := personal(t)
	r := &vault.Repo{Dir: clone}
	if _, err := r.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../x", "..", "a/b", "", ".hidden", "x..y"} {
		if err := r.Set(ctx, name, "A", []byte("v")); err == nil {
			t.Errorf("vault name %q accepted", name)
		}
	}
	for _, v := range []string{"../x", "A=B", "1A", "A B", ""} {
		if err := r.Set(ctx, "work", v, []byte("v")); err == nil {
			t.Errorf("variable %q accepted", v)
		}
	}
	for _, as := range []string{"../x", "..", "a//b", "/abs", "a/../b", "a/", ".ssh/.."} {
		if err := r.MountAdd(ctx, "work", clone+"/config.toml", as); err == nil {
			t.Errorf("mount name %q accepted", as)
		}
	}
	// A nested name lands in a top-level entry.
	if err := r.MountAdd(ctx, "work", clone+"/config.toml", ".ssh/id_ed25519"); err != nil {
		t.Fatal(err)
	}
	if e, _ := r.List(ctx, "work"); strings.Join(e.Mounts, ",") != ".ssh" {
		t.Errorf("mounts after a nested add: %v", e.Mounts)
	}
	if err := r.MountRm(ctx, "work", ".ssh/id_ed25519"); err != nil {
		t.Fatal(err)
	}
	// A symlink in the source is refused at add.
	src := t.TempDir()
	gittest.WriteFile(t, src, "d/f", "x")
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "d", "link")); err != nil {
		t.Fatal(err)
	}
	if err := r.MountAdd(ctx, "work", filepath.Join(src, "d"), ""); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("mount add with a symlink: %v", err)
	}
	// Symlinks planted in the vault (by hand, or a hostile commit) are
	// refused at the point of use.
	if err := r.Set(ctx, "work", "A", []byte("v")); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(clone, "vaults", "work", "mounts", "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(home, ".config")); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, clone, "add", "vaults")
	gittest.Git(t, clone, "commit", "-q", "-m", "planted")
	if _, err := r.Mounts(ctx, "work"); err == nil || !strings.Contains(err.Error(), "leaves the vault") && !strings.Contains(err.Error(), "symlink") {
		t.Errorf("mounts with a symlink out: %v", err)
	}
	// A vault dir itself a symlink out of vaults/.
	if err := os.Symlink(t.TempDir(), filepath.Join(clone, "vaults", "evil")); err != nil {
		t.Fatal(err)
	}
	if err := r.Set(ctx, "evil", "A", []byte("v")); err == nil || !strings.Contains(err.Error(), "leaves the vault") {
		t.Errorf("set through a symlinked vault: %v", err)
	}
}

func TestGuardBlocksPlaintext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clone, _ := personal(t)
	r := &vault.Repo{Dir: clone}
	if _, err := r.Init(ctx); err != nil {
		t.Fatal(err)
	}
	// Encrypted staging passes.
	gittest.WriteFile(t, clone, "vaults/work/envs/OK", "fine")
	gittest.Git(t, clone, "add", "vaults")
	if err := vault.CheckStaged(ctx, clone); err != nil {
		t.Fatalf("guard on encrypted blob: %v", err)
	}
	gittest.Git(t, clone, "commit", "-q", "-m", "ok")
	// The filter not active: staged without git-crypt.
	gittest.WriteFile(t, clone, "vaults/work/envs/LEAK", secret)
	gittest.Git(t, clone, "-c", "filter.git-crypt.clean=cat", "-c", "filter.git-crypt.required=false", "add", "vaults/work/envs/LEAK")
	err := vault.CheckStaged(ctx, clone)
	var pe *vault.PlaintextError
	if !errors.As(err, &pe) || len(pe.Paths) != 1 || pe.Paths[0] != "vaults/work/envs/LEAK" {
		t.Errorf("guard = %v", err)
	}
}

func TestLinkedWorktreeRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clone, _ := personal(t)
	r := &vault.Repo{Dir: clone}
	if _, err := r.Init(ctx); err != nil {
		t.Fatal(err)
	}
	wt := filepath.Join(t.TempDir(), "wt")
	gittest.Git(t, clone, "worktree", "add", "-q", "--detach", wt)
	w := &vault.Repo{Dir: wt}
	if err := w.Set(ctx, "work", "A", []byte("v")); err == nil || !strings.Contains(err.Error(), "main clone") {
		t.Errorf("set in a linked worktree: %v", err)
	}
	if _, err := w.Env(ctx, "work"); err == nil {
		t.Errorf("env from a linked worktree succeeded")
	}
}

// Secrets: every variable's value (trimmed), none shorter than
// MinSecretLen, the base64 lines of a private key among the mounts, and a
// LockedError while locked.
func TestSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clone, _ := personal(t)
	r := &vault.Repo{Dir: clone}
	if got, err := r.Secrets(ctx); err != nil || len(got) != 0 {
		t.Fatalf("no vaults: %v %v", got, err)
	}
	if _, err := r.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for v, val := range map[string]string{"LONG": "  " + secret + "\n", "SHORT": "1234567"} {
		if err := r.Set(ctx, "work", v, []byte(val)); err != nil {
			t.Fatal(err)
		}
	}
	keyLine := "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
	src := t.TempDir()
	gittest.WriteFile(t, src, ".ssh/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\n"+keyLine+"\nshort\n-----END OPENSSH PRIVATE KEY-----\n")
	gittest.WriteFile(t, src, ".ssh/config", "Host example\n  User someone-long-enough\n")
	if err := r.MountAdd(ctx, "other", filepath.Join(src, ".ssh"), ""); err != nil {
		t.Fatal(err)
	}
	got, err := r.Secrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Name+"="+string(s.Value))
	}
	want := []string{"other/mounts/home/.ssh/id_ed25519=" + keyLine, "work/LONG=" + secret}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("secrets:\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if err := r.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	var le *vault.LockedError
	if _, err := r.Secrets(ctx); !errors.As(err, &le) {
		t.Errorf("locked: %v", err)
	}
}
