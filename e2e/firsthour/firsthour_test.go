package firsthoure2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// step is one command of the story and what must hold after it.
type step struct {
	name   string
	args   []string
	stdin  string
	code   int      // the exit code wanted
	stdout []string // substrings of stdout
	stderr []string // substrings of stderr
	check  func(t *testing.T, s *story)
}

// story is the user and their team's remotes.
type story struct {
	*cmdtest.User
	remotes map[string]string // layer → empty bare repository
}

// refs lists the branches of a bare remote.
func refs(t *testing.T, bare string) string {
	t.Helper()
	return gittest.Git(t, bare, "for-each-ref", "--format=%(refname)", "refs/heads/")
}

// file is a file of a bare remote's main.
func file(t *testing.T, bare, path string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", bare, "show", "main:"+path).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: git show main:%s: %v\n%s", bare, path, err, out)
	}
	return string(out)
}

// TestFirstHour: init against empty team remotes, vault init/set/ls/get
// without --vault, new, a commit in each layer from inside the loop
// (exec), promote (the first promote creates each remote's main), review
// merge and sync. Every step must succeed; the error steps must name the
// next command.
func TestFirstHour(t *testing.T) {
	_, err := exec.LookPath("git-crypt")
	sandboxtest.Require(t, err, "git-crypt", `install git-crypt ("sudo apt-get install git-crypt")`)
	// init saves the personal URL in the global git config: this test's own.
	t.Setenv("GIT_CONFIG_GLOBAL", filepath.Join(t.TempDir(), "gitconfig"))

	s := &story{User: cmdtest.NewUser(t, gittest.Repo(t)), remotes: map[string]string{}}
	forge := t.TempDir()
	for _, l := range []string{"knowledge", "notes", "personal"} {
		s.remotes[l] = filepath.Join(forge, l+".git")
		gittest.Git(t, forge, "init", "-q", "--bare", "-b", "main", s.remotes[l])
	}
	key := filepath.Join(t.TempDir(), "vault.key")
	exe := func(script string) []string {
		return []string{"exec", "demo", "--", "sh", "-ec", script}
	}
	commitIn := func(dir, file, text, msg string) string {
		return "(cd " + dir + " && printf '%s\\n' '" + text + "' > " + file + " && git add " + file + " && git commit -qm '" + msg + "')"
	}

	steps := []step{
		{name: "vault set before init says what to do", args: []string{"vault", "set", "API_KEY"}, stdin: "x", code: 1,
			stderr: []string{"git loop init"}},
		{name: "init against empty remotes", args: []string{"init", "--knowledge", s.remotes["knowledge"], "--notes", s.remotes["notes"], "--personal", s.remotes["personal"]},
			stderr: []string{"knowledge remote " + s.remotes["knowledge"]},
			check: func(t *testing.T, s *story) {
				// The hooks go into the clones of the URLs given (init
				// again changes nothing, and lists them).
				again := s.OK("init").Stderr
				for _, l := range []string{"knowledge", "notes", "personal"} {
					if !strings.Contains(again, "("+l+")") {
						t.Errorf("no hooks in the %s clone", l)
					}
					if _, err := os.Stat(filepath.Join(s.Clone(l), ".git", "hooks", "post-merge")); err != nil {
						t.Errorf("%s clone: %v", l, err)
					}
				}
			}},
		{name: "vault set before vault init says what to do", args: []string{"vault", "set", "API_KEY"}, stdin: "x", code: 2,
			stderr: []string{"git loop vault init"}},
		{name: "vault init makes the default vault", args: []string{"vault", "init", "--export-key", key},
			stderr: []string{`Created the vault "default"`}},
		{name: "an empty default vault says how to fill it", args: []string{"vault", "ls"},
			stderr: []string{"Vault default is empty", "git loop vault set VAR"}},
		{name: "new with the default vault still empty", args: []string{"new", "--driver", "none", "--detach", "early"},
			stderr: []string{"Created loop early"}},
		{name: "vault set without --vault", args: []string{"vault", "set", "API_KEY"}, stdin: "sk-first-hour\n",
			stderr: []string{"Set API_KEY in vault default"}},
		{name: "a loop made before the set gets the key at its next exec", args: []string{"exec", "early", "--", "sh", "-c", `test "$API_KEY" = sk-first-hour`}},
		{name: "vault get of a missing variable says how to set it", args: []string{"vault", "get", "NOPE"}, code: 1,
			stderr: []string{`git loop vault set NOPE`}},
		{name: "vault ls without --vault", args: []string{"vault", "ls"}, stdout: []string{"default\tenv\tAPI_KEY"}},
		{name: "vault get without --vault", args: []string{"vault", "get", "API_KEY"}, stdout: []string{"sk-first-hour"}},
		{name: "new on unborn layers", args: []string{"new", "--driver", "none", "--detach", "demo"},
			stderr: []string{"Created loop demo"}},
		{name: "the loop gets the default vault", args: exe(`test "$API_KEY" = sk-first-hour`)},
		{name: "the context layers start empty", args: exe(`test -z "$(ls -A ../context/knowledge | grep -v '^.git$')"`)},
		{name: "commit in every layer from inside the loop", args: exe(strings.Join([]string{
			commitIn(".", "hello.txt", "hello", "code: hello"),
			commitIn("../context/knowledge", "guide.md", "# Guide", "knowledge: guide"),
			commitIn("../context/notes", "inbox.md", "- first note", "notes: first"),
		}, " && "))},
		{name: "the first promote creates each main", args: []string{"promote", "demo"},
			stdout: []string{"knowledge proposed as loop/demo", "notes     landed on origin/main"},
			check: func(t *testing.T, s *story) {
				if got := refs(t, s.remotes["notes"]); got != "refs/heads/main" {
					t.Errorf("notes remote branches %q, want main", got)
				}
				if got := file(t, s.remotes["notes"], "inbox.md"); got != "- first note\n" {
					t.Errorf("notes main inbox.md = %q", got)
				}
				// A gated layer's proposal needs a main to merge into: the
				// empty layer the loop started from.
				if got := refs(t, s.remotes["knowledge"]); got != "refs/heads/loop/demo\nrefs/heads/main" {
					t.Errorf("knowledge remote branches %q, want loop/demo and main", got)
				}
			}},
		{name: "review merges the knowledge proposal", args: []string{"review", "merge", "knowledge/demo"},
			stdout: []string{"merged knowledge/demo"},
			check: func(t *testing.T, s *story) {
				if got := file(t, s.remotes["knowledge"], "guide.md"); got != "# Guide\n" {
					t.Errorf("knowledge main guide.md = %q", got)
				}
			}},
		{name: "sync brings main into the loop", args: []string{"sync", "demo"}, stdout: []string{"knowledge merged"}},
		{name: "sync fast-forwards the unborn clones", args: []string{"sync"},
			stdout: []string{"knowledge updated to ", "notes     updated to "},
			check: func(t *testing.T, s *story) {
				if got := gittest.Git(t, s.Clone("notes"), "log", "-1", "--format=%s"); got != "notes: first" {
					t.Errorf("notes clone at %q after sync", got)
				}
			}},
		{name: "a second loop starts from the promoted layers", args: []string{"new", "--driver", "none", "--detach", "second"},
			check: func(t *testing.T, s *story) {
				r := s.OK("exec", "second", "--", "cat", "../context/knowledge/guide.md", "../context/notes/inbox.md")
				if r.Stdout != "# Guide\n- first note\n" {
					t.Errorf("second loop's context: %q", r.Stdout)
				}
			}},
	}
	for _, st := range steps {
		o := s.Opts
		o.Stdin = st.stdin
		r := cmdtest.RunWith(t, s.Repo, o, st.args...)
		if r.Code != st.code {
			t.Fatalf("%s: git loop %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", st.name, strings.Join(st.args, " "), r.Code, st.code, r.Stdout, r.Stderr)
		}
		for _, w := range st.stdout {
			if !strings.Contains(r.Stdout, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", st.name, w, r.Stdout)
			}
		}
		for _, w := range st.stderr {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", st.name, w, r.Stderr)
			}
		}
		if st.check != nil {
			st.check(t, s)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

// TestTwoUsersOnEmptyRemotes: two users start from the same empty team
// remotes before either promotes. Both start from the same empty layer
// (one commit, whoever makes it), so the second promote merges the first
// one's work instead of failing on unrelated histories.
func TestTwoUsersOnEmptyRemotes(t *testing.T) {
	t.Setenv("GIT_CONFIG_GLOBAL", filepath.Join(t.TempDir(), "gitconfig"))
	forge := t.TempDir()
	notes := filepath.Join(forge, "notes.git")
	knowledge := filepath.Join(forge, "knowledge.git")
	for _, bare := range []string{notes, knowledge} {
		gittest.Git(t, forge, "init", "-q", "--bare", "-b", "main", bare)
	}
	var users []*cmdtest.User
	for _, who := range []string{"ana", "bo"} {
		u := cmdtest.NewUser(t, gittest.Repo(t))
		u.OK("init", "-q", "--knowledge", knowledge, "--notes", notes)
		u.OK("new", "--driver", "none", "--detach", who)
		u.OK("exec", who, "--", "sh", "-ec", "cd ../context/notes && echo "+who+" > "+who+".md && git add . && git commit -qm "+who)
		users = append(users, u)
	}
	for i, who := range []string{"ana", "bo"} {
		if r := users[i].OK("promote", who, "--layer", "notes"); !strings.Contains(r.Stdout, "landed on origin/main") {
			t.Errorf("%s's promote: %s", who, r.Stdout)
		}
	}
	for _, who := range []string{"ana", "bo"} {
		if got := file(t, notes, who+".md"); got != who+"\n" {
			t.Errorf("notes main %s.md = %q", who, got)
		}
	}
	roots := gittest.Git(t, notes, "rev-list", "--max-parents=0", "main")
	if strings.Count(roots, "\n") != 0 {
		t.Errorf("notes main has more than one root:\n%s", roots)
	}
}

// TestNewInAnEmptyRepository: a code repository with no commits yet (just
// made, or cloned from an empty remote) gets an error naming the first
// commit to make, and new works once it is made.
func TestNewInAnEmptyRepository(t *testing.T) {
	t.Parallel()
	repo := filepath.Join(t.TempDir(), "app")
	gittest.Git(t, filepath.Dir(repo), "init", "-q", "-b", "main", repo)
	u := cmdtest.NewUser(t, repo)
	u.OK("init", "-q")
	r := u.Run("new", "--driver", "none", "--detach", "x")
	if r.Code == 0 || !strings.Contains(r.Stderr, "no commits yet") || !strings.Contains(r.Stderr, "git commit --allow-empty") {
		t.Fatalf("new in an empty repository: exit %d\n%s", r.Code, r.Stderr)
	}
	gittest.Git(t, repo, "commit", "-q", "--allow-empty", "-m", "first commit")
	u.OK("new", "--driver", "none", "--detach", "x")
}
