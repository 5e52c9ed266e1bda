package workspace

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	good := []string{"x", "fix-login", "v1.2", "a_b", "A9", strings.Repeat("a", 64), "x.y-z"}
	bad := []string{"", ".x", "-x", "a..b", "x.lock", "a/b", "a b", "x.", "ü", "a@{b", strings.Repeat("a", 65), "a:b", "a~1", "a^", "a*", "a?", "a[", `a\b`}
	for _, n := range good {
		if err := ValidateName(n, "loop/"); err != nil {
			t.Errorf("ValidateName(%q) = %v, want ok", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateName(n, "loop/"); err == nil {
			t.Errorf("ValidateName(%q) = ok, want error", n)
		}
	}
}

// FuzzValidateName: every accepted name is a safe single path component
// and a branch git itself accepts.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"x", "a..b", ".x", "x.lock", "x.", "a/b", "-", "a@{b", "loop", "a.b.c", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateName(name, "loop/") != nil {
			return
		}
		if filepath.Base(name) != name || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
			t.Fatalf("accepted %q, which is not a single path component", name)
		}
		out, err := exec.Command("git", "check-ref-format", "refs/heads/loop/"+name).CombinedOutput()
		if err != nil {
			t.Fatalf("accepted %q, which git check-ref-format refuses: %v %s", name, err, out)
		}
	})
}
