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
