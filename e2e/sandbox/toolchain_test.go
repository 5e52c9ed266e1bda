package sandboxe2e_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/internal/testagents"
)

// toolServer serves a tarball of a tiny tool over loopback, as a release
// server would, and counts the downloads of each path.
type toolServer struct {
	*httptest.Server
	mu    sync.Mutex
	count map[string]int
}

func newToolServer(t *testing.T) *toolServer {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tool := "#!/bin/sh\necho \"toolchain tool ok: $0\"\n"
	for _, h := range []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "bin/gitloop-hello", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(tool))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(tool))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	ts := &toolServer{count: map[string]int{}}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		ts.count[r.URL.Path]++
		ts.mu.Unlock()
		if !strings.HasSuffix(r.URL.Path, "/gitloop-hello-1.0.0.tar.gz") {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(buf.Bytes())
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *toolServer) downloads(path string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.count[path]
}

// toolchainUser is a user whose personal tier declares a toolchain with
// one tool from ts at path, installed by the real mise; the sandbox
// reaches the loopback server through sandbox.network = host.
func toolchainUser(t *testing.T, d cmdtest.Driver, ts *toolServer, path string) *cmdtest.User {
	t.Helper()
	mise := testagents.Mise(t)
	repo := newRepo(t, d)
	gittest.Git(t, repo, "config", "loop.sandbox.network", "host")
	gittest.Git(t, repo, "config", "loop.sandbox.mise", mise)
	u := cmdtest.NewUser(t, repo)
	u.OK("init", "-q")
	personal := filepath.Join(u.Home, "data", "personal")
	gittest.WriteFile(t, personal, ".claude/mise.toml", fmt.Sprintf(`[env]
GITLOOP_TEAM_VAR = "from the tier"

[tools]
"http:gitloop-hello" = { version = "1.0.0", url = %q, bin_path = "bin" }
`, ts.URL+path))
	gittest.Commit(t, personal, "toolchain")
	return u
}

// TestToolchainInEveryLoop: the tools the tiers' mise.toml declares run in
// a loop through "git loop exec", installed by the real mise from a server
// on loopback; a second loop with the same toolchain reuses the build
// (no second download).
func TestToolchainInEveryLoop(t *testing.T) {
	t.Parallel()
	ts := newToolServer(t)
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			path := "/" + d.Name + "/gitloop-hello-1.0.0.tar.gz"
			u := toolchainUser(t, d, ts, path)
			u.OK("new", "a", "--driver", d.Name, "-d")
			r := u.OK("exec", "a", "--", "gitloop-hello")
			if !strings.Contains(r.Stdout, "toolchain tool ok") {
				t.Fatalf("exec a -- gitloop-hello: %q", r.Stdout)
			}
			if r := u.OK("exec", "a", "--", "sh", "-c", `echo "$GITLOOP_TEAM_VAR"`); strings.TrimSpace(r.Stdout) != "from the tier" {
				t.Errorf("the tier's [env] in the loop: %q", r.Stdout)
			}
			u.OK("new", "b", "--driver", d.Name, "-d")
			if r := u.OK("exec", "b", "--", "gitloop-hello"); !strings.Contains(r.Stdout, "toolchain tool ok") {
				t.Fatalf("exec b -- gitloop-hello: %q", r.Stdout)
			}
			if n := ts.downloads(path); n != 1 {
				t.Errorf("the tool was downloaded %d times for two loops, want once (the second loop reuses the build)", n)
			}
			// Shared by the loops: read-only inside.
			if r := u.Run("exec", "b", "--", "sh", "-c", `touch "$(dirname "$(readlink -f "$(command -v gitloop-hello)")")/planted"`); r.Code == 0 {
				t.Errorf("a loop could write into the shared toolchain")
			}
			meta := cmdtest.ReadMeta(t, u.Repo, "a")
			if meta.Sandbox.Toolchain == "" || !strings.HasPrefix(meta.Sandbox.ToolchainPath, meta.Sandbox.Toolchain+"/bin:") {
				t.Fatalf("record: toolchain %q, PATH %q", meta.Sandbox.Toolchain, meta.Sandbox.ToolchainPath)
			}
			// The attacker in loop a: plant a tool for loop b, or a record
			// that points the host at a dir of its choosing. Neither the
			// toolchain (read-only) nor its record (beside it, not mounted)
			// can be written; b still runs the real tool.
			before, _ := os.ReadFile(meta.Sandbox.Toolchain + ".json")
			attack := fmt.Sprintf(`tc=%q; for f in "$tc/bin/gitloop-hello" "$tc/bin/planted" "$tc.json" "$(dirname "$tc")/evil.json"; do (echo '#!/bin/sh' > "$f") 2>/dev/null; done; true`, meta.Sandbox.Toolchain)
			u.OK("exec", "a", "--", "sh", "-c", attack)
			for _, f := range []string{"bin/planted", "../evil.json"} {
				if _, err := os.Lstat(filepath.Join(meta.Sandbox.Toolchain, f)); err == nil {
					t.Errorf("the sandbox planted %s on the host", f)
				}
			}
			if after, _ := os.ReadFile(meta.Sandbox.Toolchain + ".json"); string(after) != string(before) || len(after) == 0 {
				t.Errorf("the host's record changed: %s", after)
			}
			if r := u.OK("exec", "b", "--", "gitloop-hello"); !strings.Contains(r.Stdout, "toolchain tool ok") {
				t.Errorf("loop b after the attack: %q", r.Stdout)
			}
			// A cache cleared behind git loop's back: the next exec
			// builds the toolchain again instead of failing on its mount.
			if err := os.RemoveAll(meta.Sandbox.Toolchain); err != nil {
				t.Fatal(err)
			}
			if r := u.Run("exec", "a", "--", "gitloop-hello"); r.Code != 0 || !strings.Contains(r.Stdout, "toolchain tool ok") {
				t.Errorf("exec after the cache was cleared: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			if n := ts.downloads(path); n != 2 {
				t.Errorf("after the cache was cleared: %d downloads, want 2", n)
			}
		})
	}
}

