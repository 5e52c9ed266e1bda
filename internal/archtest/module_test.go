package archtest

import (
	"os"
	"strings"
	"testing"
)

// TestGoInstallable keeps "go install github.com/gitloop-dev/git-loop/cmd/git-loop@VERSION"
// working: go refuses to install a module whose go.mod has replace or
// exclude directives (see third_party/README.md for how goldmark is kept
// patched without one).
func TestGoInstallable(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "replace" || f[0] == "exclude") {
			t.Errorf("go.mod:%d: %q: with it go install …@version refuses the module", i+1, line)
		}
	}
}
