package iostreams

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SafeText is s with every byte that could drive a terminal made visible:
// C0 and C1 control characters (ESC, BEL, CSI, carriage return…) and DEL
// as \xNN, bytes that are not UTF-8 as \xNN too; newlines and tabs stay.
// Text a sandbox wrote (a transcript, a build's output) passes through it
// before it reaches the user's terminal: an escape sequence there could
// write the clipboard (OSC 52), retitle or clear the screen, or overwrite
// a warning with a carriage return.
func SafeText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 && b != '\n' && b != '\t' || b >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s // plain ASCII, the common case: no copy
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
