package notes

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

func TestParseInbox(t *testing.T) {
	t.Parallel()
	got := ParseInbox([]byte("# Inbox\n\n- first\n* second  \n  - nested is not an item\n-not an item\n- \n\r\n- third\r\n"))
	want := []NoteItem{{"first", 3}, {"second", 4}, {"third", 9}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseInbox = %+v, want %+v", got, want)
	}
	if got := ParseInbox(nil); got == nil || len(got) != 0 {
		t.Errorf("empty inbox = %#v, want an empty slice", got)
	}
}

func TestParseFocus(t *testing.T) {
	t.Parallel()
	doc := ParseFocus([]byte(`# Focus

- before any section is ignored

## Pinned

- ship fix-login
- Release 1.0

## listed
- cache eviction
### pinned-ish subheading ends the section
- ignored
## someday
- ignored too
## listed
- second listed block
`))
	want := FocusDoc{
		Pinned: []NoteItem{{"ship fix-login", 7}, {"Release 1.0", 8}},
		Listed: []NoteItem{{"cache eviction", 11}, {"second listed block", 17}},
	}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("ParseFocus = %+v\nwant %+v", doc, want)
	}
}

func TestFocusMatches(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		item, loop string
		want       bool
	}{
		{"ship fix-login today", "fix-login", true},
		{"review [[fix-login]].", "fix-login", true},
		{"Review FIX-LOGIN", "fix-login", true},
		{"fix-login-v2 is the new one", "fix-login", false}, // a longer word is another name
		{"Fix login", "fix-login", true},
		{"Fix login", "fix-login-v2", true},
		{"Fix login", "prefix-login", false},
		{"Fix login", "fix", true}, // the item mentions "fix" as a word
		{"Fix login", "login-fix", false},
		{"api", "rapid-fix", false},
		{"api", "api_timeouts", true},
		{"Release 1.0", "release-1-0", true},
		{"Release 1.0", "release-1.0", true},
		{"!!!", "x", false},
		{"anything", "", false},
	} {
		if got := FocusMatches(c.item, c.loop); got != c.want {
			t.Errorf("FocusMatches(%q, %q) = %v, want %v", c.item, c.loop, got, c.want)
		}
	}
}

func TestMatchFocus(t *testing.T) {
	t.Parallel()
	doc := FocusDoc{Pinned: []NoteItem{{"fix login", 3}}, Listed: []NoteItem{{"docs", 6}}}
	f := MatchFocus(doc, []FocusLoop{{"fix-login", "loop/fix-login"}, {"other", "loop/other"}, {"fix-login-2", "loop/fix-login-2"}})
	if n := len(f.Pinned[0].Loops); n != 2 || f.Pinned[0].Loops[0].Name != "fix-login" || f.Pinned[0].Loops[1].Name != "fix-login-2" {
		t.Errorf("pinned loops = %+v", f.Pinned[0].Loops)
	}
	if f.Listed[0].Loops == nil || len(f.Listed[0].Loops) != 0 {
		t.Errorf("listed loops = %#v, want an empty slice", f.Listed[0].Loops)
	}
}

func TestCheckNoteText(t *testing.T) {
	t.Parallel()
	if got, err := CheckNoteText("  an item\n"); err != nil || got != "an item" {
		t.Errorf("CheckNoteText = %q, %v", got, err)
	}
	for _, bad := range []string{"", "  \n", "two\nlines", "cr\rhere", "esc \x1b[31m", "nul\x00"} {
		_, err := CheckNoteText(bad)
		var ue *workspace.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("CheckNoteText(%q) = %v, want a usage error", bad, err)
		}
	}
}

func TestCommitSubject(t *testing.T) {
	t.Parallel()
	if got := commitSubject("inbox", "short"); got != "inbox: short" {
		t.Errorf("got %q", got)
	}
	long := commitSubject("inbox", strings.Repeat("é", 100))
	if n := len([]rune(long)); n != 72 || !strings.HasSuffix(long, "…") {
		t.Errorf("long subject %q (%d runes)", long, n)
	}
}

func TestEditFocus(t *testing.T) {
	t.Parallel()
	seed := "# Focus\n\n## pinned\n\n## listed\n"
	steps := []struct {
		op, text, want string
	}{
		{FocusPin, "ship it", "# Focus\n\n## pinned\n\n- ship it\n\n## listed\n"},
		{FocusPin, "second", "# Focus\n\n## pinned\n\n- ship it\n- second\n\n## listed\n"},
		{FocusList, "later", "# Focus\n\n## pinned\n\n- ship it\n- second\n\n## listed\n\n- later\n"},
		{FocusList, "SHIP IT", "# Focus\n\n## pinned\n\n- second\n\n## listed\n\n- later\n- ship it\n"},
		{FocusDone, "sec", "# Focus\n\n## pinned\n\n## listed\n\n- later\n- ship it\n"},
		{FocusDone, "ship it", "# Focus\n\n## pinned\n\n## listed\n\n- later\n"},
	}
	data := []byte(seed)
	for _, s := range steps {
		out, _, err := editFocus(data, s.op, s.text)
		if err != nil {
			t.Fatalf("%s %q: %v", s.op, s.text, err)
		}
		if string(out) != s.want {
			t.Fatalf("%s %q:\n%q\nwant\n%q", s.op, s.text, out, s.want)
		}
		data = out
	}
	// A focus.md without the section gets it.
	out, _, err := editFocus([]byte("# Focus\n\n## listed\n- x\n"), FocusPin, "y")
	if err != nil || string(out) != "# Focus\n\n## listed\n- x\n\n## pinned\n\n- y\n" {
		t.Errorf("added section: %q %v", out, err)
	}
	// Refusals.
	for _, c := range []struct{ data, op, text string }{
		{"## pinned\n- a b\n- a c\n", FocusDone, "a"}, // ambiguous
		{"## pinned\n- a\n", FocusDone, "zzz"},        // missing
		{"## pinned\n- a\n", FocusPin, "A"},           // already pinned
		{"## pinned\n- a\n", "frobnicate", "a"},       // unknown op
	} {
		var ue *workspace.UsageError
		if _, _, err := editFocus([]byte(c.data), c.op, c.text); !errors.As(err, &ue) {
			t.Errorf("%s %q on %q: %v, want a usage error", c.op, c.text, c.data, err)
		}
	}
}
