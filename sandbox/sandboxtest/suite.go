package sandboxtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// Options say what the engine under test promises beyond the common
// contract, so that the suite checks exactly that.
type Options struct {
	// Image the sandboxes run; empty for drivers without images.
	Image string
	// User is the "uid:gid" the sandboxes run as; empty is the invoking
	// user. When the tests run as root, the suite hands the writable dirs
	// to this user, and expects files written inside to belong to it.
	User string
	// Persistent engines keep one sandbox per loop between execs, with an
	// id that survives Ensure, a stopped state, and labels that List finds
	// (docker). Without it (bwrap) the suite checks what execs see.
	Persistent bool
	// AllocatesTTY engines give a TTY exec a terminal of their own and
	// honour Exec.Resize (docker); others hand the caller's through.
	AllocatesTTY bool
	// PublishesPorts engines make Spec.Ports reachable on the host's
	// loopback and report them in Status.
	PublishesPorts bool
	// Inspect returns everything the engine stores about the named
	// sandbox (for docker, the container's inspect JSON), which must not
	// hold any secret. Nil when the engine stores nothing.
	Inspect func(t *testing.T, name string) string
	// Vanish removes the named sandbox behind the driver's back, as a user
	// running "docker rm -f" would. Nil uses the engine's Remove.
	Vanish func(t *testing.T, name string)
}

// Run is the behaviour suite every sandbox driver passes against its real
// engine. newEngine is called once per subtest, so that nothing a driver
// remembers in memory can stand in for what the engine knows. Subtests run
// in parallel, each with its own loop in a workspace id unique to this run,
// and remove their sandboxes when done.
func Run(t *testing.T, newEngine func(t *testing.T) sandbox.Engine, opts Options) {
	s := &suite{newEngine: newEngine, opts: opts, ws: randomID(t, "t")}
	t.Run("EnsureCreates", s.ensureCreates)
	t.Run("Exec", s.exec)
	t.Run("ExecStdin", s.execStdin)
	t.Run("StdinLeftForNext", s.stdinLeftForNext)
	t.Run("ExecTTY", s.execTTY)
	t.Run("Streams", func(t *testing.T) {
		eng, spec, _ := s.setup(t, "streams")
		RunStreams(t, eng, spec)
	})
	t.Run("Mounts", s.mounts)
	t.Run("UserKnown", s.userKnown)
	t.Run("LabelsAndList", s.labelsAndList)
	t.Run("StopThenExec", s.stopThenExec)
	t.Run("VanishedThenExec", s.vanishedThenExec)
	t.Run("ConfigChange", s.configChange)
	t.Run("RemoveIdempotent", s.removeIdempotent)
	t.Run("SecretsStayOut", s.secretsStayOut)
	t.Run("OtherWorkspaceUntouched", s.otherWorkspaceUntouched)
	t.Run("ConcurrentExecs", s.concurrentExecs)
	t.Run("NoPrivileges", s.noPrivileges)
	t.Run("HostLoopbackUnreachable", s.hostLoopbackUnreachable)
	t.Run("NetworkNone", s.networkNone)
	// Only engines that publish ports have this test: for the others it
	// could only skip, and a skip must be a missing dependency, which CI
	// turns into a failure (Require).
	if opts.PublishesPorts {
		t.Run("Ports", s.ports)
	}
}

type suite struct {
	newEngine func(t *testing.T) sandbox.Engine
	opts      Options
	ws        string
}

// layout is one loop's host dirs, shaped like git loop's real mount table:
// a workdir, a $HOME, a read-only dir, a shared dir with a subdir hidden by
// a tmpfs except for one entry bound back in (other loops' state hidden,
// this loop's visible).
type layout struct {
	Root, Work, Home, RO, Shared, Hidden, Reopened string
}

