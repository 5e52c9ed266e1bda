// Package completion implements "git loop completion".
package completion

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
)

// BashGitGlue makes "git loop <TAB>" complete: git's bash completion calls
// _git_loop for the "loop" subcommand, which hands over to cobra's
// completion of git-loop.
const BashGitGlue = `
# git's completion calls _git_<subcommand> for "git <subcommand>".
_git_loop() {
	local cur prev words cword
	_get_comp_words_by_ref -n =: cur prev words cword 2>/dev/null || true
	# Rewrite "git loop ..." as "git-loop ..." and reuse git-loop's completion.
	COMP_WORDS=("git-loop" "${COMP_WORDS[@]:2}")
	COMP_CWORD=$((COMP_CWORD - 1))
	COMP_LINE="git-loop ${COMP_LINE#*loop}"
	COMP_POINT=${#COMP_LINE}
	__start_git-loop
}
`

// NewCmdCompletion builds the command.
func NewCmdCompletion(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script for a shell. The bash script also completes
"git loop ..." through git's own completion.

  bash:  git loop completion bash > ~/.local/share/bash-completion/completions/git-loop
  zsh:   git loop completion zsh > "${fpath[1]}/_git-loop"
  fish:  git loop completion fish > ~/.config/fish/completions/git-loop.fish`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.FlagErrorf("completion needs one shell: bash, zsh, fish or powershell")
			}
			return cobra.OnlyValidArgs(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return Write(cmd.Root(), args[0], f.IOStreams.Out)
		},
	}
	return cmd
}

// Write writes the completion script of root for shell.
func Write(root *cobra.Command, shell string, w io.Writer) error {
	switch shell {
	case "bash":
		if err := root.GenBashCompletionV2(w, true); err != nil {
			return err
		}
		_, err := io.WriteString(w, BashGitGlue)
		return err
	case "zsh":
		return root.GenZshCompletion(w)
	case "fish":
		return root.GenFishCompletion(w, true)
	case "powershell":
		return root.GenPowerShellCompletionWithDesc(w)
	}
	return fmt.Errorf("unknown shell %q", shell)
}
