package config

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/git"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	repoFile := write(t, dir, "repo.toml", "agent = \"from-repo\"\nbranchPrefix = \"team/\"\n[sandbox]\ndriver = \"docker\"\nimage = \"team:1\"\n")
	userFile := write(t, dir, "user.toml", "agent = \"from-user\"\n[sandbox]\ndriver = \"bwrap\"\n")
	env := map[string]string{"GIT_LOOP_SANDBOX_DRIVER": "none"}
	c, err := Load(Sources{
		Files: []File{{Kind: "repo", Path: repoFile}, {Kind: "user", Path: userFile}, {Kind: "personal", Path: filepath.Join(dir, "missing.toml")}},
		Git:   []GitEntry{{Scope: "local", Where: "file:.git/config", Key: "loop.agent", Value: "from-git"}, {Scope: "command", Where: "command line:", Key: "loop.branchprefix", Value: "cli/"}},
		Env:   func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Flags: map[string]string{"sandbox.image": "flag:2"}, FlagOf: map[string]string{"sandbox.image": "image"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"agent":          {"from-git", "git:local .git/config"},
		"branchPrefix":   {"cli/", "git:git -c"},
		"sandbox.driver": {"none", "env:GIT_LOOP_SANDBOX_DRIVER"},
		"sandbox.image":  {"flag:2", "flag:--image"},
		"worktreeDir":    {"", "default"},
	}
	for key, w := range want {
		if got, origin := c.Get(key), c.Origin(key).String(); got != w[0] || origin != w[1] {
			t.Errorf("%s = %q from %s, want %q from %s", key, got, origin, w[0], w[1])
		}
	}
	// Each file layer beats the one below it.
	c, err = Load(Sources{Files: []File{{Kind: "repo", Path: repoFile}, {Kind: "user", Path: userFile}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Agent() != "from-user" || c.SandboxImage() != "team:1" || c.Origin("sandbox.image").Kind != "repo" {
		t.Errorf("file layers: agent=%s image=%s (%s)", c.Agent(), c.SandboxImage(), c.Origin("sandbox.image"))
	}
}

func TestMalformedFileNamesFileAndLine(t *testing.T) {
	t.Parallel()
	p := write(t, t.TempDir(), ".gitloop.toml", "agent = \"ok\"\n[sandbox\ndriver = \"docker\"\n")
	_, err := Load(Sources{Files: []File{{Kind: "repo", Path: p}}})
	if err == nil || !strings.Contains(err.Error(), p+":2:") {
		t.Fatalf("error %v should name %s:2", err, p)
	}
}

func TestBadValues(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := map[string]string{
		"driver":     "[sandbox]\ndriver = \"vm\"\n",
		"prefix":     "branchPrefix = \"../x/\"\n",
		"table":      "agent = { a = 1 }\n",
		"emptyAgent": "agent = \"\"\n",
	}
	for name, content := range cases {
		p := write(t, dir, name+".toml", content)
		if _, err := Load(Sources{Files: []File{{Kind: "repo", Path: p}}}); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v should name %s", name, err, p)
		}
	}
	if _, err := Load(Sources{Git: []GitEntry{{Scope: "local", Where: "file:.git/config", Key: "loop.sandbox.driver", Value: "vm"}}}); err == nil || !strings.Contains(err.Error(), "git:local .git/config") {
		t.Errorf("bad git value: %v", err)
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	t.Parallel()
	p := write(t, t.TempDir(), "c.toml", "agnet = \"typo\"\n[knowledge]\nurl = \"x\"\n")
	c, err := Load(Sources{Files: []File{{Kind: "user", Path: p}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], `"agnet"`) {
		t.Errorf("warnings = %v", c.Warnings)
	}
}

func TestEnvNames(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{"branchPrefix": "GIT_LOOP_BRANCH_PREFIX", "sandbox.driver": "GIT_LOOP_SANDBOX_DRIVER", "worktreeDir": "GIT_LOOP_WORKTREE_DIR"} {
		k, _ := Lookup(key)
		if got := k.EnvName(); got != want {
			t.Errorf("%s → %s, want %s", key, got, want)
		}
	}
}

// FuzzLoad feeds arbitrary bytes as a settings file: Load must return a
// config or an error naming the file, never panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("agent = \"claude\"\n[sandbox]\ndriver = \"none\"\n"))
	f.Add([]byte("[sandbox\n"))
	f.Add([]byte("agent = [1, 2]\n"))
	f.Add([]byte("branchPrefix = \"a/b/\"\nworktreeDir = \"../wt\"\n"))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.toml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(Sources{Files: []File{{Kind: "repo", Path: p}}})
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, v := range c.All() {
			if k, _ := Lookup(v.Key); k.List {
				for _, item := range v.List {
					if k.Validate(item) != nil {
						t.Fatalf("accepted invalid %s item %q", v.Key, item)
					}
				}
			} else if k.Validate != nil && k.Validate(v.Value) != nil {
				t.Fatalf("accepted invalid %s = %q", v.Key, v.Value)
			}
		}
	})
}

func TestLists(t *testing.T) {
	t.Parallel()
	p := write(t, t.TempDir(), "r.toml", "setup = [\"make deps\", \"echo ready\"]\nports = [\"3000\", \"8080:80\"]\n")
	c, err := Load(Sources{Files: []File{{Kind: "repo", Path: p}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Setup(), "|"); got != "make deps|echo ready" {
		t.Errorf("setup = %q", got)
	}
	if got := c.Ports(); len(got) != 2 || got[0] != [2]int{3000, 3000} || got[1] != [2]int{8080, 80} {
		t.Errorf("ports = %v", got)
	}
	// git config, multi-valued, beats the file as a whole list.
	c, err = Load(Sources{Files: []File{{Kind: "repo", Path: p}}, Git: []GitEntry{
		{Scope: "local", Where: "file:.git/config", Key: "loop.setup", Value: "a"},
		{Scope: "local", Where: "file:.git/config", Key: "loop.setup", Value: "b"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Setup(), "|"); got != "a|b" {
		t.Errorf("setup from git = %q", got)
	}
	bad := write(t, t.TempDir(), "b.toml", "ports = [\"http\"]\n")
	if _, err := Load(Sources{Files: []File{{Kind: "repo", Path: bad}}}); err == nil || !strings.Contains(err.Error(), "http") {
		t.Errorf("bad port: %v", err)
	}
	if c, _ := Load(Sources{}); len(c.Setup()) != 0 || len(c.Ports()) != 0 {
		t.Errorf("defaults: %v %v", c.Setup(), c.Ports())
	}
}

// FuzzSimplePrefix checks the written-out prefix check against the
// pattern it spells out.
func FuzzSimplePrefix(f *testing.F) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*/?$`)
	for _, s := range []string{"", "/", "loop/", "loop", "agents/loop-", "a//b", "a/b/", "a/b//", "../x", ".a", "a/.b", "a/b.c_d-e/", "é/", "a\n/", "A9/z", "-a", "a/-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := simplePrefix(s), re.MatchString(s); got != want {
			t.Errorf("simplePrefix(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

// TestPlainGitNames: the plainGit setting accepts the names of git's
// shortcuts, and every one.
func TestPlainGitNames(t *testing.T) {
	var want []string
	for _, sc := range git.AllShortcuts {
		want = append(want, string(sc))
	}
	if !slices.Equal(plainGitShortcuts, want) {
		t.Errorf("plainGit knows %v, git has %v", plainGitShortcuts, want)
	}
	for _, v := range []string{"true", "0", "worktree,status", "config"} {
		if err := validPlainGit(v); err != nil {
			t.Errorf("plainGit %q: %v", v, err)
		}
	}
	if validPlainGit("worktree,nope") == nil {
		t.Error(`plainGit "worktree,nope" accepted`)
	}
}

// TestSandboxLimits: the limit settings read as docker reads its flags,
// and a bad value names the setting.
func TestSandboxLimits(t *testing.T) {
	for v, want := range map[string]int64{"": 0, "512m": 512 << 20, "4g": 4 << 30, "4G": 4 << 30, "1048576": 1 << 20, "2k": 2048} {
		if got, err := ParseSize(v); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	for _, v := range []string{"-1", "0", "g", "4x", "1.5g", "99999999999t"} {
		if _, err := ParseSize(v); err == nil {
			t.Errorf("ParseSize(%q) accepted", v)
		}
	}
	for v, want := range map[string]int64{"": 0, "2": 2e9, "1.5": 15e8, "0.25": 25e7} {
		if got, err := ParseCPUs(v); err != nil || got != want {
			t.Errorf("ParseCPUs(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	for _, v := range []string{"0", "-1", "two", "0.001"} {
		if _, err := ParseCPUs(v); err == nil {
			t.Errorf("ParseCPUs(%q) accepted", v)
		}
	}
	c, err := Load(Sources{Flags: map[string]string{"sandbox.memory": "1g", "sandbox.cpus": "0.5"}})
	if err != nil {
		t.Fatal(err)
	}
	if pids, mem, cpus := c.SandboxLimits(); pids != 4096 || mem != 1<<30 || cpus != 5e8 {
		t.Errorf("SandboxLimits = %d, %d, %d", pids, mem, cpus)
	}
	if got := c.SandboxNetwork(); got != "isolated" {
		t.Errorf("default sandbox.network = %q", got)
	}
	for key, bad := range map[string]string{"sandbox.pids": "lots", "sandbox.memory": "4x", "sandbox.cpus": "all", "sandbox.network": "bridge"} {
		_, err := Load(Sources{Flags: map[string]string{key: bad}})
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s = %q: err %v, want one naming the setting", key, bad, err)
		}
	}
}
