package sandboxe2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	loopstatus "github.com/gitloop-dev/git-loop/gitloop/status"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

// newRepo returns a fresh repository set up for d, whose loops, containers
// and images are uninstalled when the test ends. Its git identity is the
// user's global one (from the hermetic ~/.gitconfig): git loop carries it
// into the sandbox's own $HOME.
func newRepo(t *testing.T, d cmdtest.Driver) string {
	t.Helper()
	repo := gittest.Repo(t)
	d.Prepare(t, repo)
	cmdtest.CleanUp(t, repo, nil)
	return repo
}

// newLoop runs "git loop new NAME --driver D --detach" and returns the
// loop's worktree.
func newLoop(t *testing.T, repo string, d cmdtest.Driver, name string) string {
	t.Helper()
	r := cmdtest.MustRun(t, repo, "new", name, "--driver", d.Name, "--detach")
	return strings.TrimSpace(r.Stdout)
}

// newUnsealedLoop is newLoop for a loop made unsealed whatever the
// settings (sandbox.sealed=false for its new): the tests of the shared git
// dir's defences, and of what a sealed loop is migrated from.
func newUnsealedLoop(t *testing.T, repo string, d cmdtest.Driver, name string) string {
	t.Helper()
	o := cmdtest.Options{Env: map[string]string{"GIT_LOOP_SANDBOX_SEALED": "false"}}
	r := cmdtest.RunWith(t, repo, o, "new", name, "--driver", d.Name, "--detach")
	if r.Code != 0 {
		t.Fatalf("git loop new %s (unsealed): exit %d\n%s%s", name, r.Code, r.Stdout, r.Stderr)
	}
	if cmdtest.ReadMeta(t, repo, name).Sandbox.Sealed {
		t.Fatalf("loop %s is sealed", name)
	}
	return strings.TrimSpace(r.Stdout)
}

// sh runs a shell script in a loop's sandbox with "git loop exec" and
// returns its stdout; it fails the test unless the script exits 0.
func sh(t *testing.T, repo, loop, script string) string {
	t.Helper()
	r := cmdtest.Run(t, repo, "exec", loop, "--", "sh", "-c", script)
	if r.Code != 0 {
		t.Fatalf("git loop exec %s -- sh -c %q: exit %d\nstdout:\n%s\nstderr:\n%s", loop, script, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

func status(t *testing.T, repo, loop string) loopstatus.LoopStatus {
	t.Helper()
	r := cmdtest.MustRun(t, repo, "status", loop, "--json")
	var st loopstatus.LoopStatus
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.Stdout)
	}
	return st
}

func workspaceID(t *testing.T, repo string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func owner(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

func quote(s string) string { return sandbox.ShellQuote([]string{s}) }

// TestGitInside: git in the sandbox works on the loop's worktree as on the
// host, its commits land on loop/NAME, and what it writes is the user's.
func TestGitInside(t *testing.T) {
	t.Parallel()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			wt := newLoop(t, repo, d, "x")

			if got := sh(t, repo, "x", "git status --porcelain --branch"); got != "## loop/x\n" {
				t.Errorf("git status inside: %q", got)
			}
			sh(t, repo, "x", "git commit -q --allow-empty -m inside")
			if got := gittest.Git(t, repo, "log", "-1", "--format=%s", "loop/x"); got != "inside" {
				t.Errorf("loop/x on the host after an empty commit inside: %q", got)
			}
			sh(t, repo, "x", "mkdir made && echo data > made/file && git add made && git commit -q -m file && git status --porcelain")
			inside := strings.TrimSpace(sh(t, repo, "x", "git rev-parse HEAD"))
			if host := gittest.Git(t, repo, "rev-parse", "loop/x"); host != inside {
				t.Errorf("loop/x is %s on the host, HEAD is %s inside", host, inside)
			}
			if got := gittest.Git(t, repo, "show", "loop/x:made/file"); got != "data" {
				t.Errorf("made/file at loop/x: %q", got)
			}
			if got := sh(t, repo, "x", "git log --format=%s"); got != "file\ninside\ninitial\n" {
				t.Errorf("git log inside: %q", got)
			}
			tree := hostTree(t, repo, "x", wt)
			uid, name := sandboxUser(t, repo, "x", me.Username)
			for _, p := range []string{filepath.Join(tree, "made"), filepath.Join(tree, "made", "file")} {
				if got := owner(t, p); got != uid {
					t.Errorf("%s belongs to uid %d on the host, want %d", p, got, uid)
				}
			}
			// The user is known by name, and $HOME is the loop's.
			home := filepath.Join(repo, ".git", "loop", "loops", "x", "home")
			if got := sh(t, repo, "x", `whoami; id -un; echo "$HOME"`); got != name+"\n"+name+"\n"+home+"\n" {
				t.Errorf("whoami, id -un, $HOME: %q, want %s twice and %s", got, name, home)
			}
		})
	}
}

