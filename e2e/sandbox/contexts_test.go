package sandboxe2e_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// contextUser is a user with context layers set up and a repository for
// driver d; more repositories share the user's dirs (and so the context
// clones) through also.
func contextUser(t *testing.T, d cmdtest.Driver) *cmdtest.User {
	t.Helper()
	u := cmdtest.NewUser(t, newRepo(t, d))
	u.OK("init", "-q")
	return u
}

// also is the same user in another repository of theirs.
func also(t *testing.T, u *cmdtest.User, d cmdtest.Driver) *cmdtest.User {
	t.Helper()
	repo := gittest.Repo(t)
	d.Prepare(t, repo)
	o := *u
	o.Repo = repo
	cmdtest.CleanUp(t, repo, o.Run)
	return &o
}

// uexec runs a script in a loop's sandbox as user u and returns its
// stdout; it fails the test unless the script exits 0.
func uexec(t *testing.T, u *cmdtest.User, loop, script string, args ...string) string {
	t.Helper()
	r := u.Run(append([]string{"exec", loop, "--", "sh", "-c", script, "sh"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("exec in %s: exit %d\nstdout:\n%s\nstderr:\n%s", loop, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

const commitNote = `cd "$GIT_LOOP_NOTES" && printf '%s\n' "$2" > "$1" && git add "$1" && git -c user.name=agent -c user.email=agent@example.com commit -q -m "note $1"`

// TestContextClonesOwn: a docker or bwrap loop's notes and knowledge are
// clones of its own (alternates onto the user's clone); a note committed
// inside lands on the remote by promote, main comes in by sync, and rm
// refuses unpromoted and uncommitted notes.
func TestContextClonesOwn(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			u := contextUser(t, d)
			u.OK("new", "a", "--driver", d.Name, "--detach")
			u.OK("new", "z", "--driver", d.Name, "--detach")
			notes := u.Context("a", "notes")
			if fi, err := os.Lstat(filepath.Join(notes, ".git")); err != nil || !fi.IsDir() {
				t.Fatalf("the loop's notes are not a clone of its own (.git: %v, %v)", fi, err)
			}
			alt, _ := os.ReadFile(filepath.Join(notes, ".git", "objects", "info", "alternates"))
			if want := filepath.Join(u.Clone("notes"), ".git", "objects"); strings.TrimSpace(string(alt)) != want {
				t.Errorf("alternates %q, want %q", alt, want)
			}
			if out := gittest.Git(t, u.Clone("notes"), "branch", "--list", "loop/*"); out != "" {
				t.Errorf("the user's clone got a loop branch: %q", out)
			}
			uexec(t, u, "a", commitNote, "a.md", "from a")
			if r := u.Run("rm", "a"); r.Code != 5 || !strings.Contains(r.Stderr, "notes commit") {
				t.Errorf("rm with an unpromoted note: exit %d\n%s", r.Code, r.Stderr)
			}
			uexec(t, u, "a", `cd "$GIT_LOOP_NOTES" && echo draft > draft.md`)
			if r := u.Run("rm", "a"); r.Code != 5 || !strings.Contains(r.Stderr, "uncommitted notes") {
				t.Errorf("rm with an uncommitted note: exit %d\n%s", r.Code, r.Stderr)
			}
			u.OK("promote", "a", "--layer", "notes", "-a", "-m", "drafts")
			if got := cmdtest.OriginFile(t, u.Origin("notes"), "a.md"); got != "from a" {
				t.Errorf("origin's a.md after promote: %q", got)
			}
			if got := cmdtest.OriginFile(t, u.Origin("notes"), "draft.md"); got != "draft" {
				t.Errorf("origin's draft.md after promote -a: %q", got)
			}
			// main moves (the user's inbox); sync brings it into the loop.
			u.OK("inbox", "from the user")
			u.OK("sync", "a")
			if got := uexec(t, u, "a", `cd "$GIT_LOOP_NOTES" && cat inbox.md && git status --porcelain`); !strings.Contains(got, "from the user") || strings.Contains(got, "??") {
				t.Errorf("after sync, inside:\n%s", got)
			}
			// Both moved: the host merges for promote.
			uexec(t, u, "a", commitNote, "b.md", "second")
			u.OK("inbox", "again")
			u.OK("promote", "a", "--layer", "notes")
			if got := cmdtest.OriginFile(t, u.Origin("notes"), "b.md"); got != "second" {
				t.Errorf("origin's b.md after a merged promote: %q", got)
			}
			if got := cmdtest.OriginFile(t, u.Origin("notes"), "inbox.md"); !strings.Contains(got, "again") {
				t.Errorf("origin's inbox lost the user's entry: %q", got)
			}
			// Another loop, made before a's promotes, lands after them.
			uexec(t, u, "z", commitNote, "z.md", "from z")
			u.OK("promote", "z", "--layer", "notes")
			if got := cmdtest.OriginFile(t, u.Origin("notes"), "z.md"); got != "from z" {
				t.Errorf("origin's z.md: %q", got)
			}
			gittest.Git(t, u.Clone("notes"), "fsck", "--connectivity-only", "--no-dangling")
			u.OK("sync", "a")
			u.OK("rm", "a")
			if _, err := os.Stat(notes); !os.IsNotExist(err) {
				t.Errorf("rm left the notes clone: %v", err)
			}
		})
	}
}

// contextAttack is what a hijacked agent in loop a runs against the
// context layers: it reads every object it can reach for the other
// loops' notes, tries to reach the user's clone's refs and config and
// the other loops' clones, and plants in its own clone everything that
// would make a host git run a command ($1: a path on the host that only
// a command run on the host could create), follow a link out ($2: a host
// file), or borrow another loop's objects ($3: loop b's clone). Every
// line it prints that is not "refused …" is a success of the attack.
const contextAttack = `marker=$1 secret=$2 other=$3 clone=$4
n=$GIT_LOOP_NOTES
cd "$n"
for id in $(git cat-file --batch-all-objects --batch-check='%(objectname)' 2>/dev/null); do
  git cat-file -p "$id" 2>/dev/null | grep -q -e SECRET-OF-B -e SECRET-OF-C && echo "read another loop's note in $id"
done
grep -rl -e SECRET-OF-B -e SECRET-OF-C "$(dirname "$clone")" "$(dirname "$(dirname "$(dirname "$n")")")" "$HOME" /tmp 2>/dev/null | sed 's/^/found a secret in /'
[ -e "$other" ] && echo "sees loop b's clone"
ls "$clone/.git/refs" >/dev/null 2>&1 && echo "sees the user's clone's refs"
cat "$clone/.git/config" >/dev/null 2>&1 && echo "reads the user's clone's config"
touch "$clone/.git/objects/planted" 2>/dev/null && echo "wrote into the user's object store"
git --git-dir="$clone/.git" update-ref refs/heads/main HEAD 2>/dev/null && echo "moved the user's main"
git --git-dir="$clone/.git" update-ref refs/heads/loop/b HEAD 2>/dev/null && echo "moved loop b's branch in the user's clone"
mkdir -p "$other" 2>/dev/null && echo x > "$other/b.md" 2>/dev/null && [ -s "$other/.git/HEAD" ] && echo "wrote into loop b's clone"
git -C "$GIT_LOOP_KNOWLEDGE" --git-dir="$clone/.git" log -1 >/dev/null 2>&1 && echo "ran git on the user's clone"
echo refused-reads
# Its own work, with a link out to a host file in it.
echo 'from a' > a.md
ln -sf "$secret" leak.md
git add -A && git -c user.name=agent -c user.email=a@x commit -q -m 'a and a link'
# Plant what a host git would run.
cmd="touch $marker"
git config core.fsmonitor "$cmd"
git config core.hooksPath .git/evil-hooks
git config diff.external "$cmd"
git config core.pager "$cmd"
git config filter.x.clean "$cmd" && git config filter.x.smudge "$cmd" && git config filter.x.process "$cmd"
git config uploadpack.packObjectsHook "$cmd"
git config core.alternateRefsCommand "$cmd"
git config core.sshCommand "$cmd"
git config remote.origin.url "ext::sh -c touch% $marker"
git config protocol.allow always
mkdir -p .git/evil-hooks
for h in pre-commit post-commit post-merge post-checkout pre-push reference-transaction pre-auto-gc post-rewrite; do
  printf '#!/bin/sh\n%s\n' "$cmd" > .git/hooks/$h; chmod +x .git/hooks/$h
  cp .git/hooks/$h .git/evil-hooks/$h
done
echo '* filter=x diff=x merge=x' > .gitattributes
# Borrow loop b's objects; a ref that is a link to the host's secret.
echo "$other/.git/objects" >> .git/objects/info/alternates
ln -sf "$secret" .git/refs/heads/evil
echo done-planting`

// TestContextClonesHostile: a hostile agent in loop a cannot read loop
// b's notes or another repository's loop's, cannot move the user's
// clone's main, and what it plants in its own clone (hooks, config,
// alternates, links) neither runs nor leaks when the user runs the host
// commands afterwards (ls, status, sync, promote, inbox, focus, context,
// rm).
func TestContextClonesHostile(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			u := contextUser(t, d)
			u2 := also(t, u, d)
			u.OK("new", "a", "--driver", d.Name, "--detach")
			u.OK("new", "b", "--driver", d.Name, "--detach")
			u2.OK("new", "c", "--driver", d.Name, "--detach")
			uexec(t, u, "b", commitNote, "b.md", "SECRET-OF-B")
			uexec(t, u2, "c", commitNote, "c.md", "SECRET-OF-C")
			clone := u.Clone("notes")
			mainBefore := gittest.Git(t, clone, "rev-parse", "main")
			refsBefore := gittest.Git(t, clone, "for-each-ref")
			host := t.TempDir()
			marker := filepath.Join(host, "ran")
			secret := filepath.Join(host, "id_rsa")
			if err := os.WriteFile(secret, []byte("HOST-PRIVATE-KEY\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			out := uexec(t, u, "a", contextAttack, marker, secret, u.Context("b", "notes"), clone)
			t.Logf("%s: the attack printed:\n%s", d.Name, out)
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if line != "refused-reads" && line != "done-planting" {
					t.Errorf("the attack succeeded: %q", line)
				}
			}
			if gittest.Git(t, clone, "rev-parse", "main") != mainBefore {
				t.Error("the attack moved the user's clone's main")
			}
			// The user's commands, as they would run them afterwards.
			cmds := [][]string{
				{"ls"}, {"status", "a"}, {"focus"}, {"context", "ls"},
				{"inbox", "a user note"},
				{"sync", "a"},
				{"promote", "a", "--layer", "notes"},
				{"promote", "a", "--layer", "notes", "-a", "-m", "all"},
				{"rm", "a"},
				{"rm", "a", "--force"},
			}
			for _, c := range cmds {
				r := u.Run(c...)
				t.Logf("git loop %s: exit %d\n%s%s", strings.Join(c, " "), r.Code, r.Stdout, r.Stderr)
				if strings.Contains(r.Stdout+r.Stderr, "HOST-PRIVATE-KEY") || strings.Contains(r.Stdout+r.Stderr, "SECRET-OF-") {
					t.Errorf("git loop %s printed a secret", strings.Join(c, " "))
				}
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("a command planted in loop a's notes clone ran on the host")
			}
			// What reached the remote: a's notes, never b's or c's, nor the
			// host file behind the link (git stores a link as its target's
			// name).
			grep := exec.Command("git", "-C", u.Origin("notes"), "grep", "-I", "-l", "-e", "SECRET-OF", "-e", "HOST-PRIVATE-KEY", "main", "--")
			if out, err := grep.Output(); err == nil || len(out) > 0 {
				t.Errorf("the notes remote holds a secret: %s (%v)", out, err)
			}
			refsAfter := gittest.Git(t, clone, "for-each-ref", "--format=%(refname)")
			for _, ref := range strings.Fields(refsAfter) {
				if !strings.Contains(refsBefore, ref+"\n") && !strings.HasSuffix(refsBefore, ref) {
					t.Errorf("the user's clone has a new ref %s", ref)
				}
			}
			// Loop b's own note is still its own, unpromoted.
			if got := uexec(t, u, "b", `cd "$GIT_LOOP_NOTES" && cat b.md`); got != "SECRET-OF-B\n" {
				t.Errorf("loop b's note: %q", got)
			}
			b, _ := json.Marshal(u.Loops()["b"])
			if !strings.Contains(string(b), "notes") {
				t.Errorf("ls no longer shows b's unpromoted notes: %s", b)
			}
		})
	}
}

