// Package vault implements "git loop vault": secrets in the personal repo,
// encrypted with git-crypt, delivered to the sandboxes of the loops that
// name the vault and nowhere else.
package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	gvault "github.com/gitloop-dev/git-loop/gitloop/vault"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Options are the inputs shared by the vault commands.
type Options struct {
	IO *iostreams.IOStreams
	// Open returns the personal repo's vault and the default vault name.
	Open func(context.Context) (*gvault.Repo, string, error)
	// ReadSecret reads a value without echo from the terminal (tests
	// replace it).
	ReadSecret func(prompt string) ([]byte, error)
	// SetDefault makes a vault the default (vault.default in the user's
	// settings file): init names its first vault so.
	SetDefault func(ctx context.Context, name string) error

	Verb      string // init, unlock, lock, status, ls, set, get, rm, mount-add, mount-rm, export-key
	Vault     string // --vault
	Arg       string // VAR, KEYFILE, PATH, NAME or FILE
	As        string // mount add --as
	ExportKey string // init --export-key FILE
	JSON      bool
	NoFetch   bool
}

// NewCmdVault builds "git loop vault" and its subcommands; runF replaces
// vaultRun in tests.
func NewCmdVault(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	base := Options{IO: f.IOStreams, Open: openFor(f), ReadSecret: readSecretFor(f.IOStreams), SetDefault: func(_ context.Context, name string) error {
		getenv := func(k string) string { v, _ := f.LookupEnv(k); return v }
		return workspace.SetUserFileDefault(workspace.UserDirsFromEnv(getenv), "vault.default", name)
	}}
	var vaultFlag string
	run := func(verb string, fill func(*Options, []string)) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			opts := base
			opts.Verb = verb
			opts.Vault = vaultFlag
			fill(&opts, args)
			if runF != nil {
				return runF(cmd.Context(), &opts)
			}
			return vaultRun(cmd.Context(), &opts)
		}
	}
	none := func(*Options, []string) {}
	first := func(o *Options, args []string) {
		if len(args) > 0 {
			o.Arg = args[0]
		}
	}
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Keep secrets in your personal repo, encrypted with git-crypt",
		Long: `Keep API keys, tokens, ssh keys and dotfiles in your personal repo,
encrypted with git-crypt, and give them to the loops that name the vault
("git loop new --vault NAME"): each env var to every exec in the loop's
sandbox, each mounted file or directory read-only at $HOME/NAME.

A vault is vaults/NAME/ in the personal repo: envs/VAR holds one variable,
mounts/home/ the files for $HOME. Values are read from stdin or a no-echo
prompt, never from the command line. Every change is committed and pushed.
Nothing is ever pushed unencrypted: a vault file whose staged content is not
git-crypt ciphertext is refused.`,
		Example: `  git loop vault init --export-key ~/vault.key
  printf %s "$TOKEN" | git loop vault set GITHUB_TOKEN --vault work
  git loop vault mount add ~/.ssh/id_ed25519 --as .ssh --vault work
  git loop new fix-login --vault work`,
	}
	cmd.PersistentFlags().StringVar(&vaultFlag, "vault", "", "vault to use (default: vault.default)")
	_ = cmd.RegisterFlagCompletionFunc("vault", CompleteVaultNames(f))

	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Set up git-crypt for vaults/** in the personal repo and export its key",
		Long: `Set up git-crypt in the personal repo: a .gitattributes rule putting
vaults/** under git-crypt (existing lines kept), "git-crypt init", a commit
(pushed), and the symmetric key exported once: written to --export-key FILE
(mode 0600), or printed as base64 on a terminal. Store the key now: a fresh
clone cannot be unlocked without it. A repo that already tracks plaintext
under vaults/ is refused.

Without a default vault yet, init makes the vault "default" the default
(vault.default in your settings file): set, ls, get and new use it without
--vault.`,
		Args: cobra.NoArgs,
		RunE: run("init", none),
	}
	initCmd.Flags().StringVar(&base.ExportKey, "export-key", "", "write the key to `FILE` (mode 0600) instead of printing it")
	cmd.AddCommand(initCmd)

	cmd.AddCommand(&cobra.Command{
		Use:   "unlock [KEYFILE|-]",
		Short: "Decrypt the vaults in the personal repo with the key",
		Long: `Decrypt the vaults in the personal repo's main clone with the key from
KEYFILE, or from stdin with "-" (raw, or the base64 "vault init" printed).`,
		Args: cobra.MaximumNArgs(1),
		RunE: run("unlock", first),
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "lock",
		Short: "Remove the key from the personal repo and re-encrypt its vaults",
		Args:  cobra.NoArgs,
		RunE:  run("lock", none),
	})
	statusCmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the vaults are unlocked, their entry counts, and whether the remote holds only ciphertext",
		Args:  cobra.NoArgs,
		RunE:  run("status", none),
	}
	cmd.AddCommand(statusCmd)
	lsCmd := &cobra.Command{
		Use:   "ls",
		Short: "List a vault's variable and mount names (never values)",
		Long: `List the names of a vault's env vars and mounted entries, never their
values; without --vault and vault.default, list every vault. Works while
locked.`,
		Args: cobra.NoArgs,
		RunE: run("ls", none),
	}
	cmd.AddCommand(lsCmd)
	cmd.AddCommand(&cobra.Command{
		Use:   "set VAR",
		Short: "Store an env var, its value read from stdin or a no-echo prompt",
		Long: `Store the env var VAR in the vault. The value is read from stdin (one
trailing newline dropped) or, on a terminal, from a prompt that does not
echo. A value on the command line is refused: argv is visible to every
process on the host.`,
		Example: `  printf %s "$TOKEN" | git loop vault set GITHUB_TOKEN --vault work
  git loop vault set OPENAI_API_KEY`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmdutil.FlagErrorf("set needs the variable NAME")
			}
			if len(args) > 1 {
				return cmdutil.FlagErrorf("set takes only the variable NAME: the value is read from stdin or a prompt, never from the command line")
			}
			return nil
		},
		RunE: run("set", first),
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "get VAR",
		Short: "Print an env var's value to stdout",
		Args:  cobra.ExactArgs(1),
		RunE:  run("get", first),
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "rm VAR",
		Short: "Remove an env var from the vault",
		Args:  cobra.ExactArgs(1),
		RunE:  run("rm", first),
	})
	mount := &cobra.Command{
		Use:   "mount",
		Short: "Add or remove files mounted read-only at $HOME in the sandbox",
	}
	addCmd := &cobra.Command{
		Use:   "add PATH",
		Short: "Copy a file or directory into the vault, mounted at $HOME/NAME",
		Long: `Copy a file or directory (symlinks refused) into the vault's mounts/home/,
mounted read-only at $HOME/NAME in the sandbox of every loop with this
vault. NAME is --as, else PATH relative to your home when it is in it
(~/.ssh/id_ed25519 lands at $HOME/.ssh/id_ed25519), else PATH's base name.
Each top-level entry (.ssh, .gitconfig) is one read-only bind; ssh keys get
0600 and their directories 0700 at the point of use. With .ssh/id_ed25519
(or .ssh/id) in the vault, the loop's git over ssh uses that key alone.`,
		Example: `  git loop vault mount add ~/.ssh/id_ed25519
  git loop vault mount add ~/.ssh/known_hosts
  git loop vault mount add ./work.gitconfig --as .gitconfig`,
		Args: cobra.ExactArgs(1),
		RunE: run("mount-add", first),
	}
	addCmd.Flags().StringVar(&base.As, "as", "", "path under $HOME, e.g. .ssh/id_ed25519 (default: PATH relative to your home, else its base name)")
	mount.AddCommand(addCmd)
	mount.AddCommand(&cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a mounted entry (e.g. .gitconfig or .ssh/id_ed25519) from the vault",
		Args:  cobra.ExactArgs(1),
		RunE:  run("mount-rm", first),
	})
	cmd.AddCommand(mount)
	cmd.AddCommand(&cobra.Command{
		Use:   "export-key [FILE]",
		Short: "Export the git-crypt key: to FILE (mode 0600), or as base64 on stdout",
		Args:  cobra.MaximumNArgs(1),
		RunE:  run("export-key", first),
	})
	for _, c := range []*cobra.Command{statusCmd, lsCmd} {
		c.Flags().BoolVar(&base.JSON, "json", false, "print JSON")
	}
	statusCmd.Flags().BoolVar(&base.NoFetch, "no-fetch", false, "check the remote as last fetched, without fetching")
	// Flags are parsed into base; run copies it when the command runs.
	return cmd
}

// openFor opens the personal repo's vault without needing a code repo.
func openFor(f *cmdutil.Factory) func(context.Context) (*gvault.Repo, string, error) {
	return func(ctx context.Context) (*gvault.Repo, string, error) {
		cfg, err := f.Config(ctx)
		if err != nil {
			return nil, "", err
		}
		getenv := func(k string) string { v, _ := f.LookupEnv(k); return v }
		ws := &workspace.Workspace{Config: cfg, Dirs: workspace.UserDirsFromEnv(getenv)}
		v, err := sandboxspec.PersonalVault(ws)
		if err != nil {
			return nil, "", err
		}
		v.Log = f.IOStreams.GitLog()
		return v, cfg.VaultDefault(), nil
	}
}

// readSecretFor reads a secret from the terminal without echo.
func readSecretFor(ios *iostreams.IOStreams) func(string) ([]byte, error) {
	return func(prompt string) ([]byte, error) {
		in, ok := ios.In.(*os.File)
		if !ok || !term.IsTerminal(int(in.Fd())) {
			return nil, errors.New("no terminal to prompt on: pipe the value on stdin")
		}
		fmt.Fprint(ios.ErrOut, prompt)
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(ios.ErrOut)
		return b, err
	}
}

func vaultRun(ctx context.Context, opts *Options) error {
	if opts.Verb == "init" && opts.ExportKey == "" && !opts.IO.IsStdoutTTY() {
		return cmdutil.FlagErrorf("vault init prints the key only on a terminal: give --export-key FILE")
	}
	v, def, err := opts.Open(ctx)
	if err != nil {
		return err
	}
	name := opts.Vault
	if name == "" {
		name = def
	}
	needName := func() error {
		if name == "" {
			return cmdutil.FlagErrorf("no vault named: use --vault NAME, or set a default (\"git loop config set --global vault.default NAME\"; \"git loop vault init\" makes %q the default)", gvault.DefaultName)
		}
		return gvault.ValidName(name)
	}
	switch opts.Verb {
	case "init":
		key, err := v.Init(ctx)
		if err != nil {
			return err
		}
		if err := writeKey(opts, key, true); err != nil {
			return err
		}
		if def != "" || opts.SetDefault == nil {
			return nil
		}
		// The first vault is "default", and the default: set, ls, get and
		// new use it without --vault.
		if err := opts.SetDefault(ctx, gvault.DefaultName); err != nil {
			return fmt.Errorf("making %q the default vault: %w (set it yourself: git loop config set --global vault.default %s)", gvault.DefaultName, err, gvault.DefaultName)
		}
		if !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Created the vault %q, the default (vault.default in your settings file): add a variable with \"git loop vault set VAR\"\n", gvault.DefaultName)
		}
		return nil
	case "export-key":
		key, err := v.ExportKey(ctx)
		if err != nil {
			return err
		}
		opts.ExportKey = opts.Arg
		return writeKey(opts, key, false)
	case "unlock":
		var data []byte
		switch opts.Arg {
		case "":
			return cmdutil.FlagErrorf("unlock needs the key: KEYFILE, or \"-\" to read it from stdin")
		case "-":
			data, err = io.ReadAll(io.LimitReader(opts.IO.In, 1<<20))
		default:
			data, err = os.ReadFile(opts.Arg)
		}
		if err != nil {
			return err
		}
		if err := v.Unlock(ctx, data); err != nil {
			return err
		}
		if !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Unlocked the vaults in %s\n", v.Dir)
		}
		return nil
	case "lock":
		if err := v.Lock(ctx); err != nil {
			return err
		}
		if !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Locked the vaults in %s\n", v.Dir)
		}
		return nil
	case "status":
		st, err := v.Status(ctx, !opts.NoFetch)
		if err != nil {
			return err
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, st)
		}
		printStatus(opts.IO, st)
		return nil
	case "ls":
		var list []gvault.Entries
		if name == "" {
			names, err := v.Vaults(ctx)
			if err != nil {
				return err
			}
			for _, n := range names {
				e, err := v.List(ctx, n)
				if err != nil {
					return err
				}
				list = append(list, e)
			}
		} else {
			e, err := v.List(ctx, name)
			if err != nil {
				return err
			}
			list = append(list, e)
			if len(e.Env)+len(e.Mounts) == 0 && !opts.IO.Quiet() {
				fmt.Fprintf(opts.IO.ErrOut, "Vault %s is empty: add a variable with \"git loop vault set VAR\" or a file with \"git loop vault mount add PATH\"\n", name)
			}
		}
		if opts.JSON {
			if list == nil {
				list = []gvault.Entries{}
			}
			return cmdutil.WriteJSON(opts.IO.Out, list)
		}
		for _, e := range list {
			for _, n := range e.Env {
				fmt.Fprintf(opts.IO.Out, "%s\tenv\t%s\n", e.Vault, n)
			}
			for _, n := range e.Mounts {
				fmt.Fprintf(opts.IO.Out, "%s\tmount\t$HOME/%s\n", e.Vault, n)
			}
		}
		return nil
	case "set":
		if err := needName(); err != nil {
			return err
		}
		if err := gvault.ValidVar(opts.Arg); err != nil {
			return err
		}
		val, err := readValue(opts)
		if err != nil {
			return err
		}
		if err := v.Set(ctx, name, opts.Arg, val); err != nil {
			return err
		}
		if !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Set %s in vault %s\n", opts.Arg, name)
		}
		return nil
	case "get":
		if err := needName(); err != nil {
			return err
		}
		val, err := v.Get(ctx, name, opts.Arg)
		if err != nil {
			return err
		}
		if _, err := opts.IO.Out.Write(val); err != nil {
			return err
		}
		if opts.IO.IsStdoutTTY() && !bytes.HasSuffix(val, []byte("\n")) {
			fmt.Fprintln(opts.IO.Out)
		}
		return nil
	case "rm":
		if err := needName(); err != nil {
			return err
		}
		if err := v.Rm(ctx, name, opts.Arg); err != nil {
			return err
		}
		if !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Removed %s from vault %s\n", opts.Arg, name)
		}
		return nil
	case "mount-add":
		if err := needName(); err != nil {
			return err
		}
		src, err := filepath.Abs(opts.Arg)
		if err != nil {
			return err
		}
		as := opts.As
		if as == "" {
			as = defaultMountName(src)
		}
		if err := v.MountAdd(ctx, name, src, as); err != nil {
			return err
		}
		if !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Vault %s mounts %s at $HOME/%s\n", name, src, as)
		}
		return nil
	case "mount-rm":
		if err := needName(); err != nil {
			return err
		}
		if err := v.MountRm(ctx, name, opts.Arg); err != nil {
			return err
		}
		if !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Vault %s no longer mounts $HOME/%s\n", name, opts.Arg)
		}
		return nil
	}
	return fmt.Errorf("vault: unknown command %q", opts.Verb)
}

// defaultMountName is where a mounted PATH lands under $HOME: its path
// relative to the user's home when it is in it (~/.ssh/id_ed25519 →
// .ssh/id_ed25519), else its base name.
func defaultMountName(src string) string {
	if home, err := os.UserHomeDir(); err == nil {
		if real, err := filepath.EvalSymlinks(home); err == nil {
			home = real
		}
		s := src
		if real, err := filepath.EvalSymlinks(filepath.Dir(src)); err == nil {
			s = filepath.Join(real, filepath.Base(src))
		}
		if rel, err := filepath.Rel(home, s); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(src)
}

// readValue reads a secret: a no-echo prompt on a terminal, else stdin
// with one trailing newline dropped.
func readValue(opts *Options) ([]byte, error) {
	if opts.IO.IsStdinTTY() {
		val, err := opts.ReadSecret(fmt.Sprintf("Value for %s (not echoed): ", opts.Arg))
		if err != nil {
			return nil, err
		}
		return val, nil
	}
	val, err := io.ReadAll(io.LimitReader(opts.IO.In, 1<<20+1))
	if err != nil {
		return nil, err
	}
	if len(val) > 1<<20 {
		return nil, errors.New("value longer than 1 MiB: use \"git loop vault mount add\" for files")
	}
	val = bytes.TrimSuffix(val, []byte("\n"))
	val = bytes.TrimSuffix(val, []byte("\r"))
	return val, nil
}

// writeKey writes the key to opts.ExportKey (0600, never overwriting) or
// prints it as base64 on stdout.
func writeKey(opts *Options, key []byte, fromInit bool) error {
	if opts.ExportKey != "" {
		f, err := os.OpenFile(opts.ExportKey, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("export the key: %w", err)
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if !opts.IO.Quiet() {
			fmt.Fprintf(opts.IO.ErrOut, "Wrote the vault key to %s (mode 0600). Keep a copy somewhere safe: without it a fresh clone cannot be unlocked.\n", opts.ExportKey)
		}
		return nil
	}
	if fromInit || opts.IO.IsStdoutTTY() {
		fmt.Fprintln(opts.IO.ErrOut, "Store this vault key now (a password manager is a good place): without it a fresh clone cannot be unlocked. \"git loop vault unlock -\" reads it back.")
	}
	fmt.Fprintln(opts.IO.Out, base64.StdEncoding.EncodeToString(key))
	return nil
}

func printStatus(ios *iostreams.IOStreams, st gvault.Status) {
	w := ios.Out
	state := "locked"
	switch {
	case !st.Initialized:
		state = "not set up (run \"git loop vault init\")"
	case st.Unlocked:
		state = "unlocked"
	}
	fmt.Fprintf(w, "repo:   %s\nstate:  %s\n", st.Repo, state)
	for _, v := range st.Vaults {
		fmt.Fprintf(w, "vault:  %s (%d env, %d mounts)\n", v.Name, v.Env, v.Mounts)
	}
	switch {
	case st.Remote == "":
		fmt.Fprintln(w, "remote: none")
	case st.RemoteError != "":
		fmt.Fprintf(w, "remote: %s not checked: %s\n", st.Remote, st.RemoteError)
	case st.RemoteEncrypted:
		fmt.Fprintf(w, "remote: %s: every vault file is encrypted\n", st.Remote)
	default:
		fmt.Fprintf(w, "remote: %s: UNENCRYPTED vault files: %s\n", st.Remote, strings.Join(st.RemotePlaintext, ", "))
	}
}

// PreCommitHook is the personal repo's pre-commit guard ("git loop hook
// pre-commit", installed by "git loop hooks install"): in the personal
// repo's main clone it refuses staged vault files that are not git-crypt
// ciphertext; anywhere else it does nothing. indexFile is the index the
// commit is made from (git's GIT_INDEX_FILE; empty: the default).
func PreCommitHook(ctx context.Context, f *cmdutil.Factory, indexFile string) error {
	// The personal clone's place does not depend on any setting, so the
	// guard needs no configuration: it runs on every commit there, and
	// costs one git process when no vault file is staged.
	getenv := func(k string) string { v, _ := f.LookupEnv(k); return v }
	personal := workspace.UserDirsFromEnv(getenv).ClonePath(workspace.Personal, "")
	// git runs pre-commit at the top of the worktree being committed.
	if !sameDir(f.Dir, personal) {
		return nil
	}
	var env []string
	if indexFile != "" {
		env = append(env, "GIT_INDEX_FILE="+indexFile)
	}
	return gvault.CheckStaged(ctx, personal, env...)
}

func sameDir(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// CompleteVaultNames completes --vault with the personal repo's vaults.
func CompleteVaultNames(f *cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		v, _, err := openFor(f)(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, _ := v.Vaults(cmd.Context())
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