// TestIsolation: from loop a, nothing of loop b, of the workspace's state,
// of the user's home (a vault there) or of the Docker socket is reachable;
// a's own worktree, state and $HOME are.
func TestIsolation(t *testing.T) {
	t.Parallel()
	vault := filepath.Join(hostHome, "secret-vault")
	gittest.WriteFile(t, vault, "x", "secret\n")
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			newLoop(t, repo, d, "a")
			bWorktree := newLoop(t, repo, d, "b")
			loops := filepath.Join(repo, ".git", "loop", "loops")
			checks := []struct {
				what, test string
				want       bool
			}{
				{"own worktree writable", `test -w "$GIT_LOOP_WORKDIR" && test "$PWD" = "$GIT_LOOP_WORKDIR"`, true},
				{"own agent dir", `test -d "$GIT_LOOP_AGENT_DIR" && test -w "$GIT_LOOP_AGENT_DIR"`, true},
				{"own record", "test -e " + quote(filepath.Join(loops, "a", "meta.json")) + " || test -e " + quote(filepath.Join(repo, ".git", "loop", "host", "a")), false},
				{"host-only state", "test -e " + quote(filepath.Join(repo, ".git", "loop", "host")), false},
				{"own $HOME", `test "$HOME" = ` + quote(filepath.Join(loops, "a", "home")) + ` && test -w "$HOME"`, true},
				// A sealed loop's sandbox has its own clone and none of the
				// host's git dir but its objects, read-only.
				{"common git dir", "test -f " + quote(filepath.Join(repo, ".git", "HEAD")), !isSealed(t, repo, "a")},
				{"other loop's worktree", "test -e " + quote(bWorktree) + " || ls " + quote(bWorktree), false},
				{"other loop's state", "test -e " + quote(filepath.Join(loops, "b")), false},
				{"workspace state", "test -e " + quote(filepath.Join(repo, ".git", "loop", "id")), false},
				{"main worktree", "test -e " + quote(filepath.Join(repo, "README.md")), false},
				{"vault dir", "test -e " + quote(vault), false},
				{"vault file", "cat " + quote(filepath.Join(vault, "x")), false},
				{"user's home", "test -e " + quote(hostHome), false},
				{"docker socket", "test -e /var/run/docker.sock || test -e /run/docker.sock", false},
			}
			var script strings.Builder
			for _, c := range checks {
				fmt.Fprintf(&script, "if { %s; } >/dev/null 2>&1; then echo 1; else echo 0; fi\n", c.test)
			}
			fmt.Fprintf(&script, "ls %s\n", quote(loops))
			lines := strings.Split(strings.TrimSpace(sh(t, repo, "a", script.String())), "\n")
			if len(lines) < len(checks) {
				t.Fatalf("check output %q", lines)
			}
			for i, c := range checks {
				if got := lines[i] == "1"; got != c.want {
					t.Errorf("%s: reachable %v, want %v (%s)", c.what, got, c.want, c.test)
				}
			}
			if rest := lines[len(checks):]; len(rest) != 1 || rest[0] != "a" {
				t.Errorf("loops seen from a: %q, want just a", rest)
			}
			// Writing where b's worktree is does not reach b.
			intruder := filepath.Join(bWorktree, "intruder")
			cmdtest.Run(t, repo, "exec", "a", "--", "sh", "-c", "mkdir -p "+quote(bWorktree)+" && echo x > "+quote(intruder))
			if _, err := os.Stat(intruder); err == nil {
				t.Errorf("loop a wrote %s", intruder)
			}
		})
	}
}

