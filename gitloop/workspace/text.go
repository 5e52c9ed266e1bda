package workspace

import (
	"fmt"
	"path/filepath"
	"strings"
)

func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func Summarize(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}

func FirstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func Canonical(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// Within reports whether real is dir or inside it (both resolved).
func Within(dir, real string) bool {
	r, err := filepath.Rel(dir, real)
	return err == nil && (r == "." || filepath.IsLocal(r))
}
