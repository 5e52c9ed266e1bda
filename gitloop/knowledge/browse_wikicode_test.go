package knowledge

import (
	"slices"
	"testing"
)

// TestWikiLinksSkipCode: [[x]] in a code span or a fenced block is text
// (a shell test, an example of the syntax), not a link.
func TestWikiLinksSkipCode(t *testing.T) {
	doc := "See [[setup]] and `[[not-a-link]]` or ``a `[[nested]]` b``.\n" +
		"```sh\nif [[ -f x ]]; then [[y]]; fi\n```\n" +
		"~~~\n[[fenced]]\n~~~\n" +
		"Then [[guides/deploy|deploying]], and an unclosed ` [[kept]].\n"
	got := WikiLinks([]byte(doc))
	want := []string{"setup", "guides/deploy", "kept"}
	if !slices.Equal(got, want) {
		t.Errorf("WikiLinks = %q, want %q", got, want)
	}
}
