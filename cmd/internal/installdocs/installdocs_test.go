package installdocs_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/installdocs"
)

func TestNewCmdInstallDocs(t *testing.T) {
	type O = installdocs.Options
	cmdtest.TestArgs(t, func(f *cmdutil.Factory, runF func(context.Context, *O) error) *cobra.Command {
		return installdocs.NewCmdInstallDocs(f, nil, runF)
	}, func(o *O) { o.IO, o.NewRoot, o.Now = nil, nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "a prefix", Args: []string{"--prefix", "/opt/x"}, Want: O{Prefix: "/opt/x"}},
		{Name: "an argument", Args: []string{"x"}, WantErr: `unknown command "x"`},
	})
}

// TestInstallDocs runs the real binary the way a "go install" user would:
// afterwards man finds the page git help loop asks for, and each shell's
// completion file is where that shell looks.
func TestInstallDocs(t *testing.T) {
	prefix := t.TempDir()
	r := cmdtest.Run(t, t.TempDir(), "install-docs", "--prefix", prefix)
	if r.Code != 0 {
		t.Fatalf("install-docs: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, f := range []string{"share/man/man1/git-loop.1", "share/man/man1/git-loop-new.1", "share/man/man1/git-loop-install-docs.1",
		"share/bash-completion/completions/git-loop", "share/zsh/site-functions/_git-loop", "share/fish/vendor_completions.d/git-loop.fish"} {
		if fi, err := os.Stat(filepath.Join(prefix, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := exec.LookPath("man"); err == nil {
		cmd := exec.Command("man", "-w", "git-loop")
		cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(prefix, "share", "man"))
		out, err := cmd.Output()
		if err != nil || !strings.HasPrefix(string(out), prefix) {
			t.Errorf("man -w git-loop with MANPATH at the prefix = %q, %v", out, err)
		}
	}
	if r := cmdtest.Run(t, t.TempDir(), "install-docs", "--prefix", prefix); r.Code != 0 {
		t.Errorf("a second install-docs: exit %d\n%s", r.Code, r.Stderr)
	}
}
