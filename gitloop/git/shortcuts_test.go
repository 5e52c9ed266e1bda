package git_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/git"
)

func TestParsePlain(t *testing.T) {
	all := []git.Shortcut{git.RepoDiscovery, git.WorktreeAdd, git.ConfigRead, git.StatusCache}
	cases := []struct {
		v   string
		off []git.Shortcut
		bad bool
	}{
		{v: ""}, {v: "false"}, {v: "0"}, {v: "off"},
		{v: "true", off: all}, {v: "1", off: all}, {v: "YES", off: all}, {v: "2", off: all},
		{v: "status", off: []git.Shortcut{git.StatusCache}},
		{v: "worktree, config", off: []git.Shortcut{git.WorktreeAdd, git.ConfigRead}},
		{v: "status,nope", bad: true}, {v: "maybe", bad: true},
	}
	for _, c := range cases {
		s, err := git.ParsePlain(c.v)
		if (err != nil) != c.bad {
			t.Errorf("ParsePlain(%q) error %v, want bad=%v", c.v, err, c.bad)
			continue
		}
		for _, sc := range all {
			want := true
			for _, o := range c.off {
				if o == sc {
					want = false
				}
			}
			if s.Use(sc) != want {
				t.Errorf("ParsePlain(%q).Use(%s) = %v, want %v", c.v, sc, s.Use(sc), want)
			}
		}
	}
}

// TestDecide: the environment's GIT_LOOP_PLAIN_GIT reaches every decision,
// and a value that does not parse turns every shortcut off.
func TestDecide(t *testing.T) {
	t.Setenv(git.PlainEnv, "")
	if s := git.Decide(""); !s.Use(git.WorktreeAdd) || s.Plain() {
		t.Error("no setting, no env: shortcuts should be on")
	}
	if !git.Decide("garbage").Plain() {
		t.Error("an invalid setting should turn every shortcut off")
	}
	t.Setenv(git.PlainEnv, "worktree")
	if s := git.Decide("status"); s.Use(git.WorktreeAdd) || s.Use(git.StatusCache) || !s.Use(git.ConfigRead) {
		t.Error("setting status and env worktree should turn both off")
	}
	t.Setenv(git.PlainEnv, "1")
	if !git.FromEnv(func(k string) (string, bool) { return "1", true }).Plain() || !git.Decide("").Plain() {
		t.Error("GIT_LOOP_PLAIN_GIT=1 should turn every shortcut off")
	}
}
