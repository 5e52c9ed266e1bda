package focus_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/notes"
)

func TestFocus(t *testing.T) {
	t.Parallel()
	repo, o, clone, origin := cmdtest.NotesSetup(t)
	for _, name := range []string{"fix-login", "docs-refresh", "other"} {
		cmdtest.MustRunWith(t, repo, o, "new", name, "--driver", "none", "-d", "-q")
	}
	// Empty focus.
	r := cmdtest.MustRunWith(t, repo, o, "focus")
	if r.Stdout != "pinned\n  (none)\nlisted\n  (none)\n" {
		t.Errorf("empty focus:\n%s", r.Stdout)
	}
	// Edits commit and push.
	cmdtest.MustRunWith(t, repo, o, "focus", "pin", "Fix login")
	cmdtest.MustRunWith(t, repo, o, "focus", "pin", "review", "docs-refresh")
	cmdtest.MustRunWith(t, repo, o, "focus", "list", "someday: tidy the build")
	cmdtest.MustRunWith(t, repo, o, "focus", "list", "ship 1.0")
	want := "# Focus\n\n## pinned\n\n- Fix login\n- review docs-refresh\n\n## listed\n\n- someday: tidy the build\n- ship 1.0"
	if got := cmdtest.OriginFile(t, origin, "focus.md"); got != want {
		t.Errorf("origin focus.md:\n%q\nwant\n%q", got, want)
	}
	if msg := gittest.Git(t, origin, "log", "-1", "--format=%s", "main"); msg != "focus: list: ship 1.0" {
		t.Errorf("commit message %q", msg)
	}
	r = cmdtest.MustRunWith(t, repo, o, "focus")
	wantOut := `pinned
  - Fix login  ← fix-login
  - review docs-refresh  ← docs-refresh
listed
  - someday: tidy the build
  - ship 1.0
`
	if r.Stdout != wantOut {
		t.Errorf("focus:\n%s\nwant\n%s", r.Stdout, wantOut)
	}
	r = cmdtest.MustRunWith(t, repo, o, "focus", "--json")
	var f notes.Focus
	if err := json.Unmarshal([]byte(r.Stdout), &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Pinned) != 2 || len(f.Listed) != 2 ||
		!reflect.DeepEqual(f.Pinned[0].Loops, []notes.FocusLoop{{Name: "fix-login", Branch: "loop/fix-login"}}) ||
		f.Pinned[0].Text != "Fix login" || f.Pinned[0].Line != 5 || f.Listed[1].Loops == nil || len(f.Listed[1].Loops) != 0 {
		t.Errorf("focus --json: %s", r.Stdout)
	}
	// Moving and finishing.
	cmdtest.MustRunWith(t, repo, o, "focus", "pin", "SHIP 1.0")
	cmdtest.MustRunWith(t, repo, o, "focus", "done", "tidy")
	want = "# Focus\n\n## pinned\n\n- Fix login\n- review docs-refresh\n- ship 1.0\n\n## listed\n"
	if got := cmdtest.OriginFile(t, origin, "focus.md") + "\n"; got != want {
		t.Errorf("origin focus.md:\n%q\nwant\n%q", got, want)
	}
	if r := cmdtest.RunWith(t, repo, o, "focus", "done", "nothing like it"); r.Code != 2 {
		t.Errorf("done of a missing item: %d %s", r.Code, r.Stderr)
	}
	// A hand-written focus.md: headings in any case, other sections ignored.
	gittest.WriteFile(t, clone, "focus.md", "# Focus\n## Pinned\n* fix-login and other\n## Someday\n- not shown\n## Listed\n- nothing\n")
	gittest.Git(t, clone, "commit", "-qam", "by hand")
	r = cmdtest.MustRunWith(t, repo, o, "focus")
	if want := "pinned\n  - fix-login and other  ← fix-login, other\nlisted\n  - nothing\n"; r.Stdout != want {
		t.Errorf("hand-written focus:\n%s\nwant\n%s", r.Stdout, want)
	}
	// Dirty focus.md refuses an edit.
	gittest.WriteFile(t, clone, "focus.md", "mine\n")
	if r := cmdtest.RunWith(t, repo, o, "focus", "pin", "x"); r.Code != 5 {
		t.Errorf("dirty focus.md: %d %s", r.Code, r.Stderr)
	}
}
