package vault_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	cmdvault "github.com/gitloop-dev/git-loop/cmd/internal/vault"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { gittest.Main(m, nil) }

const secret = "tok-9f8e7d-never-printed"

// setup runs "git loop init" with its own GIT_LOOP_HOME and returns the
// options, the repo and the personal origin.
func setup(t *testing.T) (cmdtest.Options, string, string) {
	t.Helper()
	_, err := exec.LookPath("git-crypt")
	sandboxtest.Require(t, err, "git-crypt", `install git-crypt ("sudo apt-get install git-crypt")`)
	repo := gittest.Repo(t)
	home := t.TempDir()
	o := cmdtest.Options{Env: map[string]string{"GIT_LOOP_HOME": home}}
	run(t, repo, o, "init")
	return o, repo, filepath.Join(home, "data", "origins", "personal.git")
}

func run(t *testing.T, dir string, o cmdtest.Options, args ...string) cmdtest.Result {
	t.Helper()
	r := cmdtest.RunWith(t, dir, o, args...)
	if r.Code != 0 {
		t.Fatalf("git loop %v: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

func TestVaultCommands(t *testing.T) {
	t.Parallel()
	o, repo, origin := setup(t)
	if r := cmdtest.RunWith(t, repo, o, "vault", "init"); r.Code != 2 || !strings.Contains(r.Stderr, "--export-key") {
		t.Errorf("init without a terminal or --export-key: exit %d\n%s", r.Code, r.Stderr)
	}
	keyFile := filepath.Join(t.TempDir(), "vault.key")
	// init makes the vault "default" the default: ls, set and get use
	// it without --vault.
	if r := run(t, repo, o, "vault", "init", "--export-key", keyFile); !strings.Contains(r.Stderr, `Created the vault "default"`) {
		t.Errorf("vault init: %s", r.Stderr)
	}
	if r := run(t, repo, o, "vault", "ls"); !strings.Contains(r.Stderr, "Vault default is empty") {
		t.Errorf("vault ls of the empty default: %s", r.Stderr)
	}
	if r := run(t, repo, o, "config", "get", "vault.default"); r.Stdout != "default\n" {
		t.Errorf("vault.default after init: %q", r.Stdout)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}

	// A value in argv is impossible.
	if r := cmdtest.RunWith(t, repo, o, "vault", "set", "API_TOKEN", secret, "--vault", "work"); r.Code != 2 || strings.Contains(r.Stdout+r.Stderr, secret) {
		t.Errorf("set with a value in argv: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	so := o
	so.Stdin = secret + "\n"
	r := run(t, repo, so, "vault", "set", "API_TOKEN", "--vault", "work")
	if strings.Contains(r.Stdout+r.Stderr, secret) {
		t.Errorf("set printed the value")
	}
	if r := cmdtest.RunWith(t, repo, so, "vault", "set", "../x", "--vault", "work"); r.Code == 0 {
		t.Errorf("set ../x succeeded")
	}
	if r := cmdtest.RunWith(t, repo, so, "vault", "set", "X", "--vault", "../x"); r.Code == 0 {
		t.Errorf("set in vault ../x succeeded")
	}
	dot := filepath.Join(t.TempDir(), ".gitconfig")
	if err := os.WriteFile(dot, []byte("[user]\n\tname = In Vault\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, repo, o, "vault", "mount", "add", dot, "--vault", "work")
	// A path in the user's home keeps its place under $HOME.
	home, _ := os.UserHomeDir()
	key := filepath.Join(home, ".ssh", "id_"+filepath.Base(t.TempDir()))
	gittest.WriteFile(t, filepath.Dir(key), filepath.Base(key), "key")
	run(t, repo, o, "vault", "mount", "add", key, "--vault", "work")
	if r := run(t, repo, o, "vault", "ls", "--vault", "work"); !strings.Contains(r.Stdout, "$HOME/.ssh\n") {
		t.Errorf("ls after mount add ~/.ssh/KEY: %s", r.Stdout)
	}
	run(t, repo, o, "vault", "mount", "rm", ".ssh/"+filepath.Base(key), "--vault", "work")

	// Names, never values.
	for _, args := range [][]string{
		{"vault", "ls", "--vault", "work"},
		{"vault", "ls", "--vault", "work", "--json"},
		{"vault", "status"},
		{"vault", "status", "--json"},
	} {
		r := run(t, repo, o, args...)
		if strings.Contains(r.Stdout+r.Stderr, secret) {
			t.Errorf("%v printed the value", args)
		}
		if args[1] == "ls" && !strings.Contains(r.Stdout, "API_TOKEN") {
			t.Errorf("%v: %s", args, r.Stdout)
		}
		if args[1] == "status" && !strings.Contains(r.Stdout, "unlocked") {
			t.Errorf("%v: %s", args, r.Stdout)
		}
	}
	if r := run(t, repo, o, "vault", "status", "--json"); !strings.Contains(r.Stdout, `"remoteEncrypted": true`) {
		t.Errorf("status --json: %s", r.Stdout)
	}
	if r := run(t, repo, o, "vault", "get", "API_TOKEN", "--vault", "work"); r.Stdout != secret {
		t.Errorf("get = %q", r.Stdout)
	}
	// The remote holds no plaintext.
	out, err := exec.Command("git", "--git-dir", origin, "cat-file", "--batch-all-objects", "--batch").Output()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(secret)) || bytes.Contains(out, []byte("In Vault")) {
		t.Fatalf("plaintext on the remote")
	}

	// --vault completes the vault names, for vault commands and new.
	for _, args := range [][]string{{"__complete", "vault", "ls", "--vault", ""}, {"__complete", "new", "x", "--vault", ""}} {
		if r := run(t, repo, o, args...); !strings.HasPrefix(r.Stdout, "work\n") {
			t.Errorf("%v: %q", args, r.Stdout)
		}
	}
	// Locked: names still listed, values refused with how to unlock.
	run(t, repo, o, "vault", "lock")
	if r := run(t, repo, o, "vault", "ls", "--vault", "work"); !strings.Contains(r.Stdout, "API_TOKEN") || !strings.Contains(r.Stdout, "$HOME/.gitconfig") {
		t.Errorf("ls while locked: %s", r.Stdout)
	}
	if r := cmdtest.RunWith(t, repo, o, "vault", "get", "API_TOKEN", "--vault", "work"); r.Code == 0 || !strings.Contains(r.Stderr, "git loop vault unlock") || strings.Contains(r.Stdout, secret) {
		t.Errorf("get while locked: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// Unlock with the base64 key on stdin.
	raw, _ := os.ReadFile(keyFile)
	uo := o
	uo.Stdin = base64.StdEncoding.EncodeToString(raw) + "\n"
	run(t, repo, uo, "vault", "unlock", "-")
	if r := run(t, repo, o, "vault", "get", "API_TOKEN", "--vault", "work"); r.Stdout != secret {
		t.Errorf("get after unlock = %q", r.Stdout)
	}
	// export-key round-trips.
	k2 := filepath.Join(t.TempDir(), "k2")
	run(t, repo, o, "vault", "export-key", k2)
	if b, _ := os.ReadFile(k2); !bytes.Equal(b, raw) {
		t.Errorf("export-key differs from the init key")
	}
	// A raw key file unlocks too.
	run(t, repo, o, "vault", "lock")
	run(t, repo, o, "vault", "unlock", k2)
	run(t, repo, o, "vault", "rm", "API_TOKEN", "--vault", "work")
	run(t, repo, o, "vault", "mount", "rm", ".gitconfig", "--vault", "work")
	if r := run(t, repo, o, "vault", "ls", "--vault", "work", "--json"); strings.Contains(r.Stdout, "API_TOKEN") || strings.Contains(r.Stdout, ".gitconfig") {
		t.Errorf("after rm: %s", r.Stdout)
	}
	// The default vault from config.
	do := cmdtest.Options{Env: map[string]string{"GIT_LOOP_HOME": o.Env["GIT_LOOP_HOME"], "GIT_LOOP_VAULT_DEFAULT": "work"}, Stdin: "v2"}
	run(t, repo, do, "vault", "set", "SECOND")
	if r := run(t, repo, do, "vault", "get", "SECOND"); r.Stdout != "v2" {
		t.Errorf("get from the default vault = %q", r.Stdout)
	}
}

// TestSetPromptsWithoutEcho covers the terminal path with a fake reader.
func TestSetPromptsWithoutEcho(t *testing.T) {
	t.Parallel()
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdinTTY(true)
	f := &cmdutil.Factory{IOStreams: ios, LookupEnv: os.LookupEnv}
	var got *cmdvault.Options
	cmd := cmdvault.NewCmdVault(f, func(_ context.Context, o *cmdvault.Options) error { got = o; return nil })
	cmd.SetArgs([]string{"set", "TOKEN", "--vault", "w"})
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Verb != "set" || got.Arg != "TOKEN" || got.Vault != "w" {
		t.Fatalf("options = %+v", got)
	}
	cmd = cmdvault.NewCmdVault(f, func(context.Context, *cmdvault.Options) error { return nil })
	cmd.SetArgs([]string{"set", "TOKEN", "value"})
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "never from the command line") {
		t.Errorf("set with a value: %v", err)
	}
}

// TestInitPrintsKeyOnTerminal: on a terminal the key is printed once as
// base64 with a "store this now" message, and unlocks a locked clone.
func TestInitPrintsKeyOnTerminal(t *testing.T) {
	t.Parallel()
	o, repo, _ := setup(t)
	to := o
	to.TTY = true
	r := run(t, repo, to, "vault", "init")
	if !strings.Contains(r.Stderr, "Store this vault key now") {
		t.Errorf("no store-this message:\n%s", r.Stderr)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Stdout))
	if err != nil || !bytes.HasPrefix(key, []byte("\x00GITCRYPTKEY")) {
		t.Fatalf("stdout is not a base64 git-crypt key: %q", r.Stdout)
	}
	run(t, repo, o, "vault", "lock")
	uo := o
	uo.Stdin = r.Stdout
	run(t, repo, uo, "vault", "unlock", "-")
	if r := run(t, repo, o, "vault", "status", "--json", "--no-fetch"); !strings.Contains(r.Stdout, `"unlocked": true`) {
		t.Errorf("status after unlock: %s", r.Stdout)
	}
}

// TestPreCommitHook: "git loop hook pre-commit" in the personal repo
// refuses a vault file staged without encryption (the filter not active),
// passes encrypted ones, and ignores other repositories.
func TestPreCommitHook(t *testing.T) {
	t.Parallel()
	o, repo, _ := setup(t)
	run(t, repo, o, "vault", "init", "--export-key", filepath.Join(t.TempDir(), "k"))
	personal := filepath.Join(o.Env["GIT_LOOP_HOME"], "data", "personal")
	gittest.WriteFile(t, personal, "vaults/work/envs/OK", "fine")
	gittest.Git(t, personal, "add", "vaults/work/envs/OK")
	run(t, personal, o, "hook", "pre-commit")
	gittest.WriteFile(t, personal, "vaults/work/envs/LEAK", secret)
	gittest.Git(t, personal, "-c", "filter.git-crypt.clean=cat", "-c", "filter.git-crypt.required=false", "add", "vaults/work/envs/LEAK")
	r := cmdtest.RunWith(t, personal, o, "hook", "pre-commit")
	if r.Code == 0 || !strings.Contains(r.Stderr, "vaults/work/envs/LEAK") || strings.Contains(r.Stderr, "vaults/work/envs/OK") {
		t.Errorf("hook pre-commit with a plaintext vault file: exit %d\n%s", r.Code, r.Stderr)
	}
	// A code repo with its own vaults/ dir is not the personal repo.
	gittest.WriteFile(t, repo, "vaults/x", "not a secret")
	gittest.Git(t, repo, "add", "vaults/x")
	run(t, repo, o, "hook", "pre-commit")
}