// TestDockerLifecycle: stop, then exec brings the same container back; a
// container removed behind git loop's back is made again with $HOME kept;
// a changed config makes a new container, an unchanged one keeps it.
func TestDockerLifecycle(t *testing.T) {
	t.Parallel()
	repo := newRepo(t, cmdtest.DockerDriver)
	api := dockertest.NewAPI(t)
	newLoop(t, repo, cmdtest.DockerDriver, "x")
	name := "gitloop-" + workspaceID(t, repo) + "-x"
	inspect := func(wantRunning bool) dockertest.Container {
		t.Helper()
		c, ok := api.Inspect(t, name)
		if !ok || c.Running != wantRunning {
			t.Fatalf("container %s: exists %v, running %v; want running %v", name, ok, c.Running, wantRunning)
		}
		return c
	}
	c0 := inspect(true)
	if st := status(t, repo, "x"); st.SandboxID != c0.ID || st.Sandbox != sandbox.StateRunning {
		t.Errorf("status: sandbox %s %s, want running %s", st.Sandbox, st.SandboxID, c0.ID)
	}
	sh(t, repo, "x", `echo kept > "$HOME/keep"`)

	cmdtest.MustRun(t, repo, "stop", "x")
	inspect(false)
	if st := status(t, repo, "x"); st.Sandbox != sandbox.StateStopped {
		t.Errorf("status after stop: %s", st.Sandbox)
	}
	sh(t, repo, "x", "true")
	if c := inspect(true); c.ID != c0.ID {
		t.Errorf("exec after stop made container %s, want %s started again", c.ID, c0.ID)
	}
	cmdtest.MustRun(t, repo, "start", "x")
	if c := inspect(true); c.ID != c0.ID {
		t.Errorf("start with nothing changed made container %s, want %s", c.ID, c0.ID)
	}

	api.RemoveContainer(t, name)
	if st := status(t, repo, "x"); st.Sandbox != sandbox.StateMissing {
		t.Errorf("status after docker rm -f: %s", st.Sandbox)
	}
	if got := sh(t, repo, "x", `cat "$HOME/keep"`); got != "kept\n" {
		t.Errorf("$HOME after the container was made again: %q", got)
	}
	c1 := inspect(true)
	if c1.ID == c0.ID {
		t.Fatal("container id unchanged after docker rm -f")
	}

	// A loop's sandbox settings are recorded when it is made; a changed
	// record (here: a port to publish) is a changed config.
	port := freePort(t)
	editMeta(t, repo, "x", func(sb map[string]any) { sb["ports"] = [][2]int{{port, 80}} })
	cmdtest.MustRun(t, repo, "start", "x")
	c2 := inspect(true)
	if c2.ID == c1.ID || c2.Labels[sandbox.LabelConfigHash] == c1.Labels[sandbox.LabelConfigHash] {
		t.Errorf("after a port was added: container %s, hash %s; want a new one (was %s, %s)",
			c2.ID, c2.Labels[sandbox.LabelConfigHash], c1.ID, c1.Labels[sandbox.LabelConfigHash])
	}
	if st := status(t, repo, "x"); len(st.Ports) != 1 || st.Ports[0] != (sandbox.Port{Host: port, Container: 80}) || st.SandboxID != c2.ID {
		t.Errorf("status after start: ports %+v, id %s; want %d:80 on %s", st.Ports, st.SandboxID, port, c2.ID)
	}
	if got := sh(t, repo, "x", `cat "$HOME/keep"`); got != "kept\n" {
		t.Errorf("$HOME after the config changed: %q", got)
	}
	if c := inspect(true); c.ID != c2.ID {
		t.Errorf("exec with nothing changed made container %s, want %s", c.ID, c2.ID)
	}
}

