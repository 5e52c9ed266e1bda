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

// RemoteContextLife runs the context layers' part of a remote loop's
// life, in repo after "git loop init" with opts.Env's user dirs (home):
// new gives the loop a clone of its own of knowledge and notes on the
// engine, seeded by a push (no alternates, nothing of the user's clone
// seen); a note committed inside is refused by rm, then lands on the
// notes origin by promote; main moved on the host comes in by sync
// (pushed, merged inside); rm then removes every store.
func RemoteContextLife(t *testing.T, repo, home string, l RemoteLife) {
	t.Helper()
	run := func(args ...string) Result {
		t.Helper()
		r := RunWith(t, repo, l.Options, args...)
		if r.Code != 0 {
			t.Fatalf("git loop %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
		return r
	}
	sh := func(script string) string {
		t.Helper()
		return strings.TrimSpace(run("exec", "kc", "--", "sh", "-c", script).Stdout)
	}
	r := run("new", "kc", "--driver", l.Driver, "--detach")
	if strings.Contains(r.Stderr, "context layers") {
		t.Errorf("new still says the context layers are not given:\n%s", r.Stderr)
	}
	if n, st := l.Count(t); n != 1 || st != l.Stores {
		t.Errorf("%d sandboxes and %d stores after new, want 1 and %d", n, st, l.Stores)
	}
	m := ReadMeta(t, repo, "kc")
	if !m.Sandbox.Remote() || len(m.Contexts) != 2 {
		t.Fatalf("loop kc: placement %q, contexts %+v", m.Sandbox.Placement, m.Contexts)
	}
	clones, _ := filepath.Glob(filepath.Join(home, "data", "context", "notes-*"))
	if len(clones) != 1 {
		t.Fatalf("notes clone: %v", clones)
	}
	notesClone := clones[0]
	origin := filepath.Join(home, "data", "origins", "notes.git")
	for _, layer := range []string{"KNOWLEDGE", "NOTES"} {
		want, script := "refs/heads/loop/kc", `cd "$GIT_LOOP_`+layer+`" && git symbolic-ref HEAD && git status --porcelain`
		if !l.SharedDirs {
			// (On the fake cluster the engine's dirs are this host's:
			// it sees the host's copy at the same path.)
			want += "\nown-objects"
			script += ` && { test -e .git/objects/info/alternates || echo own-objects; }; test -e "` + notesClone + `" && echo sees-the-user-clone; true`
		}
		if got := sh(script); got != want {
			t.Errorf("the %s clone inside: %q, want %q", layer, got, want)
		}
	}
	sh(`cd "$GIT_LOOP_NOTES" && echo remote > r.md && git add r.md && git -c user.name=agent -c user.email=agent@example.com commit -qm "note r"`)
	marker := filepath.Join(t.TempDir(), "ran-on-the-host")
	if !l.SharedDirs {
		// The agent plants in its notes clone what would make a host
		// git run a command: an fsmonitor and hooks (which succeed, so
		// that git inside goes on). promote, sync and rm must run
		// nothing of it here.
		touch := `mkdir -p ` + filepath.Dir(marker) + `; touch ` + marker + `; exit 0`
		sh(`cd "$GIT_LOOP_NOTES" && git config core.fsmonitor '` + touch + `' && mkdir -p .git/hooks && for h in pre-commit post-merge post-checkout reference-transaction pre-push post-receive; do printf '#!/bin/sh\n%s\n' '` + touch + `' > .git/hooks/$h; chmod +x .git/hooks/$h; done`)
	}
	if r := RunWith(t, repo, l.Options, "rm", "kc"); r.Code != 5 || !strings.Contains(r.Stderr, "notes") {
		t.Errorf("rm with an unpromoted note on the engine: exit %d, want 5 naming notes\n%s", r.Code, r.Stderr)
	}
	if st := run("status", "kc").Stdout; !strings.Contains(st, "notes") {
		t.Errorf("status after rm's fetch does not say notes is unpromoted:\n%s", st)
	}
	run("promote", "kc", "--layer", "notes")
	if got := gittest.Git(t, origin, "show", "main:r.md"); got != "remote" {
		t.Errorf("r.md on the notes origin after promote: %q", got)
	}
	// main moves on the host; sync pushes it in and merges it inside.
	run("inbox", "from the host")
	run("sync", "kc")
	if got := sh(`cd "$GIT_LOOP_NOTES" && cat inbox.md r.md`); !strings.Contains(got, "from the host") || !strings.Contains(got, "remote") {
		t.Errorf("the notes inside after sync: %q", got)
	}
	run("rm", "kc")
	if n, st := l.Count(t); n != 0 || st != 0 {
		t.Errorf("%d sandboxes and %d stores after rm, want none", n, st)
	}
	if _, err := os.Lstat(marker); err == nil {
		t.Errorf("a command the agent planted in its notes clone ran on the host")
	}
}

// RemoteSeedUndo: new on an engine that cannot see this host, whose
// seeding push fails (the transport's timeout set to nothing), leaves
// nothing behind: no sandbox, no store (volume, claim), no record, no
// branch, no pending intent; and the same new then succeeds.
func RemoteSeedUndo(t *testing.T, repo string, l RemoteLife) {
	t.Helper()
	t.Setenv("GIT_LOOP_TRANSPORT_TIMEOUT", "1ns")
	r := RunWith(t, repo, l.Options, "new", "ku", "--driver", l.Driver, "--detach")
	if r.Code == 0 {
		t.Fatalf("new with a seeding push that cannot finish succeeded:\n%s%s", r.Stdout, r.Stderr)
	}
	t.Logf("new with a failing seed: exit %d: %s", r.Code, r.Stderr)
	if strings.Contains(r.Stderr, "could not undo") {
		t.Errorf("new could not undo:\n%s", r.Stderr)
	}
	if n, st := l.Count(t); n != 0 || st != 0 {
		t.Errorf("%d sandboxes and %d stores left by the failed new, want none", n, st)
	}
	if out := gittest.Git(t, repo, "branch", "--list", "loop/ku"); out != "" {
		t.Errorf("branch left by the failed new: %q", out)
	}
	for _, p := range []string{filepath.Join("host", "ku"), filepath.Join("loops", "ku"), filepath.Join("intents", "ku.json")} {
		if _, err := os.Lstat(filepath.Join(repo, ".git", "loop", p)); err == nil {
			t.Errorf("the failed new left .git/loop/%s", p)
		}
	}
	t.Setenv("GIT_LOOP_TRANSPORT_TIMEOUT", "")
	if r := RunWith(t, repo, l.Options, "new", "ku", "--driver", l.Driver, "--detach"); r.Code != 0 {
		t.Fatalf("new after the failed one: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if r := RunWith(t, repo, l.Options, "rm", "ku"); r.Code != 0 {
		t.Errorf("rm ku: exit %d\n%s", r.Code, r.Stderr)
	}
	if n, st := l.Count(t); n != 0 || st != 0 {
		t.Errorf("%d sandboxes and %d stores after rm, want none", n, st)
	}
}
