package inbox

import (
	"context"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
)

func TestNewCmdInboxArgs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args  []string
		text  string
		stdin bool
		json  bool
		fails bool
	}{
		{args: nil},
		{args: []string{"--json"}, json: true},
		{args: []string{"fix", "the", "thing"}, text: "fix the thing"},
		{args: []string{"one arg with spaces"}, text: "one arg with spaces"},
		{args: []string{"-"}, stdin: true},
		{args: []string{"--", "-x"}, text: "-x"},
		{args: []string{""}, fails: true},
		{args: []string{" ", " "}, fails: true},
	} {
		ios, _, _, _ := iostreams.Test()
		var got *InboxOptions
		cmd := NewCmdInbox(&cmdutil.Factory{IOStreams: ios}, func(_ context.Context, o *InboxOptions) error { got = o; return nil })
		cmd.SetArgs(c.args)
		cmd.SetOut(ios.Out)
		cmd.SetErr(ios.ErrOut)
		err := cmd.Execute()
		if c.fails {
			if err == nil {
				t.Errorf("%q: no error", c.args)
			}
			continue
		}
		if err != nil || got == nil || got.Text != c.text || got.Stdin != c.stdin || got.JSON != c.json {
			t.Errorf("%q: %+v %v", c.args, got, err)
		}
	}
}

func TestPrintable(t *testing.T) {
	t.Parallel()
	if got := Printable("plain — text"); got != "plain — text" {
		t.Errorf("got %q", got)
	}
	if got := Printable("evil\x1b[2Jname"); got != `"evil\x1b[2Jname"` {
		t.Errorf("got %q", got)
	}
}
