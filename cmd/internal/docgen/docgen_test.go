package docgen

import "testing"

func TestPlainToMarkdown(t *testing.T) {
	in := "First line with *stars* and <name>\nsecond line.\n\nCodes:\n  0  ok\n\n  1  error\n\nAfter."
	want := "First line with \\*stars\\* and \\<name\\>\nsecond line.\n\nCodes:\n\n```\n  0  ok\n\n  1  error\n```\n\nAfter."
	if got := plainToMarkdown(in); got != want {
		t.Errorf("plainToMarkdown:\n got %q\nwant %q", got, want)
	}
}
