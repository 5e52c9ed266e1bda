package cmdtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/status"
)

// RemoteLife is what RemoteLoopLife needs of the engine under test.
type RemoteLife struct {
	// Driver is the --driver of the loops.
	Driver string
	// Options are every command's (the engine's address, the placement).
	Options Options
	// Count says how many running sandboxes (containers, pods) and stores
	// (volumes, claims) the engine holds for the repository.
	Count func(t *testing.T) (sandboxes, stores int)
	// Stores is how many stores one loop has.
	Stores int
	// AfterNew, when set, looks at the engine once loop kx is made.
	AfterNew func(t *testing.T)
	// SharedDirs: the engine's dirs are this host's at the same paths
	// (the fake cluster), so what the sandbox plants is on the host
	// anyway, and the attack on the transcript copy says nothing.
	SharedDirs bool
	// Execs, when set, counts the execs the engine has served so far:
	// ls must make none on a remote loop (it shows what the host last
	// fetched), status NAME fetches.
	Execs func(t *testing.T) int
}

// RemoteLoopLife runs a whole loop life on an engine that cannot see
// this host, in repo (whose origin is a bare repository): new seeds the
// loop's clone on the engine by a push, the .worktreeinclude files,
// $HOME and agent dir go in as tar streams; a commit made inside comes
// back by fetch; diff shows it and uncommitted work; rm refuses that
// work; sync pushes a new base in and merges it inside; stop and start
// keep the clone; promote lands it on origin; rm removes sandbox and
// stores; uninstall removes what is left by label.
func RemoteLoopLife(t *testing.T, repo string, l RemoteLife) {
	t.Helper()
	gittest.Git(t, repo, "config", "user.name", "User")
	gittest.Git(t, repo, "config", "user.email", "user@example.com")
	gittest.Git(t, repo, "config", "loop.code.gate", "direct")
	if err := os.WriteFile(filepath.Join(repo, ".env"), []byte("SECRET=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".worktreeinclude"), []byte(".env\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, repo, "add", ".worktreeinclude")
	gittest.Git(t, repo, "commit", "-qm", "include")
	run := func(args ...string) string {
		t.Helper()
		r := RunWith(t, repo, l.Options, args...)
		if r.Code != 0 {
			t.Fatalf("git loop %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}
	sh := func(script string) string {
		t.Helper()
		return strings.TrimSpace(run("exec", "kx", "--", "sh", "-c", script))
	}
	count := func(when string, sandboxes, stores int) {
		t.Helper()
		if n, s := l.Count(t); n != sandboxes || s != stores {
			t.Errorf("%d sandboxes and %d stores %s, want %d and %d", n, s, when, sandboxes, stores)
		}
	}
	run("new", "kx", "--driver", l.Driver, "--detach")
	count("after new", 1, l.Stores)
	if l.AfterNew != nil {
		l.AfterNew(t)
	}
	m := ReadMeta(t, repo, "kx")
	if !m.Sandbox.Sealed || !m.Sandbox.Remote() {
		t.Fatalf("loop kx is not sealed and remote: %+v", m.Sandbox)
	}
	r := RunWith(t, repo, l.Options, "ls", "--json")
	if !strings.Contains(r.Stdout, `"placement": "remote"`) {
		t.Errorf("ls --json does not say placement remote:\n%s", r.Stdout)
	}
	if r := RunWith(t, repo, l.Options, "doctor"); r.Code != 0 {
		t.Errorf("doctor with a remote loop: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	base := gittest.Git(t, repo, "rev-parse", "main")
	if got := sh(`git rev-parse HEAD; git symbolic-ref HEAD; cat .env; grep -c email "$HOME/.gitconfig"; test -d "$GIT_LOOP_AGENT_DIR" && echo agentdir; test -e .git/objects/info/alternates || echo own-objects`); got != base+"\nrefs/heads/loop/kx\nSECRET=1\n1\nagentdir\nown-objects" {
		t.Errorf("the seeded clone inside: %q", got)
	}
	inside := sh(`echo a > a.txt && git add a.txt && git commit -qm inside && git rev-parse HEAD`)
	if got := gittest.Git(t, repo, "rev-parse", "loop/kx"); got != inside {
		t.Errorf("loop/kx is %s after the exec, want the commit made inside, %s", got, inside)
	}
	if l.Execs != nil {
		// ls shows a remote loop as the host last fetched it, with no
		// exec (issue 14: ls stays cheap, whatever the engine's
		// distance); the age of that fetch says how stale it is.
		before := l.Execs(t)
		if out := run("ls"); !strings.Contains(out, "remote "+l.Driver+" running") {
			t.Errorf("ls does not say the loop is remote:\n%s", out)
		}
		var ls []status.LoopStatus
		if err := json.Unmarshal([]byte(run("ls", "--json")), &ls); err != nil {
			t.Fatal(err)
		}
		if n := l.Execs(t) - before; n != 0 {
			t.Errorf("ls and ls --json made %d execs into the remote loop, want none", n)
		}
		if len(ls) != 1 || ls[0].LastFetch.IsZero() || ls[0].Head != inside || ls[0].Placement != "remote" {
			t.Errorf("ls --json of the remote loop: %+v, want its last fetch and head %s", ls, inside)
		}
		before = l.Execs(t)
		run("status", "kx")
		if l.Execs(t) == before {
			t.Errorf("status kx made no exec: it must fetch a remote loop's current state")
		}
	}
	// The agent's sessions come out after each exec, for log and the
	// viewer.
	sh(`mkdir -p "$GIT_LOOP_AGENT_DIR/projects/p" && echo '{"type":"x"}' > "$GIT_LOOP_AGENT_DIR/projects/p/s.jsonl"`)
	if b, err := os.ReadFile(filepath.Join(repo, ".git", "loop", "loops", "kx", "agent", "projects", "p", "s.jsonl")); err != nil || string(b) != "{\"type\":\"x\"}\n" {
		t.Errorf("the agent's session on the host: %q, %v", b, err)
	}
	if !l.SharedDirs {
		// The agent plants links in its sessions dir, to a host file and
		// to a host dir: the copy out makes neither, and writes nothing
		// through them.
		victim := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(victim, []byte("host\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		sh(`cd "$GIT_LOOP_AGENT_DIR/projects/p" && ln -s ` + victim + ` evil.jsonl && ln -s ` + filepath.Dir(victim) + ` d && echo '{}' > s.jsonl`)
		host := filepath.Join(repo, ".git", "loop", "loops", "kx", "agent", "projects", "p")
		for _, n := range []string{"evil.jsonl", "d"} {
			if fi, err := os.Lstat(filepath.Join(host, n)); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				t.Errorf("the copy out made the sandbox's link %s on the host", n)
			}
		}
		if b, _ := os.ReadFile(victim); string(b) != "host\n" {
			t.Errorf("a host file was written through a planted link: %q", b)
		}
	}
	// The agent runs from the image, by name: nothing of this host's is
	// mounted (here "true", which every image has).
	if r := RunWith(t, repo, l.Options, "run", "kx", "--agent", "true", "hello"); r.Code != 0 {
		t.Errorf("run on the remote loop: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	sh(`echo wip > wip.txt`)
	if diff := run("diff", "kx"); !strings.Contains(diff, "a.txt") || !strings.Contains(diff, "wip.txt") {
		t.Errorf("diff kx: %q, want the commit and the uncommitted file", diff)
	}
	if r := RunWith(t, repo, l.Options, "rm", "kx"); r.Code != 5 {
		t.Errorf("rm of a loop with work inside: exit %d, want 5\n%s", r.Code, r.Stderr)
	}
	sh(`rm wip.txt`)
	// A new base on the host, synced in: pushed, merged inside.
	if err := os.WriteFile(filepath.Join(repo, "b.txt"), []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, repo, "add", "b.txt")
	gittest.Git(t, repo, "commit", "-qm", "host")
	run("sync", "kx")
	if got := sh(`cat b.txt a.txt`); got != "b\na" {
		t.Errorf("after sync, inside: %q", got)
	}
	gittest.Git(t, repo, "merge-base", "--is-ancestor", "main", "loop/kx")
	run("stop", "kx")
	count("after stop", 0, l.Stores)
	run("start", "kx")
	if got := sh(`cat a.txt`); got != "a" {
		t.Errorf("after stop and start: %q", got)
	}
	run("promote", "kx", "--layer", "code")
	if got := gittest.Git(t, repo, "show", "origin/main:a.txt"); got != "a" {
		t.Errorf("a.txt on origin/main after promote: %q", got)
	}
	run("rm", "kx")
	count("after rm", 0, 0)
	run("new", "ky", "--driver", l.Driver, "--detach")
	run("uninstall", "--yes", "--force")
	count("after uninstall", 0, 0)
}
