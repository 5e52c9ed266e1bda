package completion_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/completion"
)

func TestNewCmdCompletion(t *testing.T) {
	type O = completion.CompletionOptions
	cmdtest.TestArgs(t, completion.NewCmdCompletion, func(o *O) {
		if o.Root == nil {
			t.Error("no command tree to complete")
		}
		o.IO, o.Root = nil, nil
	}, []cmdtest.ArgsCase[O]{
		{Name: "bash", Args: []string{"bash"}, Want: O{Shell: "bash"}},
		{Name: "zsh", Args: []string{"zsh"}, Want: O{Shell: "zsh"}},
		{Name: "fish", Args: []string{"fish"}, Want: O{Shell: "fish"}},
		{Name: "powershell", Args: []string{"powershell"}, Want: O{Shell: "powershell"}},
		{Name: "no shell", WantErr: "completion needs one shell: bash, zsh, fish or powershell"},
		{Name: "two shells", Args: []string{"bash", "zsh"}, WantErr: "completion needs one shell"},
		{Name: "unknown shell", Args: []string{"tcsh"}, WantErr: `invalid argument "tcsh"`},
	})
}