// editMeta changes the sandbox part of a loop's record, as a later
// version of the settings would.
func editMeta(t *testing.T, repo, loop string, edit func(sandbox map[string]any)) {
	t.Helper()
	path := filepath.Join(repo, ".git", "loop", "host", loop, "meta.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	sb, _ := m["sandbox"].(map[string]any)
	edit(sb)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestSecretsStayOut: the caller's environment does not reach the
// sandbox, and env given to one exec (how vault secrets travel) is not in
// what the engine stores about the loop's container.
func TestSecretsStayOut(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			newLoop(t, repo, d, "x")
			secret := fmt.Sprintf("s3cret-%d", time.Now().UnixNano())

			// A real git-loop process with the secret in its environment.
			cmd := exec.Command(filepath.Join(binDir, "git-loop"), "exec", "x", "--", "sh", "-c", `echo "${GIT_LOOP_TEST_SECRET:-absent}"`)
			cmd.Dir = repo
			cmd.Env = append(os.Environ(), "GIT_LOOP_TEST_SECRET="+secret)
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != "absent\n" {
				t.Errorf("the caller's environment in the sandbox: %q, %v", out, err)
			}
			if d.Name != "docker" {
				return // bwrap stores nothing: each exec's env dies with it
			}

			// An exec of the loop's own spec with the secret in its env,
			// held open while the container is inspected.
			f, _, _ := cmdtest.NewFactory(repo, cmdtest.Options{})
			ctx := t.Context()
			ws, err := f.Workspace(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ws.Get("x")
			if err != nil {
				t.Fatal(err)
			}
			spec, err := sandboxspec.Spec(ws, m)
			if err != nil {
				t.Fatal(err)
			}
			eng, err := f.Engines.For(ctx, "docker")
			if err != nil {
				t.Fatal(err)
			}
			pr, pw := io.Pipe()
			defer pw.Close()
			outR, outW := io.Pipe()
			done := make(chan error, 1)
			go func() {
				code, err := eng.Exec(ctx, spec, sandbox.Exec{
					Cmd:   []string{"sh", "-c", `echo "$GIT_LOOP_TEST_SECRET"; read x || true`},
					Env:   map[string]string{"GIT_LOOP_TEST_SECRET": secret},
					Stdin: pr, Stdout: outW,
				})
				if err == nil && code != 0 {
					err = fmt.Errorf("exit %d", code)
				}
				outW.CloseWithError(err)
				done <- err
			}()
			if line, err := bufio.NewReader(outR).ReadString('\n'); err != nil || line != secret+"\n" {
				t.Fatalf("the exec sees %q (%v), want the secret", line, err)
			}
			c, ok := dockertest.NewAPI(t).Inspect(t, spec.Name())
			if !ok {
				t.Fatalf("no container %s", spec.Name())
			}
			if strings.Contains(c.Raw, secret) {
				t.Errorf("docker inspect %s shows the secret:\n%s", spec.Name(), c.Raw)
			}
			var stored struct{ Config struct{ Env []string } }
			if err := json.Unmarshal([]byte(c.Raw), &stored); err != nil {
				t.Fatal(err)
			}
			for _, kv := range stored.Config.Env {
				if strings.HasPrefix(kv, "GIT_LOOP_") {
					t.Errorf("the container's stored env has the loop's per-exec env: %s", kv)
				}
			}
			pw.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestUninstallLeavesOtherWorkspace: uninstalling workspace A removes its
// containers and images and leaves B's container, image and network; then
// uninstalling B leaves nothing of either on the engine.
func TestUninstallLeavesOtherWorkspace(t *testing.T) {
	t.Parallel()
	api := dockertest.NewAPI(t)
	busybox := dockertest.BusyboxImage(t, dockertest.Engine(t))
	ctxDir := t.TempDir()
	gittest.WriteFile(t, ctxDir, "Dockerfile", "FROM "+busybox+"\nRUN echo made > /made\n")

	repos := map[string]string{}
	ids := map[string]string{}
	images := map[string]string{}
	for _, ws := range []string{"A", "B"} {
		repo := newRepo(t, cmdtest.DockerDriver)
		newLoop(t, repo, cmdtest.DockerDriver, strings.ToLower(ws))
		repos[ws], ids[ws] = repo, workspaceID(t, repo)
		images[ws] = "gitloop-test/ws-" + strings.ToLower(ws) + "-" + ids[ws] + ":1"
		cmdtest.MustRun(t, repo, "image", "build", "--dir", ctxDir, "--tag", images[ws])
	}
	network := "gitloop-test-" + ids["B"]
	api.CreateNetwork(t, network, map[string]string{sandbox.LabelWorkspace: ids["B"]})

	r := cmdtest.MustRun(t, repos["A"], "uninstall", "--yes", "--force")
	for _, want := range []string{"gitloop-" + ids["A"] + "-a", images["A"]} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("uninstall A did not list %s:\n%s", want, r.Stdout)
		}
	}
	if cs, is, ns := api.Labelled(t, sandbox.LabelWorkspace, ids["A"]); len(cs)+len(is)+len(ns) > 0 {
		t.Errorf("after uninstall A, labelled with A: containers %v, images %v, networks %v", cs, is, ns)
	}
	if c, ok := api.Inspect(t, "gitloop-"+ids["B"]+"-b"); !ok || !c.Running {
		t.Errorf("B's container after uninstall A: exists %v, running %v", ok, c.Running)
	}
	if _, ok := api.ImageLabels(t, images["B"]); !ok {
		t.Errorf("B's image %s is gone after uninstall A", images["B"])
	}
	if _, _, ns := api.Labelled(t, sandbox.LabelWorkspace, ids["B"]); len(ns) != 1 || ns[0] != network {
		t.Errorf("B's networks after uninstall A: %v, want %s", ns, network)
	}
	if _, ok := api.ImageLabels(t, busybox); !ok {
		t.Errorf("the base image %s went with A", busybox)
	}

	cmdtest.MustRun(t, repos["B"], "uninstall", "--yes", "--force")
	// Other tests run beside this one, so "nothing left" is checked per
	// workspace: no container, image or network carries A's or B's label.
	for _, ws := range []string{"A", "B"} {
		if cs, is, ns := api.Labelled(t, sandbox.LabelWorkspace, ids[ws]); len(cs)+len(is)+len(ns) > 0 {
			t.Errorf("after both uninstalls, labelled with %s: containers %v, images %v, networks %v", ws, cs, is, ns)
		}
	}
	if _, err := os.Stat(filepath.Join(repos["B"], ".git", "loop")); !os.IsNotExist(err) {
		t.Errorf("B's state dir after uninstall: %v", err)
	}
}

// TestImageBuild: "git loop image build" with a Dockerfile of one's own
// streams the build on stderr and labels the image with the workspace; the
// bundled Dockerfile builds on the local Debian image and gives a sandbox
// with git in it.
func TestImageBuild(t *testing.T) {
	t.Parallel()
	t.Run("dir", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t, cmdtest.DockerDriver)
		api := dockertest.NewAPI(t)
		busybox := dockertest.BusyboxImage(t, dockertest.Engine(t))
		ctxDir := t.TempDir()
		gittest.WriteFile(t, ctxDir, "Dockerfile", "FROM "+busybox+"\nRUN echo built-marker > /marker\n")
		ws := workspaceIDOf(t, repo)
		tag := "gitloop-test/own-" + ws + ":1"
		r := cmdtest.MustRun(t, repo, "image", "build", "--dir", ctxDir, "--tag", tag)
		if !strings.Contains(r.Stderr, "RUN echo built-marker") || !strings.Contains(r.Stderr, tag) {
			t.Errorf("build progress on stderr:\n%s", r.Stderr)
		}
		if !strings.HasPrefix(strings.TrimSpace(r.Stdout), "sha256:") {
			t.Errorf("stdout %q, want the image id", r.Stdout)
		}
		labels, ok := api.ImageLabels(t, tag)
		if !ok || labels[sandbox.LabelWorkspace] != ws {
			t.Errorf("image %s: exists %v, labels %v; want %s=%s", tag, ok, labels, sandbox.LabelWorkspace, ws)
		}
	})
	t.Run("bundled", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t, cmdtest.DockerDriver)
		base := dockertest.DebianImage(t, dockertest.Engine(t))
		tag := "gitloop-test/bundled-" + workspaceIDOf(t, repo) + ":1"
		gittest.Git(t, repo, "config", "loop.sandbox.image", tag)
		r := cmdtest.MustRun(t, repo, "image", "build", "--build-arg", "BASE="+base, "--build-arg", "PACKAGES=")
		if !strings.Contains(r.Stderr, "Building "+tag) {
			t.Errorf("build of the default tag: stderr\n%s", r.Stderr)
		}
		newLoop(t, repo, cmdtest.DockerDriver, "x")
		if got := sh(t, repo, "x", "git --version >/dev/null && git config --system --get safe.directory && getent passwd dev | cut -d: -f3"); got != "*\n1000\n" {
			t.Errorf("in the bundled image: %q, want safe.directory * and user dev (1000)", got)
		}
	})
}

