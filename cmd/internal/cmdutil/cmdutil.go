package cmdutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/session"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// ExactLoopName accepts exactly one argument, a loop name.
func ExactLoopName(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return FlagErrorf("%s needs exactly one loop NAME (see \"git loop ls\")", cmd.CommandPath())
	}
	return nil
}

// CompleteLoopNames completes the first argument with existing loops.
func CompleteLoopNames(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		// Completion runs no PersistentPreRunE, where -C takes effect:
		// honour it here, so "git -C DIR loop rm <TAB>" and
		// "git-loop -C DIR rm <TAB>" complete DIR's loops.
		if dir, _ := cmd.Flags().GetString("directory"); dir != "" {
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(f.Dir, dir)
			}
			f.Dir = dir
		}
		ws, err := f.Workspace(context.Background())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, n := range ws.Names() {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// WriteJSON writes v as indented JSON followed by a newline: the stable
// form scripts read.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// RunInLoop runs cmd in a loop's sandbox attached to the command's
// streams, the way exec, shell and new do: the command owns the terminal
// (Ctrl-C reaches it, and git loop waits rather than kill it), and its
// exit code becomes git loop's.
func RunInLoop(ctx context.Context, ws *workspace.Workspace, ios *iostreams.IOStreams, name string, cmd []string, tty bool) error {
	code, err := session.Exec(context.WithoutCancel(ctx), ws, session.ExecOptions{
		Name: name, Cmd: cmd, TTY: tty,
		Stdin: ios.In, Stdout: ios.Out, Stderr: ios.ErrOut, RawTerminal: RawTerminal,
	})
	if pe := (*sandbox.ProgramError)(nil); errors.As(err, &pe) {
		// The shell's code for it (127, 126), as a shell in the sandbox
		// would give, with the hint instead of the engine's raw words.
		fmt.Fprintln(ios.ErrOut, ios.ErrColors().Red("error:")+" "+err.Error())
		return &ExitCodeError{Code: pe.Code()}
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitCodeError{Code: code}
	}
	return nil
}