// TestToolchainAdoptedLoop: a loop adopted by the post-checkout hook
// (plain "git worktree add -b loop/NAME") gets its toolchain as new gives
// it, reusing the build; a tool that cannot be installed leaves the
// worktree alone and says so, and doctor --fix adopts it once fixed.
func TestToolchainAdoptedLoop(t *testing.T) {
	t.Parallel()
	ts := newToolServer(t)
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			path := "/adopt-" + d.Name + "/gitloop-hello-1.0.0.tar.gz"
			u := toolchainUser(t, d, ts, path)
			u.OK("config", "set", "sandbox.driver", d.Name)
			git := func(args ...string) string {
				cmd := exec.Command("git", append([]string{"-C", u.Repo}, args...)...)
				cmd.Env = append(os.Environ(), "GIT_LOOP_HOME="+u.Home)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("git %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			u.OK("new", "a", "--driver", d.Name, "-d")
			out := git("worktree", "add", "-b", "loop/h", filepath.Join(t.TempDir(), "h"))
			if !strings.Contains(out, `is loop "h"`) {
				t.Fatalf("not adopted:\n%s", out)
			}
			if r := u.OK("exec", "h", "--", "gitloop-hello"); !strings.Contains(r.Stdout, "toolchain tool ok") {
				t.Fatalf("exec h -- gitloop-hello in the adopted loop: %q", r.Stdout)
			}
			if a, h := cmdtest.ReadMeta(t, u.Repo, "a"), cmdtest.ReadMeta(t, u.Repo, "h"); h.Sandbox.Toolchain != a.Sandbox.Toolchain {
				t.Errorf("adopted loop's toolchain %q, new's %q: the same tiers give the same one", h.Sandbox.Toolchain, a.Sandbox.Toolchain)
			}
			if n := ts.downloads(path); n != 1 {
				t.Errorf("%d downloads for new and an adoption, want 1", n)
			}
			// A tier whose tool cannot be installed: the checkout goes
			// through, the hook names the tool, and no loop is left.
			personal := filepath.Join(u.Home, "data", "personal")
			toml, _ := os.ReadFile(filepath.Join(personal, ".claude", "mise.toml"))
			gittest.WriteFile(t, personal, ".claude/mise.toml", strings.ReplaceAll(string(toml), "gitloop-hello-1.0.0", "missing"))
			gittest.Commit(t, personal, "a broken tool")
			out = git("worktree", "add", "-b", "loop/bad", filepath.Join(t.TempDir(), "bad"))
			for _, want := range []string{"toolchain", "gitloop-hello", "doctor --fix"} {
				if !strings.Contains(out, want) {
					t.Errorf("the hook's output lacks %q:\n%s", want, out)
				}
			}
			if _, ok := u.Loops()["bad"]; ok {
				t.Errorf("a loop was left by the failed adoption")
			}
		})
	}
}