func (s *suite) newLayout(t *testing.T) layout {
	t.Helper()
	root := t.TempDir()
	l := layout{
		Root:     root,
		Work:     filepath.Join(root, "work"),
		Home:     filepath.Join(root, "home"),
		RO:       filepath.Join(root, "ro"),
		Shared:   filepath.Join(root, "shared"),
		Hidden:   filepath.Join(root, "shared", "loops"),
		Reopened: filepath.Join(root, "shared", "loops", "mine"),
	}
	for _, d := range []string{l.Work, l.Home, l.RO, l.Reopened} {
		mkdir(t, d)
	}
	writeFile(t, filepath.Join(l.RO, "file"), "ro\n")
	writeFile(t, filepath.Join(l.Hidden, "other-loop"), "private\n")
	writeFile(t, filepath.Join(l.Reopened, "own"), "own\n")
	if uid, gid, ok := s.foreignUser(t); ok {
		for _, d := range []string{l.Work, l.Home, l.Shared, l.Reopened} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	return l
}

// foreignUser is Options.User when it differs from the invoking user and
// the tests can give it files (they run as root).
func (s *suite) foreignUser(t *testing.T) (uid, gid int, ok bool) {
	if s.opts.User == "" || os.Getuid() != 0 {
		return 0, 0, false
	}
	u, g, _ := strings.Cut(s.opts.User, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil {
		t.Fatalf("Options.User %q is not uid:gid", s.opts.User)
	}
	return uid, gid, true
}

// wantOwner is the host uid files written in the sandbox should have.
func (s *suite) wantOwner(t *testing.T) int {
	if uid, _, ok := s.foreignUser(t); ok {
		return uid
	}
	return os.Getuid()
}

func (s *suite) spec(l layout, workspace, loop string) sandbox.Spec {
	return sandbox.Spec{
		Workspace: workspace,
		Loop:      loop,
		Image:     s.opts.Image,
		Workdir:   l.Work,
		Home:      l.Home, // bound by the driver itself: no mount names it
		User:      s.opts.User,
		Mounts: []sandbox.Mount{
			{Source: l.Work, Target: l.Work},
			{Source: l.RO, Target: l.RO, ReadOnly: true},
			{Source: l.Shared, Target: l.Shared},
			{Target: l.Hidden, Tmpfs: true},
			{Source: l.Reopened, Target: l.Reopened},
		},
		Env: map[string]string{"GREETING": "hello", "OVERRIDE": "spec"},
	}
}

// setup gives a parallel subtest its engine, layout and spec, and removes
// the sandbox when the subtest ends.
func (s *suite) setup(t *testing.T, loop string) (sandbox.Engine, sandbox.Spec, layout) {
	t.Helper()
	t.Parallel()
	eng := s.newEngine(t)
	l := s.newLayout(t)
	spec := s.spec(l, s.ws, loop)
	cleanup(t, eng, spec)
	return eng, spec, l
}

func cleanup(t *testing.T, eng sandbox.Engine, spec sandbox.Spec) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := eng.Remove(ctx, spec); err != nil {
			t.Errorf("cleanup: remove %s: %v", spec.Name(), err)
		}
	})
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

type result struct {
	stdout, stderr string
	code           int
}

