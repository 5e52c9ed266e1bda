// Package gittest builds hermetic, real git repositories for tests.
package gittest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fixedEnv pins everything that would make git's output or SHAs vary
// between machines and runs.
var fixedEnv = map[string]string{
	"GIT_CONFIG_NOSYSTEM": "1",
	"GIT_AUTHOR_NAME":     "Loop Tester",
	"GIT_AUTHOR_EMAIL":    "tester@example.com",
	"GIT_COMMITTER_NAME":  "Loop Tester",
	"GIT_COMMITTER_EMAIL": "tester@example.com",
	"GIT_AUTHOR_DATE":     "2026-01-02T03:04:05Z",
	"GIT_COMMITTER_DATE":  "2026-01-02T03:04:05Z",
	"GIT_TERMINAL_PROMPT": "0",
	"NO_COLOR":            "1",
	"LANG":                "C",
	"LC_ALL":              "C",
}

// Hermetic makes the process environment hermetic for git: only PATH and
// TERM are kept from the caller; HOME, XDG dirs and the global git config
// live in root. Call it once from TestMain, before any test runs (the
// environment is process-wide, so tests can still run in parallel).
func Hermetic(root string) error {
	keep := map[string]string{"PATH": os.Getenv("PATH"), "TERM": os.Getenv("TERM")}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		// Test control knobs, the switch that turns git loop's git
		// shortcuts off, the one that forces sealed or unsealed loops
		// whatever a repository's settings say (sealed is the default;
		// GIT_LOOP_SANDBOX_SEALED=false runs the suites unsealed, where
		// the tests that set sandbox.sealed for a sealed loop fail by
		// premise), and the Docker endpoint survive.
		if strings.HasPrefix(k, "GIT_LOOP_TEST") || k == "GIT_LOOP_PLAIN_GIT" || k == "GIT_LOOP_SANDBOX_SEALED" || k == "DOCKER_HOST" || k == "GOCOVERDIR" || k == "GOFLAGS" || k == "GOCACHE" || k == "GOPATH" || k == "GOMODCACHE" {
			keep[k] = os.Getenv(k)
		}
	}
	os.Clearenv()
	for k, v := range keep {
		if v != "" {
			os.Setenv(k, v)
		}
	}
	home := filepath.Join(root, "home")
	for _, d := range []string{home, filepath.Join(root, "xdg-config"), filepath.Join(root, "xdg-data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	os.Setenv("HOME", home)
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(root, "xdg-config"))
	os.Setenv("XDG_DATA_HOME", filepath.Join(root, "xdg-data"))
	gitconfig := filepath.Join(home, ".gitconfig")
	os.Setenv("GIT_CONFIG_GLOBAL", gitconfig)
	for k, v := range fixedEnv {
		os.Setenv(k, v)
	}
	return os.WriteFile(gitconfig, []byte("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n[user]\n\tname = Loop Tester\n\temail = tester@example.com\n"), 0o644)
}

// Main runs a package's tests in a hermetic environment (Hermetic) rooted
// in a temp dir it removes afterwards; setup, when not nil, runs first
// with that root. Call it from TestMain.
func Main(m *testing.M, setup func(root string) error) {
	root, err := os.MkdirTemp("", "gitloop-test-")
	if err == nil {
		err = Hermetic(root)
	}
	if err == nil && setup != nil {
		err = setup(root)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "test setup:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}

// Git runs git in dir and returns trimmed stdout, failing the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, stderr)
	}
	return strings.TrimRight(string(out), "\n")
}

// WriteFile writes a file under dir, creating parents.
func WriteFile(t testing.TB, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Commit stages everything in dir and commits with msg.
func Commit(t testing.TB, dir, msg string) string {
	t.Helper()
	Git(t, dir, "add", "-A")
	Git(t, dir, "commit", "-q", "-m", msg)
	return Git(t, dir, "rev-parse", "HEAD")
}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// Repo returns a fresh copy of a template repository: a clone of a bare
// origin, on main, with two commits and a README. The template is built
// once per test binary and copied per test.
func Repo(t testing.TB) string {
	t.Helper()
	templateOnce.Do(func() { templateDir, templateErr = buildTemplate() })
	if templateErr != nil {
		t.Fatalf("build template repo: %v", templateErr)
	}
	dst := filepath.Join(t.TempDir(), "ws")
	if out, err := exec.Command("cp", "-a", templateDir, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy template: %v\n%s", err, out)
	}
	// Each copy has its own origin, so tests never share a remote.
	repo := filepath.Join(dst, "repo")
	Git(t, repo, "remote", "set-url", "origin", filepath.Join(dst, "origin.git"))
	return repo
}

func buildTemplate() (string, error) {
	dir, err := os.MkdirTemp("", "gitloop-template-")
	if err != nil {
		return "", err
	}
	run := func(dir string, args ...string) error {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	origin := filepath.Join(dir, "origin.git")
	repo := filepath.Join(dir, "repo")
	if err := run(dir, "init", "-q", "--bare", "-b", "main", origin); err != nil {
		return "", err
	}
	if err := run(dir, "clone", "-q", "origin.git", "repo"); err != nil {
		return "", err
	}
	files := map[string]string{"README.md": "# demo\n", "src/main.go": "package main\n\nfunc main() {}\n", ".gitignore": ".env\n*.log\n"}
	for rel, content := range files {
		p := filepath.Join(repo, rel)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "initial"}, {"push", "-q", "origin", "main"}} {
		if err := run(repo, args...); err != nil {
			return "", err
		}
	}
	return dir, nil
}
