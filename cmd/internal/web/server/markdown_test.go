package server

import (
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/knowledge"
)

// TestWikiLinksInCodeStayText: [[x]] in a code span or block renders as
// the text it is, not as a broken link.
func TestWikiLinksInCodeStayText(t *testing.T) {
	src := "A [[setup]] link, `[[code]]` text.\n\n```sh\nif [[ -f x ]]; then :; fi\n```\n"
	got := string(renderMarkdown([]byte(src), []knowledge.WikiLink{{Name: "setup", Target: "knowledge/setup.md"}}))
	if !strings.Contains(got, `<a class="wikilink" href="/context/knowledge/setup.md">setup</a>`) {
		t.Errorf("the link outside code is not a link:\n%s", got)
	}
	if strings.Count(got, "wikilink") != 1 || !strings.Contains(got, "<code>[[code]]</code>") || !strings.Contains(got, "if [[ -f x ]]") {
		t.Errorf("code was rewritten:\n%s", got)
	}
}

// TestDiffLineNumbers: each diff line carries its old and new line
// numbers, counted from the hunk header.
func TestDiffLineNumbers(t *testing.T) {
	in := "diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n@@ -10,3 +10,4 @@ func x\n ctx\n-old\n+new1\n+new2\n ctx2\n"
	d := parseDiff(strings.NewReader(in), 0)
	var got []diffLine
	for _, l := range d.Files[0].Lines {
		got = append(got, diffLine{Kind: l.Kind, Old: l.Old, New: l.New})
	}
	want := []diffLine{{Kind: "hunk"}, {Kind: "ctx", Old: 10, New: 10}, {Kind: "del", Old: 11}, {Kind: "add", New: 11}, {Kind: "add", New: 12}, {Kind: "ctx", Old: 12, New: 13}}
	if len(got) != len(want) {
		t.Fatalf("lines %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