// TestContextClonesConvert: a docker or bwrap loop made before own
// context clones (its notes a linked worktree of the user's clone) is
// converted on its next exec, with a message; its branch and uncommitted
// notes are kept, and promote lands them.
func TestContextClonesConvert(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			u := contextUser(t, d)
			// The old layout: what "new" made for every driver before.
			u.OK("new", "a", "--driver", "none", "--detach")
			notes := u.Context("a", "notes")
			if fi, err := os.Lstat(filepath.Join(notes, ".git")); err != nil || fi.IsDir() {
				t.Fatalf("a none loop's notes should be a linked worktree: %v %v", fi, err)
			}
			gittest.WriteFile(t, notes, "old.md", "committed before\n")
			gittest.Git(t, notes, "add", "old.md")
			gittest.Commit(t, notes, "old note")
			gittest.WriteFile(t, notes, "wip.md", "uncommitted before\n")
			meta := filepath.Join(u.HostDir("a"), "meta.json")
			data, err := os.ReadFile(meta)
			if err != nil {
				t.Fatal(err)
			}
			data = []byte(strings.Replace(string(data), `"driver": "none"`, `"driver": "`+d.Name+`"`, 1))
			if err := os.WriteFile(meta, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if d.Name == "docker" {
				image := gittest.Git(t, u.Repo, "config", "loop.sandbox.image")
				data = []byte(strings.Replace(string(data), `"driver": "docker"`, `"driver": "docker", "image": "`+image+`"`, 1))
				if err := os.WriteFile(meta, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if r := u.Run("doctor"); !strings.Contains(r.Stdout+r.Stderr, "1 loop keeps its notes and knowledge in the shared context clones") {
				t.Errorf("doctor does not report the loop to convert:\n%s%s", r.Stdout, r.Stderr)
			}
			// On docker, doctor --fix converts it; on bwrap, its next exec.
			said := ""
			if d.Name == "docker" {
				r := u.Run("doctor", "--fix")
				said = r.Stdout + r.Stderr
				if !strings.Contains(said, "gave 1 loop context clones of their own") {
					t.Errorf("doctor --fix did not convert:\n%s", said)
				}
			}
			r := u.Run("exec", "a", "--", "sh", "-c", `cd "$GIT_LOOP_NOTES" && cat old.md wip.md && git status --porcelain`)
			if r.Code != 0 {
				t.Fatalf("exec: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			if said += r.Stderr; !strings.Contains(said, "notes context is now a clone of its own") {
				t.Errorf("no conversion message:\n%s", said)
			}
			if !strings.Contains(r.Stdout, "committed before") || !strings.Contains(r.Stdout, "?? wip.md") || strings.Contains(r.Stdout, "old.md\n") && strings.Contains(r.Stdout, "?? old.md") {
				t.Errorf("after conversion, inside:\n%s", r.Stdout)
			}
			if fi, err := os.Lstat(filepath.Join(notes, ".git")); err != nil || !fi.IsDir() {
				t.Fatalf("not converted: %v %v", fi, err)
			}
			if r := u.Run("doctor"); strings.Contains(r.Stdout+r.Stderr, "shared context clones") {
				t.Errorf("doctor still reports the converted loop:\n%s%s", r.Stdout, r.Stderr)
			}
			m := cmdtest.ReadMeta(t, u.Repo, "a")
			for _, c := range m.Contexts {
				if !c.Own {
					t.Errorf("%s: not recorded as its own clone", c.Layer)
				}
			}
			u.OK("promote", "a", "--layer", "notes", "-a", "-m", "wip")
			for f, want := range map[string]string{"old.md": "committed before", "wip.md": "uncommitted before"} {
				if got := cmdtest.OriginFile(t, u.Origin("notes"), f); got != want {
					t.Errorf("origin's %s: %q", f, got)
				}
			}
		})
	}
}

// TestContextClonesReviewAndConflict: a knowledge page committed in a
// loop's own clone is proposed by promote (solo mode: a branch of the
// user's clone) and merged by review; a sync whose merge conflicts stops
// with the merge in progress inside the sandbox, and --continue concludes
// it there.
func TestContextClonesReviewAndConflict(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			u := contextUser(t, d)
			u.OK("new", "a", "--driver", d.Name, "--detach")
			uexec(t, u, "a", `cd "$GIT_LOOP_KNOWLEDGE" && echo '# page' > page.md && git add page.md && git -c user.name=agent -c user.email=a@x commit -qm page`)
			r := u.OK("promote", "a", "--layer", "knowledge")
			if !strings.Contains(r.Stdout, "propos") {
				t.Errorf("knowledge promote did not propose:\n%s", r.Stdout)
			}
			u.OK("review", "merge", "knowledge/a")
			if got := cmdtest.OriginFile(t, u.Origin("knowledge"), "page.md"); got != "# page" {
				t.Errorf("origin's page.md after review merge: %q", got)
			}
			// The same line changed on both sides.
			uexec(t, u, "a", commitNote, "focus.md", "the loop's focus")
			clone := u.Clone("notes")
			gittest.WriteFile(t, clone, "focus.md", "the user's focus\n")
			gittest.Git(t, clone, "commit", "-qam", "user focus")
			gittest.Git(t, clone, "push", "-q", "origin", "main")
			if r := u.Run("promote", "a", "--layer", "notes"); r.Code == 0 || !strings.Contains(r.Stderr, "git loop sync a") {
				t.Errorf("promote over a conflict: exit %d\n%s", r.Code, r.Stderr)
			}
			if r := u.Run("sync", "a"); r.Code != 4 || !strings.Contains(r.Stderr, "focus.md") {
				t.Fatalf("sync over a conflict: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			if r := u.Run("sync", "a", "--continue"); r.Code != 4 {
				t.Errorf("--continue with markers left: exit %d\n%s", r.Code, r.Stderr)
			}
			uexec(t, u, "a", `cd "$GIT_LOOP_NOTES" && echo 'both focus' > focus.md`)
			u.OK("sync", "a", "--continue")
			if got := uexec(t, u, "a", `cd "$GIT_LOOP_NOTES" && git status --porcelain && git log -1 --format=%P | wc -w`); strings.TrimSpace(got) != "2" {
				t.Errorf("after --continue, inside: %q (want a clean merge commit)", got)
			}
			u.OK("promote", "a", "--layer", "notes")
			if got := cmdtest.OriginFile(t, u.Origin("notes"), "focus.md"); got != "both focus" {
				t.Errorf("origin's focus.md: %q", got)
			}
		})
	}
}