// TestToolchainCollected: "git loop prune" removes a toolchain once no
// loop uses it (its loop removed, here), never one a live loop uses.
func TestToolchainCollected(t *testing.T) {
	t.Parallel()
	ts := newToolServer(t)
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			u := toolchainUser(t, d, ts, "/gc-"+d.Name+"/gitloop-hello-1.0.0.tar.gz")
			u.OK("new", "a", "--driver", d.Name, "-d")
			u.OK("new", "b", "--driver", d.Name, "-d")
			old := cmdtest.ReadMeta(t, u.Repo, "a").Sandbox.Toolchain
			// The tier changes: a new loop gets another toolchain.
			personal := filepath.Join(u.Home, "data", "personal")
			toml, _ := os.ReadFile(filepath.Join(personal, ".claude", "mise.toml"))
			gittest.WriteFile(t, personal, ".claude/mise.toml", strings.Replace(string(toml), "[env]\n", "[env]\nGITLOOP_V2 = \"1\"\n", 1))
			gittest.Commit(t, personal, "v2")
			u.OK("new", "c", "--driver", d.Name, "-d")
			cur := cmdtest.ReadMeta(t, u.Repo, "c").Sandbox.Toolchain
			if cur == old || cur == "" {
				t.Fatalf("toolchains %q and %q", old, cur)
			}
			if r := u.OK("prune"); strings.Contains(r.Stdout, "toolchain") {
				t.Errorf("prune removed a toolchain loops use:\n%s", r.Stdout)
			}
			u.OK("rm", "a")
			if r := u.OK("prune"); strings.Contains(r.Stdout, "toolchain") {
				t.Errorf("prune removed a toolchain loop b uses:\n%s", r.Stdout)
			}
			u.OK("rm", "b")
			r := u.OK("prune", "--dry-run")
			if !strings.Contains(r.Stdout, "Would remove toolchain "+old) || strings.Contains(r.Stdout, cur) {
				t.Errorf("prune --dry-run:\n%s", r.Stdout)
			}
			r = u.OK("prune")
			if !strings.Contains(r.Stdout, "Removed toolchain "+old) {
				t.Errorf("prune:\n%s", r.Stdout)
			}
			if _, err := os.Stat(old); !os.IsNotExist(err) {
				t.Errorf("the unused toolchain is still there: %v", err)
			}
			if r := u.OK("exec", "c", "--", "gitloop-hello"); !strings.Contains(r.Stdout, "toolchain tool ok") {
				t.Errorf("loop c after prune: %q", r.Stdout)
			}
		})
	}
}

// TestToolchainFailureNamesTheTool: a tool mise cannot install stops new
// with an error that names it and says where the fix is; no loop is left.
func TestToolchainFailureNamesTheTool(t *testing.T) {
	t.Parallel()
	ts := newToolServer(t)
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			u := toolchainUser(t, d, ts, "/"+d.Name+"/missing.tar.gz")
			r := u.Run("new", "a", "--driver", d.Name, "-d")
			if r.Code == 0 {
				t.Fatalf("new with a tool that cannot be installed succeeded")
			}
			for _, want := range []string{"toolchain", "gitloop-hello", "mise.toml"} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("error lacks %q:\n%s", want, r.Stderr)
				}
			}
			if _, err := os.Stat(u.Worktree("a")); !os.IsNotExist(err) {
				t.Errorf("the failed new left its worktree: %v", err)
			}
		})
	}
}

// TestExecMissingProgram: a program the sandbox lacks gives the shell's
// 127 and a message naming it and the fixes, not the engine's raw words.
func TestExecMissingProgram(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			newLoop(t, repo, d, "m")
			r := cmdtest.Run(t, repo, "exec", "m", "--", "gitloop-no-such-program")
			if r.Code != 127 {
				t.Errorf("exit %d, want 127", r.Code)
			}
			for _, want := range []string{`"gitloop-no-such-program"`, "toolchain", "mise.toml", "setup"} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
				}
			}
			if d.Name == "docker" && !strings.Contains(r.Stderr, "sandbox.image") {
				t.Errorf("docker: stderr does not name sandbox.image:\n%s", r.Stderr)
			}
			if strings.Contains(r.Stdout+r.Stderr, "OCI runtime") {
				t.Errorf("the engine's raw message reached the user:\n%s%s", r.Stdout, r.Stderr)
			}
			// A program that exits 127 itself is not missing.
			if r := cmdtest.Run(t, repo, "exec", "m", "--", "sh", "-c", "exit 127"); r.Code != 127 || strings.Contains(r.Stderr, "toolchain") {
				t.Errorf("sh -c 'exit 127': exit %d\n%s", r.Code, r.Stderr)
			}
		})
	}
}