// workspaceIDOf is the workspace id of a repo with no loop yet, as git
// loop computes it.
func workspaceIDOf(t *testing.T, repo string) string {
	t.Helper()
	r, err := workspace.Discover(t.Context(), repo)
	if err != nil {
		t.Fatal(err)
	}
	id, err := r.WorkspaceID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSetup: setup commands run once, inside the new loop's sandbox, with
// their output shown; a failing one fails "new" naming the command, and
// leaves the loop for the user to fix.
func TestSetup(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			gittest.Git(t, repo, "config", "--add", "loop.setup", "echo hello > setup.txt")
			gittest.Git(t, repo, "config", "--add", "loop.setup", "uname -n >> runs.txt; echo setup-output-marker")
			r := cmdtest.MustRun(t, repo, "new", "s", "--driver", d.Name, "--detach")
			wt := hostTree(t, repo, "s", strings.TrimSpace(r.Stdout))
			if !strings.Contains(r.Stderr, "setup-output-marker") {
				t.Errorf("setup output not shown on stderr:\n%s", r.Stderr)
			}
			if got, err := os.ReadFile(filepath.Join(wt, "setup.txt")); err != nil || string(got) != "hello\n" {
				t.Errorf("setup.txt: %q, %v", got, err)
			}
			if uid, want := owner(t, filepath.Join(wt, "setup.txt")), sandboxUID(t, repo, "s"); uid != want {
				t.Errorf("setup.txt belongs to uid %d, want %d", uid, want)
			}
			sh(t, repo, "s", "true")
			cmdtest.MustRun(t, repo, "start", "s")
			// The sandbox's hostname is the loop's name: the setup ran
			// inside, and once.
			if got, err := os.ReadFile(filepath.Join(wt, "runs.txt")); err != nil || string(got) != "s\n" {
				t.Errorf("runs.txt: %q, %v; want one run, inside (hostname s)", got, err)
			}

			failing := newRepo(t, d)
			gittest.Git(t, failing, "config", "--add", "loop.setup", "echo about-to-fail; exit 7")
			r = cmdtest.Run(t, failing, "new", "f", "--driver", d.Name, "--detach")
			if r.Code == 0 || !strings.Contains(r.Stderr, "exit 7") || !strings.Contains(r.Stderr, "about-to-fail") {
				t.Errorf("failing setup: exit %d, stderr:\n%s", r.Code, r.Stderr)
			}
			if st := status(t, failing, "f"); st.Name != "f" || st.Driver != d.Name {
				t.Errorf("the loop after a failed setup: %+v", st)
			}
		})
	}
}

