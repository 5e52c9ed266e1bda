package iostreams

import "testing"

func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ttext\nnext":              "plain\ttext\nnext",
		"héllo → ✓":                      "héllo → ✓",
		"\x1b]52;c;ZWNobyBwd25lZA==\x07": `\x1b]52;c;ZWNobyBwd25lZA==\x07`,
		"ok\r\x1b[2Kfaked":               `ok\x0d\x1b[2Kfaked`,
		"c1 \u009b31m":                   `c1 \u009b31m`,
		"raw \x9b byte":                  `raw \x9b byte`,
		"del\x7f":                        `del\x7f`,
	} {
		if got := SafeText(in); got != want {
			t.Errorf("SafeText(%q) = %q, want %q", in, got, want)
		}
	}
}
