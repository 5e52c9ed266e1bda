// Package testagents finds the real agent clients that tests check
// offline (Claude Code, Codex) and mise, as scripts/install-agents.sh
// installs them at pinned versions. A test that needs one and does not
// find it stops through sandboxtest.Require: it skips, or fails in CI.
package testagents

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// The pinned versions: keep them in step with scripts/install-agents.sh.
const (
	ClaudeVersion = "2.1.328"
	CodexVersion  = "0.169.0"
	MiseVersion   = "2026.9.15"
)

// DirEnv overrides where the clients are installed.
const DirEnv = "GIT_LOOP_TEST_AGENTS"

const install = "install them with scripts/install-agents.sh (needs npm)"

// Dir is the npm prefix the clients are installed under.
func Dir() string {
	if d := os.Getenv(DirEnv); d != "" {
		return d
	}
	return "/opt/git-loop-test/agents"
}

// Claude returns the path of the installed claude binary.
func Claude(t testing.TB) string {
	return find(t, "claude", "@anthropic-ai/claude-code", ClaudeVersion)
}

// Codex returns the path of the installed codex launcher (codex.js, which
// finds its platform package beside it, as npm installs it).
func Codex(t testing.TB) string { return find(t, "codex", "@openai/codex", CodexVersion) }

// Mise returns the path of the installed mise binary.
func Mise(t testing.TB) string { return find(t, "mise", "@jdxcode/mise", MiseVersion) }

func find(t testing.TB, bin, pkg, version string) string {
	t.Helper()
	path := filepath.Join(Dir(), "node_modules", ".bin", bin)
	err := check(path, filepath.Join(Dir(), "node_modules", pkg, "package.json"), version)
	sandboxtest.Require(t, err, bin, install)
	return path
}

func check(bin, manifest, version string) error {
	if _, err := os.Stat(bin); err != nil {
		return err
	}
	b, err := os.ReadFile(manifest)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), fmt.Sprintf("%q", version)) {
		return fmt.Errorf("%s is not version %s", manifest, version)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return err
	}
	return nil
}
