package testagents

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPinnedVersions runs each installed client's --version offline: the
// pins in this package and in scripts/install-agents.sh agree with what
// is installed.
func TestPinnedVersions(t *testing.T) {
	for _, c := range []struct {
		path, want string
	}{
		{Claude(t), ClaudeVersion},
		{Codex(t), CodexVersion},
		{Mise(t), MiseVersion},
	} {
		out, err := exec.Command(c.path, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --version: %v\n%s", c.path, err, out)
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("%s --version = %q, want %s", c.path, out, c.want)
		}
	}
}