// TestSandboxCannotCommandTheHost: git on the host reads the repository's
// config and runs its hooks, so a sandbox must not be able to change
// either; nor may it see other worktrees' admin dirs. Commits inside carry
// the user's identity although the sandbox's $HOME is its own.
func TestSandboxCannotCommandTheHost(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			newLoop(t, repo, d, "a")
			newLoop(t, repo, d, "b")
			common := filepath.Join(repo, ".git")
			marker := filepath.Join(t.TempDir(), "pwned")
			sealed := isSealed(t, repo, "a")
			scripts := []string{
				"printf '#!/bin/sh\\ntouch " + marker + "\\n' > " + quote(filepath.Join(common, "hooks", "post-checkout")),
				"chmod +x " + quote(filepath.Join(common, "hooks")),
			}
			if !sealed {
				// A sealed loop's config is its own clone's (see
				// TestSealedHostileClone); an unsealed one's is the host's.
				scripts = append(scripts, "git config core.fsmonitor "+quote("touch "+marker))
			}
			for _, script := range scripts {
				if r := cmdtest.Run(t, repo, "exec", "a", "--", "sh", "-c", script); r.Code == 0 {
					t.Errorf("sandbox could run %q", script)
				}
			}
			// The host has one admin dir per unsealed loop; loop a sees
			// only its own (a sealed one, none: it has no host worktree).
			if !sealed {
				if host, _ := os.ReadDir(filepath.Join(common, "worktrees")); len(host) != 2 {
					t.Fatalf("host worktree admin dirs: %v", host)
				}
				out := strings.Fields(sh(t, repo, "a", "ls "+quote(filepath.Join(common, "worktrees"))))
				if len(out) != 1 {
					t.Errorf("worktree admin dirs visible from loop a: %q", out)
				}
			}
			// The host's own git still works and runs nothing planted.
			cmdtest.MustRun(t, repo, "ls")
			gittest.Git(t, repo, "status")
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("a command planted from the sandbox ran on the host")
			}
			sh(t, repo, "a", "echo x > f && git add f && git commit -qm inside")
			if author := gittest.Git(t, repo, "log", "-1", "--format=%an <%ae>", "loop/a"); author != "Loop Tester <tester@example.com>" {
				t.Errorf("commit made inside has author %q", author)
			}
		})
	}
}