// run execs cmd and fails the test if the driver reports an error.
func run(t *testing.T, eng sandbox.Engine, spec sandbox.Spec, x sandbox.Exec) result {
	t.Helper()
	var out, errOut bytes.Buffer
	if x.Stdout == nil {
		x.Stdout = &out
	}
	if x.Stderr == nil {
		x.Stderr = &errOut
	}
	code, err := eng.Exec(testCtx(t), spec, x)
	if err != nil {
		t.Fatalf("exec %s: %v (stderr %q)", sandbox.ShellQuote(x.Cmd), err, errOut.String())
	}
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// sh runs a shell snippet and fails unless it exits 0.
func sh(t *testing.T, eng sandbox.Engine, spec sandbox.Spec, script string) string {
	t.Helper()
	r := run(t, eng, spec, sandbox.Exec{Cmd: []string{"sh", "-c", script}})
	if r.code != 0 {
		t.Fatalf("sh -c %q: exit %d, stdout %q, stderr %q", script, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func ensure(t *testing.T, eng sandbox.Engine, spec sandbox.Spec) sandbox.Status {
	t.Helper()
	st, err := eng.Ensure(testCtx(t), spec)
	if err != nil {
		t.Fatalf("ensure %s: %v", spec.Name(), err)
	}
	if st.State != sandbox.StateRunning {
		t.Fatalf("ensure %s: state %q, want running", spec.Name(), st.State)
	}
	return st
}

func status(t *testing.T, eng sandbox.Engine, spec sandbox.Spec) sandbox.Status {
	t.Helper()
	st, err := eng.Status(testCtx(t), spec)
	if err != nil && !errors.Is(err, sandbox.ErrNotFound) {
		t.Fatalf("status %s: %v", spec.Name(), err)
	}
	if errors.Is(err, sandbox.ErrNotFound) && st.State != sandbox.StateMissing {
		t.Fatalf("status %s: ErrNotFound with state %q", spec.Name(), st.State)
	}
	return st
}

func (s *suite) ensureCreates(t *testing.T) {
	eng, spec, _ := s.setup(t, "ensure")
	if s.opts.Persistent {
		if st := status(t, eng, spec); st.State != sandbox.StateMissing {
			t.Fatalf("before ensure: state %q, want missing", st.State)
		}
	}
	st := ensure(t, eng, spec)
	if s.opts.Persistent && st.ID == "" {
		t.Error("ensure returned no id")
	}
	if st.ConfigHash != spec.ConfigHash() {
		t.Errorf("config hash %q, want %q", st.ConfigHash, spec.ConfigHash())
	}
	if st.Driver != eng.Name() {
		t.Errorf("driver %q, want %q", st.Driver, eng.Name())
	}
	if again := ensure(t, eng, spec); again.ID != st.ID {
		t.Errorf("second ensure: id %q, want unchanged %q", again.ID, st.ID)
	}
	if got := status(t, eng, spec); got.State != sandbox.StateRunning || got.ID != st.ID {
		t.Errorf("status: %+v, want running with id %q", got, st.ID)
	}
}

func (s *suite) exec(t *testing.T) {
	eng, spec, l := s.setup(t, "exec")
	r := run(t, eng, spec, sandbox.Exec{
		Cmd: []string{"sh", "-c", `echo out; echo err >&2; echo "$GREETING $OVERRIDE $EXTRA"; echo "home=$HOME"; echo "user=$USER logname=$LOGNAME"; pwd; exit 3`},
		Env: map[string]string{"OVERRIDE": "exec", "EXTRA": "x"},
	})
	if r.code != 3 {
		t.Errorf("exit code %d, want 3", r.code)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("stdout %q: want 5 lines", r.stdout)
	}
	if lines[0] != "out" || lines[1] != "hello exec x" || lines[2] != "home="+l.Home || lines[4] != l.Work {
		t.Errorf("stdout %q: want out, spec env overridden by exec env, HOME=%s, cwd %s", r.stdout, l.Home, l.Work)
	}
	for _, kv := range strings.Fields(lines[3]) {
		if strings.HasSuffix(kv, "=") {
			t.Errorf("USER or LOGNAME empty: %q", lines[3])
		}
	}
	if r.stderr != "err\n" {
		t.Errorf("stderr %q, want %q", r.stderr, "err\n")
	}

	sub := filepath.Join(l.Work, "sub")
	mkdir(t, sub)
	if uid, gid, ok := s.foreignUser(t); ok {
		_ = os.Chown(sub, uid, gid)
	}
	if got := run(t, eng, spec, sandbox.Exec{Cmd: []string{"pwd"}, Dir: sub}); got.stdout != sub+"\n" {
		t.Errorf("pwd with Dir %s: %q", sub, got.stdout)
	}
	if got := run(t, eng, spec, sandbox.Exec{Cmd: []string{"sh", "-c", "kill -9 $$"}}); got.code != 128+9 {
		t.Errorf("killed by SIGKILL: exit code %d, want %d", got.code, 128+9)
	}

	var out bytes.Buffer
	code, err := eng.Exec(testCtx(t), spec, sandbox.Exec{Cmd: []string{"/no/such/command"}, Stdout: &out, Stderr: &out})
	if err == nil && code == 0 {
		t.Errorf("a missing command exited 0 with no error (output %q)", out.String())
	}
	if _, err := eng.Exec(testCtx(t), spec, sandbox.Exec{}); err == nil {
		t.Error("exec with no command: no error")
	}
}

// stdinLeftForNext: an exec given the terminal (a file) as stdin, whose
// process never reads it, leaves what is typed after it ended to the
// next reader. "git loop new" opens a shell when the agent is missing; a
// copy of stdin left blocked in a read by the failed agent exec swallowed
// the first line typed into that shell.
func (s *suite) stdinLeftForNext(t *testing.T) {
	eng, spec, _ := s.setup(t, "stdin-next")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if r := run(t, eng, spec, sandbox.Exec{Cmd: []string{"true"}, Stdin: pr}); r.code != 0 {
		t.Fatalf("true: exit %d: %s", r.code, r.stderr)
	}
	if _, err := pw.Write([]byte("typed after\n")); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "typed after\n" {
			t.Errorf("the next reader got %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the line typed after the exec ended never reached the next reader: the exec's stdin copy took it")
	}
}

func (s *suite) execStdin(t *testing.T) {
	eng, spec, _ := s.setup(t, "stdin")
	in := "line one\nline two\n"
	r := run(t, eng, spec, sandbox.Exec{Cmd: []string{"cat"}, Stdin: strings.NewReader(in)})
	if r.code != 0 || r.stdout != in {
		t.Errorf("cat: exit %d, stdout %q, want %q", r.code, r.stdout, in)
	}
	// Input arriving while the process already runs, and output that
	// depends on it, as an agent's protocol over stdio needs.
	pr, pw := io.Pipe()
	defer pw.Close() // unblocks the exec if the test fails early
	outR, outW := io.Pipe()
	done := make(chan result, 1)
	go func() {
		var errOut bytes.Buffer
		code, err := eng.Exec(testCtx(t), spec, sandbox.Exec{
			Cmd:   []string{"sh", "-c", `while read l; do echo "got $l"; done; echo bye`},
			Stdin: pr, Stdout: outW, Stderr: &errOut,
		})
		outW.CloseWithError(err)
		done <- result{code: code, stderr: errOut.String()}
	}()
	br := bufio.NewReader(outR)
	for _, word := range []string{"a", "b"} {
		fmt.Fprintln(pw, word)
		line, err := br.ReadString('\n')
		if err != nil || line != "got "+word+"\n" {
			t.Fatalf("after sending %q: read %q, %v", word, line, err)
		}
	}
	pw.Close()
	rest, _ := io.ReadAll(br)
	if res := <-done; res.code != 0 || string(rest) != "bye\n" {
		t.Errorf("after EOF: exit %d, rest %q, stderr %q", res.code, rest, res.stderr)
	}
}

func (s *suite) execTTY(t *testing.T) {
	eng, spec, _ := s.setup(t, "tty")
	r := run(t, eng, spec, sandbox.Exec{Cmd: []string{"sh", "-c", "echo hi; exit 4"}, TTY: true})
	if r.code != 4 || !strings.Contains(r.stdout, "hi") {
		t.Errorf("tty exec: exit %d, stdout %q", r.code, r.stdout)
	}
	if !s.opts.AllocatesTTY {
		return
	}
	sizes := make(chan sandbox.TermSize, 1)
	sizes <- sandbox.TermSize{Height: 30, Width: 100}
	// Reading a line first lets the process start before its size is set,
	// as a real shell does; the size must be there by the time input is.
	r = run(t, eng, spec, sandbox.Exec{
		Cmd:    []string{"sh", "-c", "read x; test -t 0 && test -t 1 && stty size"},
		TTY:    true,
		Stdin:  strings.NewReader("go\n"),
		Resize: sizes,
	})
	if r.code != 0 || !strings.Contains(r.stdout, "30 100") {
		t.Errorf("tty exec: exit %d, stdout %q, want a terminal of 30 rows, 100 columns", r.code, r.stdout)
	}
}

func (s *suite) mounts(t *testing.T) {
	eng, spec, l := s.setup(t, "mounts")
	written := filepath.Join(l.Work, "written")
	sh(t, eng, spec, "echo data > "+written+" && echo home > $HOME/h")
	if got := readFile(t, written); got != "data\n" {
		t.Errorf("file written in the workdir reads %q on the host", got)
	}
	if got := readFile(t, filepath.Join(l.Home, "h")); got != "home\n" {
		t.Errorf("file written in $HOME reads %q on the host", got)
	}
	if uid := owner(t, written); uid != s.wantOwner(t) {
		t.Errorf("file written in the workdir belongs to uid %d, want %d", uid, s.wantOwner(t))
	}
	if r := run(t, eng, spec, sandbox.Exec{Cmd: []string{"sh", "-c", "echo x > " + filepath.Join(l.RO, "file")}}); r.code == 0 {
		t.Error("write to a read-only mount succeeded")
	}
	if got := readFile(t, filepath.Join(l.RO, "file")); got != "ro\n" {
		t.Errorf("read-only file changed to %q", got)
	}
	if got := sh(t, eng, spec, "ls -A "+l.Hidden); got != "mine\n" {
		t.Errorf("hidden dir lists %q inside, want only the entry bound back in", got)
	}
	if got := sh(t, eng, spec, "cat "+filepath.Join(l.Reopened, "own")); got != "own\n" {
		t.Errorf("entry bound back into the hidden dir reads %q", got)
	}
	if got := readFile(t, filepath.Join(l.Hidden, "other-loop")); got != "private\n" {
		t.Errorf("hidden file on the host changed to %q", got)
	}
}

func (s *suite) labelsAndList(t *testing.T) {
	eng, spec, _ := s.setup(t, "labels")
	st := ensure(t, eng, spec)
	for k, v := range spec.Labels() {
		if st.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, st.Labels[k], v)
		}
	}
	list, err := eng.List(testCtx(t), map[string]string{sandbox.LabelWorkspace: s.ws, sandbox.LabelLoop: spec.Loop})
	if err != nil {
		t.Fatal(err)
	}
	if !s.opts.Persistent {
		return
	}
	if len(list) != 1 || list[0].ID != st.ID || list[0].State != sandbox.StateRunning || list[0].ConfigHash != spec.ConfigHash() {
		t.Errorf("list by workspace and loop: %+v, want just %s, running", list, st.ID)
	}
	list, err = eng.List(testCtx(t), map[string]string{sandbox.LabelWorkspace: s.ws})
	if err != nil {
		t.Fatal(err)
	}
	if !containsID(list, st.ID) {
		t.Errorf("list by workspace misses %s: %+v", st.ID, list)
	}
	list, err = eng.List(testCtx(t), map[string]string{sandbox.LabelWorkspace: s.ws + "-none"})
	if err != nil || len(list) != 0 {
		t.Errorf("list of an unknown workspace: %+v, %v", list, err)
	}
}

// userKnown: the uid the sandbox runs as has a name, whatever the image's
// /etc/passwd said, and it is the one USER and LOGNAME carry, with the
// loop's $HOME as its home directory.
func (s *suite) userKnown(t *testing.T) {
	eng, spec, l := s.setup(t, "user")
	r := run(t, eng, spec, sandbox.Exec{Cmd: []string{"sh", "-c", `whoami && id -un && id -u && echo "$USER" && echo "$LOGNAME"`}})
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(lines) != 5 {
		t.Fatalf("whoami, id: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if lines[0] == "" || lines[0] != lines[1] || lines[0] != lines[3] || lines[0] != lines[4] {
		t.Errorf("whoami %q, id -un %q, USER %q, LOGNAME %q: want one name", lines[0], lines[1], lines[3], lines[4])
	}
	if want := strconv.Itoa(s.wantOwner(t)); lines[2] != want {
		t.Errorf("id -u %s, want %s", lines[2], want)
	}
	if s.opts.Image == "" || lines[2] == "0" {
		return // bwrap shows the host's passwd; root's home is the image's
	}
	// getent is not in every image: read the entry straight from the file.
	entry := sh(t, eng, spec, "grep '^"+lines[0]+":' /etc/passwd")
	if f := strings.Split(strings.TrimSpace(entry), ":"); len(f) != 7 || f[2] != lines[2] || f[5] != l.Home {
		t.Errorf("passwd entry %q: want uid %s, home %s", entry, lines[2], l.Home)
	}
}

func (s *suite) stopThenExec(t *testing.T) {
	eng, spec, _ := s.setup(t, "stop")
	st := ensure(t, eng, spec)
	for range 2 {
		if err := eng.Stop(testCtx(t), spec); err != nil {
			t.Fatalf("stop: %v", err)
		}
	}
	if s.opts.Persistent {
		if got := status(t, eng, spec); got.State != sandbox.StateStopped || got.ID != st.ID {
			t.Errorf("after stop: %+v, want stopped %s", got, st.ID)
		}
	}
	if got := sh(t, eng, spec, "echo back"); got != "back\n" {
		t.Errorf("exec after stop: %q", got)
	}
	if got := status(t, eng, spec); got.State != sandbox.StateRunning || got.ID != st.ID {
		t.Errorf("after exec: %+v, want running %s again", got, st.ID)
	}
}

func (s *suite) vanishedThenExec(t *testing.T) {
	eng, spec, _ := s.setup(t, "vanish")
	st := ensure(t, eng, spec)
	sh(t, eng, spec, "echo kept > $HOME/keep")
	if s.opts.Vanish != nil {
		s.opts.Vanish(t, spec.Name())
	} else if err := eng.Remove(testCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	if s.opts.Persistent {
		if got := status(t, eng, spec); got.State != sandbox.StateMissing {
			t.Fatalf("after removal: state %q, want missing", got.State)
		}
	}
	if got := sh(t, eng, spec, "cat $HOME/keep"); got != "kept\n" {
		t.Errorf("$HOME after the sandbox came back: %q, want kept", got)
	}
	if got := status(t, eng, spec); got.State != sandbox.StateRunning || (s.opts.Persistent && got.ID == st.ID) {
		t.Errorf("after exec: %+v, want a new running sandbox", got)
	}
}

func (s *suite) configChange(t *testing.T) {
	eng, spec, l := s.setup(t, "config")
	st := ensure(t, eng, spec)

	extra := filepath.Join(l.Root, "extra")
	writeFile(t, filepath.Join(extra, "f"), "extra\n")
	changed := spec
	changed.Mounts = append(append([]sandbox.Mount(nil), spec.Mounts...), sandbox.Mount{Source: extra, Target: extra, ReadOnly: true})
	st2 := ensure(t, eng, changed)
	if st2.ConfigHash != changed.ConfigHash() || st2.ConfigHash == st.ConfigHash {
		t.Errorf("config hash after a mount was added: %q (before %q, want %q)", st2.ConfigHash, st.ConfigHash, changed.ConfigHash())
	}
	if s.opts.Persistent && st2.ID == st.ID {
		t.Errorf("a mount was added but the sandbox %s was kept", st.ID)
	}
	if got := sh(t, eng, changed, "cat "+filepath.Join(extra, "f")); got != "extra\n" {
		t.Errorf("new mount reads %q", got)
	}
	if again := ensure(t, eng, changed); again.ID != st2.ID {
		t.Errorf("ensure with no change: id %q, want %q", again.ID, st2.ID)
	}
	// Env is per exec, not config: changing it must not recreate.
	envOnly := changed
	envOnly.Env = map[string]string{"GREETING": "changed"}
	if again := ensure(t, eng, envOnly); again.ID != st2.ID {
		t.Errorf("ensure after an env change: id %q, want %q", again.ID, st2.ID)
	}
	if got := sh(t, eng, envOnly, `echo "$GREETING"`); got != "changed\n" {
		t.Errorf("exec after an env change sees %q", got)
	}
}

func (s *suite) removeIdempotent(t *testing.T) {
	eng, spec, _ := s.setup(t, "remove")
	ctx := testCtx(t)
	if err := eng.Remove(ctx, spec); err != nil {
		t.Fatalf("remove before anything exists: %v", err)
	}
	ensure(t, eng, spec)
	for i := range 2 {
		if err := eng.Remove(ctx, spec); err != nil {
			t.Fatalf("remove #%d: %v", i+1, err)
		}
	}
	if s.opts.Persistent {
		st, err := eng.Status(ctx, spec)
		if st.State != sandbox.StateMissing || !errors.Is(err, sandbox.ErrNotFound) {
			t.Errorf("status after remove: %+v, %v; want missing and ErrNotFound", st, err)
		}
	}
	if err := eng.Stop(ctx, spec); err != nil {
		t.Errorf("stop after remove: %v", err)
	}
}

func (s *suite) secretsStayOut(t *testing.T) {
	eng, spec, _ := s.setup(t, "secrets")
	secret := randomID(t, "exec-secret-")
	specSecret := randomID(t, "spec-secret-")
	spec.Env = map[string]string{"SPEC_TOKEN": specSecret}

	pr, pw := io.Pipe()
	defer pw.Close() // unblocks the exec if the test fails early
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := eng.Exec(testCtx(t), spec, sandbox.Exec{
			Cmd:   []string{"sh", "-c", `echo "$TOKEN $SPEC_TOKEN"; read x`},
			Env:   map[string]string{"TOKEN": secret},
			Stdin: pr, Stdout: outW,
		})
		outW.CloseWithError(err)
		done <- err
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil || line != secret+" "+specSecret+"\n" {
		t.Fatalf("the process sees %q (%v), want both secrets", line, err)
	}
	// While the process runs: no argv on the machine may hold a secret.
	for _, leak := range procCmdlinesContaining(secret, specSecret) {
		t.Errorf("secret in the argv of %s", leak)
	}
	if s.opts.Inspect != nil {
		if stored := s.opts.Inspect(t, spec.Name()); strings.Contains(stored, secret) || strings.Contains(stored, specSecret) {
			t.Errorf("the engine's stored config holds a secret: %s", stored)
		}
	}
	st := status(t, eng, spec)
	list, _ := eng.List(testCtx(t), map[string]string{sandbox.LabelWorkspace: s.ws})
	if shown := fmt.Sprintf("%+v %+v", st, list); strings.Contains(shown, secret) || strings.Contains(shown, specSecret) {
		t.Errorf("status or list shows a secret: %s", shown)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// procCmdlinesContaining scans every process's argv on the machine.
func procCmdlinesContaining(needles ...string) []string {
	var found []string
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone meanwhile
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				found = append(found, fmt.Sprintf("%s: %q", filepath.Dir(f), bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
			}
		}
	}
	return found
}

func (s *suite) otherWorkspaceUntouched(t *testing.T) {
	eng, spec, _ := s.setup(t, "twin")
	other := s.spec(s.newLayout(t), randomID(t, "t"), spec.Loop)
	cleanup(t, eng, other)
	ensure(t, eng, spec)
	stOther := ensure(t, eng, other)
	if err := eng.Remove(testCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	if got := status(t, eng, other); got.State != sandbox.StateRunning || got.ID != stOther.ID {
		t.Errorf("the other workspace's sandbox after removing this one: %+v, want running %s", got, stOther.ID)
	}
	if s.opts.Persistent {
		list, err := eng.List(testCtx(t), map[string]string{sandbox.LabelWorkspace: other.Workspace})
		if err != nil || len(list) != 1 {
			t.Errorf("list of the other workspace: %+v, %v", list, err)
		}
	}
}

func (s *suite) concurrentExecs(t *testing.T) {
	eng, spec, _ := s.setup(t, "concurrent")
	// Several git loop processes may find the sandbox missing at once;
	// all must end up in the same one.
	const n = 3
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			var out bytes.Buffer
			code, err := eng.Exec(testCtx(t), spec, sandbox.Exec{Cmd: []string{"echo", strconv.Itoa(i)}, Stdout: &out})
			if err == nil && (code != 0 || out.String() != strconv.Itoa(i)+"\n") {
				err = fmt.Errorf("exit %d, stdout %q", code, out.String())
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent exec: %v", err)
		}
	}
	if s.opts.Persistent {
		list, err := eng.List(testCtx(t), map[string]string{sandbox.LabelWorkspace: s.ws, sandbox.LabelLoop: spec.Loop})
		if err != nil || len(list) != 1 {
			t.Errorf("sandboxes after concurrent execs: %+v, %v; want one", list, err)
		}
	}
}

func (s *suite) ports(t *testing.T) {
	eng, spec, _ := s.setup(t, "ports")
	host := freePort(t)
	spec.Ports = []sandbox.Port{{Host: host, Container: 8080}}
	st := ensure(t, eng, spec)
	if len(st.Ports) != 1 || st.Ports[0] != (sandbox.Port{Host: host, Container: 8080}) {
		t.Errorf("status ports %+v, want %d:8080", st.Ports, host)
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(host)), 2*time.Second)
	if err != nil {
		t.Fatalf("published port %d: %v", host, err)
	}
	conn.Close()
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func containsID(list []sandbox.Status, id string) bool {
	for _, st := range list {
		if st.ID == id {
			return true
		}
	}
	return false
}

func randomID(t *testing.T, prefix string) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	mkdir(t, filepath.Dir(name))
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func owner(t *testing.T, name string) int {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// noPrivileges: the sandbox's processes hold no capability (as root on
// the host too), cannot gain one through a setuid binary, and so cannot
// unmount the tmpfs that hides other loops' state.
func (s *suite) noPrivileges(t *testing.T) {
	eng, spec, l := s.setup(t, "noprivs")
	out := sh(t, eng, spec, "grep -E '^(CapEff|CapPrm|NoNewPrivs):' /proc/self/status")
	for _, want := range []string{"CapEff:\t0000000000000000", "CapPrm:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(out, want) {
			t.Errorf("/proc/self/status has\n%s\nwant %q", out, want)
		}
	}
	// umount is setuid root on most systems: with no-new-privileges it
	// runs with the caller's (no) privileges.
	r := run(t, eng, spec, sandbox.Exec{Cmd: []string{"sh", "-c", "umount " + l.Hidden + " || umount -l " + l.Hidden + "; cat " + filepath.Join(l.Hidden, "other-loop")}})
	if r.code == 0 || strings.Contains(r.stdout, "private") {
		t.Errorf("unmounted the hidden dir: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// hostLoopbackUnreachable: a service listening on the host's 127.0.0.1
// (git loop web, a Docker API on tcp, a database) cannot be reached from
// a sandbox with the default network, on the address or its name.
func (s *suite) hostLoopbackUnreachable(t *testing.T) {
	eng, spec, _ := s.setup(t, "loopback")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			accepted <- struct{}{}
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	r := run(t, eng, spec, sandbox.Exec{Cmd: []string{"sh", "-c", connectScript("127.0.0.1", port) + " || " + connectScript("localhost", port)}})
	if r.code == 0 {
		t.Errorf("connected to the host's 127.0.0.1:%s: stdout %q, stderr %q", port, r.stdout, r.stderr)
	}
	select {
	case <-accepted:
		t.Error("the host's loopback listener accepted a connection from the sandbox")
	case <-time.After(100 * time.Millisecond):
	}
}

// connectScript opens a TCP connection with what the sandbox has: nc
// (busybox images), else bash's /dev/tcp (the host's bash on bwrap).
func connectScript(host, port string) string {
	return "if command -v nc >/dev/null; then nc -w 2 " + host + " " + port + " </dev/null; " +
		"else bash -c 'exec 3<>/dev/tcp/" + host + "/" + port + "'; fi"
}

// networkNone: with the none policy the sandbox has its loopback and
// nothing else.
func (s *suite) networkNone(t *testing.T) {
	eng, spec, _ := s.setup(t, "netnone")
	spec.Network = sandbox.NetworkNone
	out := sh(t, eng, spec, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
	if strings.TrimSpace(out) != "lo" {
		t.Errorf("interfaces with sandbox.network = none: %q, want lo only", out)
	}
}
