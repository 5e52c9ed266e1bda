// Package installdocs implements "git loop install-docs": the man pages
// and shell completions for a binary installed without them (go install,
// a copied release binary). git turns "git loop --help" into "git help
// loop", which reads the man page: without one it says only "No manual
// entry for git-loop".
package installdocs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/completion"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/man"
)

// Options are the inputs of "git loop install-docs".
type Options struct {
	IO      *iostreams.IOStreams
	Prefix  string
	NewRoot func() *cobra.Command
	Now     func() time.Time
}

// NewCmdInstallDocs builds the command. newRoot builds the command tree
// the completions are written from (the man pages are the ones gen-docs
// rendered from it, embedded); runF replaces run in tests.
func NewCmdInstallDocs(f *cmdutil.Factory, newRoot func() *cobra.Command, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, NewRoot: newRoot, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "install-docs",
		Short: "Install the man pages and shell completions for this binary",
		Long: `Write git loop's man pages and its bash, zsh and fish completions under a
prefix: PREFIX/share/man/man1, and the directories each shell reads its
completions from. Release packages and install.sh do this already; run it
after "go install", so that "git loop --help" (which git turns into
"git help loop") finds its page. It is safe to run again: it rewrites the
files it owns.

The prefix is ~/.local, or /usr/local as root.`,
		Example: `  git loop install-docs
  sudo git loop install-docs --prefix /usr/local`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Prefix == "" {
				p, err := defaultPrefix()
				if err != nil {
					return err
				}
				opts.Prefix = p
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "install under `DIR` (default ~/.local, or /usr/local as root)")
	return cmd
}

func defaultPrefix() (string, error) {
	if os.Geteuid() == 0 {
		return "/usr/local", nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("install-docs: no home directory to install into (%w): pass --prefix DIR", err)
	}
	return filepath.Join(home, ".local"), nil
}

// completionFiles are where each shell looks for git-loop's completion
// under a prefix.
var completionFiles = []struct{ shell, path string }{
	{"bash", "share/bash-completion/completions/git-loop"},
	{"zsh", "share/zsh/site-functions/_git-loop"},
	{"fish", "share/fish/vendor_completions.d/git-loop.fish"},
}

func run(opts *Options) error {
	prefix, err := filepath.Abs(opts.Prefix)
	if err != nil {
		return fmt.Errorf("install-docs: %w", err)
	}
	manDir := filepath.Join(prefix, "share", "man", "man1")
	// The pages gen-docs rendered from this tree, embedded: rendering them
	// here would link the markdown renderer into every git-loop process.
	if err := man.Write(manDir, opts.Now().UTC()); err != nil {
		return fmt.Errorf("install-docs: %s: %w", manDir, err)
	}
	compRoot := opts.NewRoot()
	for _, c := range completionFiles {
		var buf bytes.Buffer
		if err := completion.Write(compRoot, c.shell, &buf); err != nil {
			return fmt.Errorf("install-docs: %s completion: %w", c.shell, err)
		}
		path := filepath.Join(prefix, c.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("install-docs: %w", err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("install-docs: %w", err)
		}
	}
	fmt.Fprintf(opts.IO.Out, "Installed man pages in %s and bash, zsh and fish completions under %s/share\n", manDir, prefix)
	if !manFinds(prefix) {
		fmt.Fprintf(opts.IO.ErrOut, "man does not look in %s yet: add it to MANPATH, e.g. export MANPATH=\"%s:$MANPATH\"\n",
			filepath.Join(prefix, "share", "man"), filepath.Join(prefix, "share", "man"))
	}
	return nil
}

// manFinds reports whether man now resolves git-loop to the page under
// prefix. Without a man program there is nothing to advise.
func manFinds(prefix string) bool {
	if _, err := exec.LookPath("man"); err != nil {
		return true
	}
	out, err := exec.Command("man", "-w", "git-loop").Output()
	if err != nil {
		return false
	}
	return bytes.HasPrefix(bytes.TrimSpace(out), []byte(filepath.Join(prefix, "share", "man")))
}
