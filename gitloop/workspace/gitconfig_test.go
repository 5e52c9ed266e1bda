package workspace

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// gitConfigByGit is GitConfigEntries' git call, with exactly env (plus
// PATH).
func gitConfigByGit(t *testing.T, dir string, env map[string]string) ([]config.GitEntry, bool) {
	t.Helper()
	cmd := exec.Command("git", gitConfigArgs...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return nil, true // nothing set
	}
	if err != nil {
		t.Logf("git config in %s: %v: %s", dir, err, stderr.String())
		return nil, false
	}
	return parseConfigEntries(out), true
}

// TestGitConfigInProcessMatchesGit checks the in-process reading of
// loop.* and the git identity against git itself, from every scope, in
// the main worktree, a subdirectory, a linked worktree and through a
// symlink, and that it leaves every unusual case to git.
func TestGitConfigInProcessMatchesGit(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home")
	repo := gittest.Repo(t)
	linked := filepath.Join(root, "linked")
	gittest.Git(t, repo, "worktree", "add", "-q", "-b", "other", linked)
	for _, d := range []string{filepath.Join(home, ".config", "git"), filepath.Join(repo, "sub", "deeper"), filepath.Join(root, "xdg", "git")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(repo, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	system := filepath.Join(root, "system")
	write(system, "[loop]\n\tagent = from-system\n\tsetup = sys\n[user]\n\tname = System Name\n")
	write(filepath.Join(home, ".gitconfig"), "[user]\n\tname = Home Name\n\temail = home@example.com\n[loop]\n\tsetup = a\n\tsetup = b\n[core]\n\teditor = vi\n")
	write(filepath.Join(home, ".config", "git", "config"), "[loop \"Sub\"]\n\tKey = xdg\n[loop]\n\tbase = main\n")
	write(filepath.Join(root, "xdg", "git", "config"), "[LOOP]\n\tBranchPrefix = agents/\n")
	gittest.Git(t, repo, "config", "loop.sandbox.driver", "none")
	gittest.Git(t, repo, "config", "--add", "loop.ports", "3000")
	gittest.Git(t, repo, "config", "user.email", "repo@example.com")

	base := map[string]string{"HOME": home, "GIT_CONFIG_SYSTEM": system}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	fast := []struct {
		name string
		dir  string
		env  map[string]string
	}{
		{"main worktree", repo, base},
		{"subdirectory", filepath.Join(repo, "sub", "deeper"), base},
		{"linked worktree", linked, base},
		{"through a symlink", filepath.Join(root, "link", "sub"), base},
		{"no system", repo, with(map[string]string{"GIT_CONFIG_NOSYSTEM": "true"})},
		{"xdg config home", repo, with(map[string]string{"XDG_CONFIG_HOME": filepath.Join(root, "xdg")})},
		{"global override", linked, with(map[string]string{"GIT_CONFIG_GLOBAL": filepath.Join(root, "xdg", "git", "config")})},
		{"missing global", repo, with(map[string]string{"GIT_CONFIG_GLOBAL": filepath.Join(root, "none")})},
		{"home with a trailing slash", repo, with(map[string]string{"HOME": home + "/"})},
		{"no home", repo, map[string]string{"GIT_CONFIG_SYSTEM": system}},
		{"git -c", repo, with(map[string]string{"GIT_CONFIG_PARAMETERS": `'loop.agent'='from -c' 'Loop.Sub.Key'='x' 'core.fsmonitor'='false'`})},
		{"GIT_CONFIG_COUNT", linked, with(map[string]string{"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "user.Name", "GIT_CONFIG_VALUE_0": "Env Name"})},
	}
	for _, tc := range fast {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := gitConfigByGit(t, tc.dir, tc.env)
			got, ok := gitConfigInProcess(context.Background(), tc.dir, lookupMap(tc.env), t.TempDir())
			if !ok {
				t.Fatal("left to git")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("\n in-process %q\n git        %q", got, want)
			}
			if len(want) < 3 {
				t.Errorf("git lists only %q: the case tests too little", want)
			}
		})
	}

	slow := []struct {
		name  string
		dir   string
		env   map[string]string
		setup func(t *testing.T) string // returns the repo to run in
	}{
		{name: "GIT_CONFIG", dir: repo, env: with(map[string]string{"GIT_CONFIG": system})},
		{name: "relative XDG_CONFIG_HOME", dir: repo, env: with(map[string]string{"XDG_CONFIG_HOME": "xdg"})},
		{name: "bad boolean", dir: repo, env: with(map[string]string{"GIT_CONFIG_NOSYSTEM": "maybe"})},
		{name: "outside a repository", dir: root, env: base},
		{name: "include", env: base, setup: func(t *testing.T) string {
			r := gittest.Repo(t)
			gittest.Git(t, r, "config", "include.path", system)
			return r
		}},
		{name: "worktree config", env: base, setup: func(t *testing.T) string {
			r := gittest.Repo(t)
			gittest.Git(t, r, "config", "extensions.worktreeConfig", "true")
			return r
		}},
		{name: "core.worktree", env: base, setup: func(t *testing.T) string {
			r := gittest.Repo(t)
			gittest.Git(t, r, "config", "core.worktree", r)
			return r
		}},
		{name: "owned by another user", env: base, setup: func(t *testing.T) string {
			if os.Geteuid() != 0 {
				sandboxtest.Require(t, errors.New("not root"), "root", "run the tests as root (CI does) to give a repository away")
			}
			r := gittest.Repo(t)
			if err := os.Chown(filepath.Join(r, ".git"), 4242, 4242); err != nil {
				t.Fatal(err)
			}
			return r
		}},
	}
	for _, tc := range slow {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if tc.setup != nil {
				dir = tc.setup(t)
			}
			if got, ok := gitConfigInProcess(context.Background(), dir, lookupMap(tc.env), t.TempDir()); ok {
				t.Errorf("read in-process (%q), want it left to git", got)
			}
		})
	}
}

// TestGitConfigSystemPath reads the real system config, wherever this
// git keeps it, and remembers its place.
func TestGitConfigSystemPath(t *testing.T) {
	repo := gittest.Repo(t)
	env := map[string]string{"HOME": t.TempDir()}
	cache := t.TempDir()
	want, gitOK := gitConfigByGit(t, repo, env)
	for i := range 2 {
		got, ok := gitConfigInProcess(context.Background(), repo, lookupMap(env), cache)
		if !ok {
			// Right only when git cannot say where its system file is
			// (it lists nothing of it) or the file includes others.
			out, err := exec.Command("git", "config", "--system", "--list").Output()
			if lower := strings.ToLower(string(out)); err == nil && len(out) > 0 && !strings.Contains(lower, "include.path=") && !strings.Contains(lower, "includeif.") {
				t.Fatalf("run %d: a system config without includes was left to git:\n%s", i, out)
			}
			t.Logf("this machine's system config is left to git: it is empty or has includes")
			return
		}
		if !gitOK || !reflect.DeepEqual(got, want) {
			t.Errorf("run %d:\n in-process %q\n git        %q", i, got, want)
		}
		data, err := os.ReadFile(filepath.Join(cache, systemConfigCacheFile))
		if err != nil {
			t.Fatalf("run %d: the system config's place was not remembered: %v", i, err)
		}
		// Where git says its system file is, when it lists any of it.
		out, err := exec.Command("git", "config", "--system", "--show-origin", "--list").Output()
		if origin, _, _ := bytes.Cut(out, []byte("\t")); err == nil && len(out) > 0 && !bytes.Contains(data, bytes.TrimPrefix(origin, []byte("file:"))) {
			t.Errorf("remembered %s, git reads %s", data, origin)
		}
	}
}

func lookupMap(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}