// TestAutostartAdoptedLoop: with loop.autostart, a worktree made by plain
// "git worktree add -b loop/NAME" gets its running container from the
// post-checkout hook.
func TestAutostartAdoptedLoop(t *testing.T) {
	t.Parallel()
	repo := newRepo(t, cmdtest.DockerDriver)
	api := dockertest.NewAPI(t)
	cmdtest.MustRun(t, repo, "config", "set", "sandbox.driver", "docker")
	cmdtest.MustRun(t, repo, "config", "set", "autostart", "true")
	cmdtest.MustRun(t, repo, "hooks", "install", "--repo")
	wt := filepath.Join(t.TempDir(), "auto")
	out, err := exec.Command("git", "-C", repo, "worktree", "add", "-b", "loop/auto", wt).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `is loop "auto"`) {
		t.Fatalf("git worktree add: %v\n%s", err, out)
	}
	c, ok := api.Inspect(t, "gitloop-"+workspaceID(t, repo)+"-auto")
	if !ok || !c.Running {
		t.Fatalf("adopted loop's container: exists %v, running %v", ok, c.Running)
	}
	if got := strings.TrimSpace(sh(t, repo, "auto", `cat README.md >/dev/null && git rev-parse --abbrev-ref HEAD`)); got != "loop/auto" {
		t.Errorf("in the adopted loop's sandbox HEAD is %q", got)
	}
}

// TestPushGuardInSandbox: the agent's own pushes meet the pre-push guard
// inside the sandbox, with the user's settings (here a gate set in the
// user's config file, which the sandbox cannot read): loop work pushed
// straight to the base of a gated layer is refused, the loop branch is
// not, and the other hooks stay quiet there.
func TestPushGuardInSandbox(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			cmdtest.MustRun(t, repo, "hooks", "install", "--repo")
			newLoop(t, repo, d, "p")
			push := func(ref string) cmdtest.Result {
				t.Helper()
				return cmdtest.Run(t, repo, "exec", "p", "--", "sh", "-c", `r="$HOME/remote.git"; [ -d "$r" ] || git init -q --bare "$r"; git commit -q --allow-empty -m work && git push -q "$r" `+ref)
			}
			r := push("HEAD:main")
			if r.Code == 0 || !strings.Contains(r.Stderr, `refusing to push straight to refs/heads/main`) {
				t.Errorf("push to main from the sandbox: exit %d\n%s", r.Code, r.Stderr)
			}
			r = push("HEAD:refs/heads/loop/p")
			if r.Code != 0 || strings.Contains(r.Stderr, "git loop") {
				t.Errorf("push of the loop branch from the sandbox: exit %d\n%s", r.Code, r.Stderr)
			}
			// The user's own setting, in a config file the sandbox cannot
			// read, reaches the guard there: with code.gate = "direct"
			// pushing to main is the user's way of landing.
			xdg := t.TempDir()
			gittest.WriteFile(t, xdg, "git-loop/config.toml", "[code]\ngate = \"direct\"\n")
			r = cmdtest.RunWith(t, repo, cmdtest.Options{Env: map[string]string{"XDG_CONFIG_HOME": xdg}}, "exec", "p", "--", "sh", "-c", `git push -q "$HOME/remote.git" HEAD:main`)
			if r.Code != 0 {
				t.Errorf("push to main with code.gate=direct in the user's config: exit %d\n%s", r.Code, r.Stderr)
			}
			// A checkout inside runs post-checkout: nothing to say there.
			if r := cmdtest.Run(t, repo, "exec", "p", "--", "sh", "-c", `git worktree add -q -b side "$HOME/side" 2>&1`); strings.Contains(r.Stdout, "git loop") {
				t.Errorf("post-checkout in the sandbox spoke:\n%s", r.Stdout)
			}
		})
	}
}
