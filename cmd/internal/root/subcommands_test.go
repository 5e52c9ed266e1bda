package root

import (
	"slices"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
)

// TestSubcommandsTable keeps the table Run uses to build one command alone
// true to the commands themselves, and checks that a command built alone
// is the one of the whole tree: same help, same flags.
func TestSubcommandsTable(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Dir: t.TempDir()}
	full := NewCmdRoot(f)
	if got, want := len(subcommands(f)), len(full.Commands()); got != want {
		t.Errorf("table has %d commands, the tree %d", got, want)
	}
	for _, sub := range subcommands(f) {
		c, _, err := full.Find(sub.names[:1])
		if err != nil || c == full {
			t.Errorf("%s: not in the tree (%v)", sub.names[0], err)
			continue
		}
		if names := append([]string{c.Name()}, c.Aliases...); !slices.Equal(names, sub.names) {
			t.Errorf("%s: the command answers to %q, the table says %q", sub.names[0], names, sub.names)
		}
		for _, name := range sub.names {
			alone := newCmdRoot(f, name)
			if n := len(alone.Commands()); n != 1 {
				t.Errorf("built for %q: %d commands", name, n)
				continue
			}
			lc, _, err := alone.Find([]string{name})
			if err != nil || lc.Name() != c.Name() {
				t.Errorf("built for %q: finds %v (%v)", name, lc, err)
				continue
			}
			if lc.UsageString() != c.UsageString() || lc.Long != c.Long || lc.GroupID != c.GroupID || lc.Hidden != c.Hidden {
				t.Errorf("%q built alone differs from the whole tree's:\n%s\n---\n%s", name, lc.UsageString(), c.UsageString())
			}
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"new", "x"}, "new"},
		{[]string{"list"}, "list"},
		{[]string{"hook", "pre-commit"}, "hook"},
		{nil, ""},
		{[]string{"-C", "dir", "new", "x"}, ""},
		{[]string{"help", "new"}, ""},
		{[]string{"completion", "bash"}, ""},
		{[]string{"__complete", "new", ""}, ""},
		{[]string{"nwe"}, ""},
	} {
		if got := onlyCommand(f, tc.args); got != tc.want {
			t.Errorf("onlyCommand(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
