package run_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/run"
)

func TestNewCmdRun(t *testing.T) {
	type O = run.RunOptions
	cmdtest.TestArgs(t, run.NewCmdRun, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "words joined", Args: []string{"x", "fix", "the", "test"}, Want: O{Name: "x", Prompt: "fix the test"}},
		{Name: "one argument", Args: []string{"x", "fix the test"}, Want: O{Name: "x", Prompt: "fix the test"}},
		{Name: "stdin", Args: []string{"x", "-"}, Stdin: "from stdin\n\n", Want: O{Name: "x", Prompt: "from stdin"}},
		{Name: "agent and raw", Args: []string{"x", "--agent", "codex", "--raw", "go"}, Want: O{Name: "x", Prompt: "go", Agent: "codex", Raw: true}},
		{Name: "no prompt", Args: []string{"x"}, WantErr: "run needs a loop NAME and a PROMPT"},
		{Name: "nothing", WantErr: "run needs a loop NAME and a PROMPT"},
		{Name: "blank prompt", Args: []string{"x", " "}, WantErr: "run needs a non-empty PROMPT"},
		{Name: "empty stdin", Args: []string{"x", "-"}, Stdin: "\n", WantErr: "run needs a non-empty PROMPT"},
	})
}
