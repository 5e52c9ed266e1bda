// Package completion implements "git loop completion".
package completion

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
)

// BashGitGlue makes "git loop <TAB>" complete: git's bash completion calls
// _git_loop for the "loop" subcommand (loading this file as the completion
// of "git-loop" if needed), which hands over to cobra's completion of
// git-loop. It reads the words git's completion has already split (words,
// cword, cur, and __git_cmd_idx: where "loop" is), so "git -C DIR loop"
// and options before "loop" work; "git -C DIR" becomes git-loop's own -C.
const BashGitGlue = `
# git's completion calls _git_<subcommand> for "git <subcommand>": complete
# "git [OPTIONS] loop ARGS" as "git-loop [-C DIR] ARGS".
_git_loop() {
	local i idx=${__git_cmd_idx-}
	if [ -z "$idx" ]; then
		# git before 2.30 does not say where the subcommand is.
		for ((i = 1; i < cword; i++)); do
			if [ "${words[i]}" = loop ]; then idx=$i; break; fi
		done
	fi
	[ -n "$idx" ] || return
	local -a COMP_WORDS=(git-loop ${__git_C_args[@]+"${__git_C_args[@]}"}
		"${words[@]:idx+1:cword-idx-1}" "$cur")
	local COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	local COMP_LINE
	printf -v COMP_LINE '%s ' "${COMP_WORDS[@]}"
	COMP_LINE=${COMP_LINE% }
	local COMP_POINT=${#COMP_LINE}
	# git registers its completion with -o nospace; git-loop's own
	# completion asks for nospace when it needs it.
	compopt +o nospace 2>/dev/null
	__start_git-loop
}
`

// zshDescription is the second line of the zsh script: zsh's git
// completion (_git) reads it to describe "loop" among git's commands.
const zshDescription = "#description run AI coding agents in loops"

// zshRequest is where cobra's zsh script builds the command it asks for
// completions: it runs the first word. zsh's git completion calls
// _git-loop for "git [OPTIONS] loop ARGS" with the words from "loop" on
// (and $service set to git), so the first word is "loop", which is no
// command; zshGitGlue asks git-loop instead, passing on git's -C.
const zshRequest = `    requestComp="${words[1]} __complete ${words[2,-1]}"`

const zshGitGlue = `    if [[ $service == git ]]; then
        # Called by zsh's git completion for "git [OPTIONS] loop ARGS":
        # words start at "loop"; complete "git-loop [-C DIR] ARGS".
        local -a gitC
        (( ${+opt_args[-C]} )) && gitC=(-C "${opt_args[-C]}")
        words=(git-loop "${gitC[@]}" "${(@)words[2,-1]}")
    fi
`

// CompletionOptions are the inputs of "git loop completion".
type CompletionOptions struct {
	IO    *iostreams.IOStreams
	Shell string
	// Root is the command tree the script completes.
	Root *cobra.Command
}

// NewCmdCompletion builds the command; runF replaces completionRun in
// tests.
func NewCmdCompletion(f *cmdutil.Factory, runF func(context.Context, *CompletionOptions) error) *cobra.Command {
	opts := &CompletionOptions{IO: f.IOStreams}
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
			opts.Shell, opts.Root = args[0], cmd.Root()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return completionRun(opts)
		},
	}
	return cmd
}

func completionRun(opts *CompletionOptions) error {
	return Write(opts.Root, opts.Shell, opts.IO.Out)
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
		return writeZsh(root, w)
	case "fish":
		return root.GenFishCompletion(w, true)
	case "powershell":
		return root.GenPowerShellCompletionWithDesc(w)
	}
	return fmt.Errorf("unknown shell %q", shell)
}

// writeZsh writes cobra's zsh completion with the glue that makes it
// work for "git loop …" through zsh's git completion too.
func writeZsh(root *cobra.Command, w io.Writer) error {
	var buf bytes.Buffer
	if err := root.GenZshCompletion(&buf); err != nil {
		return err
	}
	script := buf.String()
	// The file starts "#compdef git-loop" (compinit reads that line);
	// the description goes on the line after it.
	first, rest, ok := strings.Cut(script, "\n")
	if !ok || !strings.HasPrefix(first, "#compdef ") || !strings.Contains(rest, zshRequest+"\n") {
		return fmt.Errorf("zsh completion: cobra's script changed shape; update the git glue in %s", "cmd/internal/completion")
	}
	rest = strings.Replace(rest, zshRequest+"\n", zshGitGlue+zshRequest+"\n", 1)
	_, err := io.WriteString(w, first+"\n"+zshDescription+"\n"+rest)
	return err
}
