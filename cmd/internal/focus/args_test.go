package focus_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/focus"
)

func TestNewCmdFocus(t *testing.T) {
	type O = focus.FocusOptions
	cmdtest.TestArgs(t, focus.NewCmdFocus, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "show", Want: O{}},
		{Name: "show json", Args: []string{"--json"}, Want: O{JSON: true}},
		{Name: "pin words", Args: []string{"pin", "ship", "the", "fix"}, Want: O{Op: "pin", Text: "ship the fix"}},
		{Name: "list", Args: []string{"list", "later"}, Want: O{Op: "list", Text: "later"}},
		{Name: "done json", Args: []string{"done", "ship", "--json"}, Want: O{Op: "done", Text: "ship", JSON: true}},
		{Name: "pin nothing", Args: []string{"pin"}, WantErr: "requires at least 1 arg(s)"},
		{Name: "pin blank", Args: []string{"pin", " ", ""}, WantErr: "the item is empty"},
		{Name: "show takes no text", Args: []string{"ship"}, WantErr: `unknown command "ship"`},
	})
}
