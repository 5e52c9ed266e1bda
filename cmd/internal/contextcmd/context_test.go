package contextcmd

import (
	"context"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
)

func TestNewCmdContextArgs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args      []string
		ls, show  string
		links     bool
		json      bool
		ran, fail bool
	}{
		{args: nil, ran: true},
		{args: []string{"--json"}, ran: true, json: true},
		{args: []string{"ls"}, ran: true},
		{args: []string{"ls", "notes/memory", "--json"}, ls: "notes/memory", ran: true, json: true},
		{args: []string{"show", "[[deploy]]", "--links"}, show: "[[deploy]]", links: true, ran: true},
		{args: []string{"show"}, fail: true},
		{args: []string{"show", "a", "b"}, fail: true},
		{args: []string{"ls", "a", "b"}, fail: true},
		{args: []string{"knowledge"}, fail: true},
	} {
		ios, _, _, _ := iostreams.Test()
		var lsOpts *LsOptions
		var showOpts *ShowOptions
		cmd := NewCmdContext(&cmdutil.Factory{IOStreams: ios},
			func(_ context.Context, o *LsOptions) error { lsOpts = o; return nil },
			func(_ context.Context, o *ShowOptions) error { showOpts = o; return nil })
		cmd.SetArgs(c.args)
		cmd.SetOut(ios.Out)
		cmd.SetErr(ios.ErrOut)
		err := cmd.Execute()
		if c.fail {
			if err == nil {
				t.Errorf("%q: no error", c.args)
			}
			continue
		}
		switch {
		case err != nil:
			t.Errorf("%q: %v", c.args, err)
		case c.show != "":
			if showOpts == nil || showOpts.Path != c.show || showOpts.Links != c.links || showOpts.JSON != c.json {
				t.Errorf("%q: show %+v", c.args, showOpts)
			}
		default:
			if lsOpts == nil || lsOpts.Path != c.ls || lsOpts.JSON != c.json {
				t.Errorf("%q: ls %+v", c.args, lsOpts)
			}
		}
	}
}
