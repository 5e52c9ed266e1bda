package root_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// notesSetup runs init in a fresh repo with its own user dirs and returns
// the repo, the run options, the notes clone and the notes origin.
func notesSetup(t *testing.T) (repo string, o cmdtest.Options, clone, origin string) {
	t.Helper()
	repo = gittest.Repo(t)
	o, home := withHome(t)
	mustRunWith(t, repo, o, "init", "-q")
	m, _ := filepath.Glob(filepath.Join(home, "data", "context", "notes-*"))
	if len(m) != 1 {
		t.Fatalf("notes clone: %v", m)
	}
	return repo, o, m[0], filepath.Join(home, "data", "origins", "notes.git")
}

// originFile is a file of main on a bare origin (its final newline
// dropped).
func originFile(t *testing.T, origin, file string) string {
	t.Helper()
	return gittest.Git(t, origin, "show", "main:"+file)
}

func TestInboxAddCommitsAndPushes(t *testing.T) {
	t.Parallel()
	repo, o, clone, origin := notesSetup(t)
	r := mustRunWith(t, repo, o, "inbox", "flaky login test on CI")
	if !strings.Contains(r.Stderr, "git commit") || !strings.Contains(r.Stderr, "git push") {
		t.Errorf("mutating git not logged:\n%s", r.Stderr)
	}
	if got := originFile(t, origin, "inbox.md"); got != "# Inbox\n\n- flaky login test on CI" {
		t.Errorf("origin inbox.md = %q", got)
	}
	if msg := gittest.Git(t, origin, "log", "-1", "--format=%s", "main"); msg != "inbox: flaky login test on CI" {
		t.Errorf("commit message %q", msg)
	}
	// Words joined by spaces; stdin with "-"; --json for the add.
	mustRunWith(t, repo, o, "inbox", "look", "into", "the", "cache")
	o2 := o
	o2.Stdin = "from stdin  \n"
	r = mustRunWith(t, repo, o2, "inbox", "-", "--json")
	var edit gitloop.NotesEdit
	if err := json.Unmarshal([]byte(r.Stdout), &edit); err != nil || edit.Item != "from stdin" || edit.Remote != "origin" || edit.Pushes != 1 || edit.Commit != gittest.Git(t, origin, "rev-parse", "main") {
		t.Errorf("add --json: %+v %v\n%s", edit, err, r.Stdout)
	}
	long := strings.Repeat("word ", 30)
	mustRunWith(t, repo, o, "inbox", long)
	if msg := gittest.Git(t, origin, "log", "-1", "--format=%s", "main"); len([]rune(msg)) != 72 || !strings.HasSuffix(msg, "…") {
		t.Errorf("long commit message %q", msg)
	}

	// Listing, human and JSON.
	r = mustRunWith(t, repo, o, "inbox")
	if want := "- flaky login test on CI\n- look into the cache\n- from stdin\n- " + strings.TrimSpace(long) + "\n"; r.Stdout != want {
		t.Errorf("inbox list:\n%s\nwant\n%s", r.Stdout, want)
	}
	r = mustRunWith(t, repo, o, "inbox", "--json")
	var items []gitloop.NoteItem
	if err := json.Unmarshal([]byte(r.Stdout), &items); err != nil || len(items) != 4 || items[0] != (gitloop.NoteItem{Text: "flaky login test on CI", Line: 3}) {
		t.Errorf("inbox --json: %+v %v", items, err)
	}
	if st := gittest.Git(t, clone, "status", "--porcelain"); st != "" {
		t.Errorf("clone left dirty:\n%s", st)
	}
	if ahead := gittest.Git(t, clone, "rev-list", "--count", "origin/main..HEAD"); ahead != "0" {
		t.Errorf("clone has %s unpushed commits", ahead)
	}
}

func TestInboxRefusals(t *testing.T) {
	t.Parallel()
	repo, o, clone, origin := notesSetup(t)
	before := gittest.Git(t, origin, "rev-parse", "main")
	withStdin := func(s string) cmdtest.Options { x := o; x.Stdin = s; return x }
	for _, c := range []struct {
		o    cmdtest.Options
		args []string
	}{
		{o, []string{"inbox", "two\nlines"}},
		{withStdin("one\ntwo\n"), []string{"inbox", "-"}},
		{o, []string{"inbox", ""}},
		{o, []string{"inbox", "  "}},
		{withStdin("\n"), []string{"inbox", "-"}},
		{o, []string{"inbox", "bell\a"}},
	} {
		if r := cmdtest.RunWith(t, repo, c.o, c.args...); r.Code != 2 {
			t.Errorf("%q: exit %d\n%s", c.args, r.Code, r.Stderr)
		}
	}
	// The user's own uncommitted edit of inbox.md is never touched.
	draft := "# Inbox\n\n- my draft, not committed\n"
	gittest.WriteFile(t, clone, "inbox.md", draft)
	r := cmdtest.RunWith(t, repo, o, "inbox", "new item")
	if r.Code != 5 || !strings.Contains(r.Stderr, "inbox.md") || !strings.Contains(r.Stderr, "uncommitted") {
		t.Errorf("dirty inbox.md: exit %d\n%s", r.Code, r.Stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(clone, "inbox.md")); string(data) != draft {
		t.Errorf("inbox.md changed: %q", data)
	}
	// Staged counts as uncommitted too.
	gittest.Git(t, clone, "add", "inbox.md")
	if r := cmdtest.RunWith(t, repo, o, "inbox", "new item"); r.Code != 5 {
		t.Errorf("staged inbox.md: exit %d\n%s", r.Code, r.Stderr)
	}
	if after := gittest.Git(t, origin, "rev-parse", "main"); after != before {
		t.Errorf("origin moved on refusals")
	}
	gittest.Git(t, clone, "reset", "-q", "--hard")

	// Changes to other files stay as they are: only inbox.md is committed.
	gittest.WriteFile(t, clone, "focus.md", "# Focus\n\n## pinned\n\n- my unsaved focus\n")
	gittest.WriteFile(t, clone, "scratch.md", "untracked\n")
	mustRunWith(t, repo, o, "inbox", "an item")
	if got := gittest.Git(t, origin, "show", "--name-only", "--format=", "main"); got != "inbox.md" {
		t.Errorf("pushed commit touched %q", got)
	}
	if st := gittest.Git(t, clone, "status", "--porcelain"); st != " M focus.md\n?? scratch.md" {
		t.Errorf("clone status:\n%s", st)
	}

	// inbox.md as a symlink (a hostile notes repo) is never written through.
	gittest.Git(t, clone, "checkout", "-q", "--", "focus.md")
	target := filepath.Join(t.TempDir(), "victim")
	gittest.WriteFile(t, filepath.Dir(target), "victim", "precious\n")
	os.Remove(filepath.Join(clone, "inbox.md"))
	if err := os.Symlink(target, filepath.Join(clone, "inbox.md")); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, clone, "commit", "-qam", "inbox.md as a link")
	if r := cmdtest.RunWith(t, repo, o, "inbox", "x"); r.Code == 0 {
		t.Errorf("wrote through a symlinked inbox.md:\n%s", r.Stderr)
	}
	if data, _ := os.ReadFile(target); string(data) != "precious\n" {
		t.Errorf("symlink target changed: %q", data)
	}
}

func TestInboxConcurrentClones(t *testing.T) {
	t.Parallel()
	repo, o, clone, origin := notesSetup(t)

	// A teammate's clone pushes first; our add is rejected, merges and
	// lands on the second try. Both items are on the origin.
	team := filepath.Join(t.TempDir(), "team")
	gittest.Git(t, filepath.Dir(team), "clone", "-q", origin, team)
	f, err := os.OpenFile(filepath.Join(team, "inbox.md"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "- from the teammate")
	f.Close()
	gittest.Commit(t, team, "inbox: from the teammate")
	gittest.Git(t, team, "push", "-q", "origin", "HEAD:main")

	r := mustRunWith(t, repo, o, "inbox", "--json", "from me")
	var edit gitloop.NotesEdit
	if err := json.Unmarshal([]byte(r.Stdout), &edit); err != nil || edit.Pushes != 2 {
		t.Errorf("edit %+v %v", edit, err)
	}
	if !strings.Contains(r.Stderr, "git merge") || strings.Contains(r.Stderr, "rebase") {
		t.Errorf("expected a merge, never a rebase:\n%s", r.Stderr)
	}
	got := originFile(t, origin, "inbox.md") + "\n"
	if !strings.Contains(got, "- from the teammate\n") || !strings.Contains(got, "- from me") {
		t.Errorf("origin inbox.md:\n%s", got)
	}
	if st := gittest.Git(t, clone, "status", "--porcelain"); st != "" {
		t.Errorf("clone left dirty:\n%s", st)
	}

	// Two machines (own user dirs, own clones of one origin) adding at
	// once, as real processes: every item lands exactly once.
	repo2 := gittest.Repo(t)
	o2, _ := withHome(t)
	mustRunWith(t, repo2, o2, "init", "-q", "--notes", origin)
	const n = 4
	var wg sync.WaitGroup
	errs := make(chan string, 2*n)
	for _, m := range []struct {
		name, repo string
		o          cmdtest.Options
	}{{"a", repo, o}, {"b", repo2, o2}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				cmd := gitLoop(m.repo, "inbox", "-q", fmt.Sprintf("item %s%d", m.name, i))
				cmd.Env = append(os.Environ(), "GIT_LOOP_HOME="+m.o.Env["GIT_LOOP_HOME"])
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- fmt.Sprintf("%s%d: %v\n%s", m.name, i, err, out)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	got = originFile(t, origin, "inbox.md") + "\n"
	for _, name := range []string{"a", "b"} {
		for i := range n {
			if c := strings.Count(got, fmt.Sprintf("- item %s%d\n", name, i)); c != 1 {
				t.Errorf("item %s%d is on the origin %d times:\n%s", name, i, c, got)
			}
		}
	}
}

func TestFocus(t *testing.T) {
	t.Parallel()
	repo, o, clone, origin := notesSetup(t)
	for _, name := range []string{"fix-login", "docs-refresh", "other"} {
		mustRunWith(t, repo, o, "new", name, "--driver", "none", "-d", "-q")
	}
	// Empty focus.
	r := mustRunWith(t, repo, o, "focus")
	if r.Stdout != "pinned\n  (none)\nlisted\n  (none)\n" {
		t.Errorf("empty focus:\n%s", r.Stdout)
	}
	// Edits commit and push.
	mustRunWith(t, repo, o, "focus", "pin", "Fix login")
	mustRunWith(t, repo, o, "focus", "pin", "review", "docs-refresh")
	mustRunWith(t, repo, o, "focus", "list", "someday: tidy the build")
	mustRunWith(t, repo, o, "focus", "list", "ship 1.0")
	want := "# Focus\n\n## pinned\n\n- Fix login\n- review docs-refresh\n\n## listed\n\n- someday: tidy the build\n- ship 1.0"
	if got := originFile(t, origin, "focus.md"); got != want {
		t.Errorf("origin focus.md:\n%q\nwant\n%q", got, want)
	}
	if msg := gittest.Git(t, origin, "log", "-1", "--format=%s", "main"); msg != "focus: list: ship 1.0" {
		t.Errorf("commit message %q", msg)
	}
	r = mustRunWith(t, repo, o, "focus")
	wantOut := `pinned
  - Fix login  ← fix-login
  - review docs-refresh  ← docs-refresh
listed
  - someday: tidy the build
  - ship 1.0
`
	if r.Stdout != wantOut {
		t.Errorf("focus:\n%s\nwant\n%s", r.Stdout, wantOut)
	}
	r = mustRunWith(t, repo, o, "focus", "--json")
	var f gitloop.Focus
	if err := json.Unmarshal([]byte(r.Stdout), &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Pinned) != 2 || len(f.Listed) != 2 ||
		!reflect.DeepEqual(f.Pinned[0].Loops, []gitloop.FocusLoop{{Name: "fix-login", Branch: "loop/fix-login"}}) ||
		f.Pinned[0].Text != "Fix login" || f.Pinned[0].Line != 5 || f.Listed[1].Loops == nil || len(f.Listed[1].Loops) != 0 {
		t.Errorf("focus --json: %s", r.Stdout)
	}
	// Moving and finishing.
	mustRunWith(t, repo, o, "focus", "pin", "SHIP 1.0")
	mustRunWith(t, repo, o, "focus", "done", "tidy")
	want = "# Focus\n\n## pinned\n\n- Fix login\n- review docs-refresh\n- ship 1.0\n\n## listed\n"
	if got := originFile(t, origin, "focus.md") + "\n"; got != want {
		t.Errorf("origin focus.md:\n%q\nwant\n%q", got, want)
	}
	if r := cmdtest.RunWith(t, repo, o, "focus", "done", "nothing like it"); r.Code != 2 {
		t.Errorf("done of a missing item: %d %s", r.Code, r.Stderr)
	}
	// A hand-written focus.md: headings in any case, other sections ignored.
	gittest.WriteFile(t, clone, "focus.md", "# Focus\n## Pinned\n* fix-login and other\n## Someday\n- not shown\n## Listed\n- nothing\n")
	gittest.Git(t, clone, "commit", "-qam", "by hand")
	r = mustRunWith(t, repo, o, "focus")
	if want := "pinned\n  - fix-login and other  ← fix-login, other\nlisted\n  - nothing\n"; r.Stdout != want {
		t.Errorf("hand-written focus:\n%s\nwant\n%s", r.Stdout, want)
	}
	// Dirty focus.md refuses an edit.
	gittest.WriteFile(t, clone, "focus.md", "mine\n")
	if r := cmdtest.RunWith(t, repo, o, "focus", "pin", "x"); r.Code != 5 {
		t.Errorf("dirty focus.md: %d %s", r.Code, r.Stderr)
	}
}

func TestNotesNeedInit(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, _ := withHome(t)
	for _, args := range [][]string{{"inbox", "x"}, {"inbox"}, {"focus"}, {"context"}, {"context", "show", "notes/inbox.md"}} {
		r := cmdtest.RunWith(t, repo, o, args...)
		if r.Code != 1 || !strings.Contains(r.Stderr, `git loop init`) {
			t.Errorf("%v without init: %d %s", args, r.Code, r.Stderr)
		}
	}
}

func TestContextBrowse(t *testing.T) {
	t.Parallel()
	repo, o, _, _ := notesSetup(t)
	home := o.Env["GIT_LOOP_HOME"]
	glob := func(p string) string {
		m, _ := filepath.Glob(filepath.Join(home, "data", p))
		if len(m) != 1 {
			t.Fatalf("%s: %v", p, m)
		}
		return m[0]
	}
	knowledge, notes, personal := glob("context/knowledge-*"), glob("context/notes-*"), glob("personal")
	gittest.WriteFile(t, knowledge, "guides/deploy.md", "# Deploy\n\nWrite to the [[inbox]]; see [[Setup]] and [[dup]].\n")
	gittest.WriteFile(t, knowledge, "guides/setup.md", "# Setup\n")
	gittest.WriteFile(t, notes, "dup.md", "notes dup\n")
	gittest.WriteFile(t, notes, "memory/MEMORY.md", "# Team memory\n\n- deploys: [[deploy]]\n")
	gittest.WriteFile(t, personal, "dup.md", "personal dup\n")
	gittest.WriteFile(t, personal, "vaults/work/envs/API_TOKEN", "s3cret-token\n")
	gittest.WriteFile(t, personal, "vaults/work/mounts/home/.netrc", "machine x password s3cret-netrc\n")
	outside := filepath.Join(t.TempDir(), "outside.md")
	gittest.WriteFile(t, filepath.Dir(outside), "outside.md", "s3cret-outside\n")
	if err := os.Symlink(outside, filepath.Join(knowledge, "leak.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("vaults/work/envs/API_TOKEN", filepath.Join(personal, "token.md")); err != nil {
		t.Fatal(err)
	}
	noSecret := func(what string, r cmdtest.Result) {
		t.Helper()
		if strings.Contains(r.Stdout+r.Stderr, "s3cret") {
			t.Errorf("%s leaked a secret:\n%s%s", what, r.Stdout, r.Stderr)
		}
	}

	// "context" alone is ls: every layer, .git skipped, vault names only.
	r := mustRunWith(t, repo, o, "context")
	noSecret("context", r)
	for _, want := range []string{"knowledge/README.md\n", "knowledge/.gitloop/config.toml\n", "knowledge/guides/deploy.md\n", "notes/inbox.md\n", "notes/focus.md\n", "personal/config.toml\n", "personal/vaults/work/envs/API_TOKEN\n", "personal/vaults/work/mounts/home/.netrc\n", "knowledge/leak.md (symlink)\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("context ls lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, ".git/") {
		t.Errorf("context ls shows .git:\n%s", r.Stdout)
	}
	if r2 := mustRunWith(t, repo, o, "context", "ls"); r2.Stdout != r.Stdout {
		t.Errorf("context and context ls differ")
	}
	r = mustRunWith(t, repo, o, "context", "ls", "--json", "personal")
	noSecret("ls --json personal", r)
	var files []gitloop.ContextFile
	if err := json.Unmarshal([]byte(r.Stdout), &files); err != nil {
		t.Fatal(err)
	}
	vaults := 0
	for _, f := range files {
		if f.Layer != gitloop.Personal {
			t.Errorf("ls personal listed %+v", f)
		}
		if strings.HasPrefix(f.Path, "vaults/") {
			vaults++
			if !f.Vault || f.Size != 0 {
				t.Errorf("vault entry %+v", f)
			}
		}
	}
	if vaults != 2 {
		t.Errorf("%d vault entries in %s", vaults, r.Stdout)
	}
	r = mustRunWith(t, repo, o, "context", "ls", "knowledge/guides")
	if r.Stdout != "knowledge/guides/deploy.md\nknowledge/guides/setup.md\n" {
		t.Errorf("ls knowledge/guides:\n%s", r.Stdout)
	}

	// show by path and by [[name]].
	r = mustRunWith(t, repo, o, "context", "show", "notes/inbox.md")
	if r.Stdout != "# Inbox\n\n" {
		t.Errorf("show notes/inbox.md: %q", r.Stdout)
	}
	for _, name := range []string{"deploy", "[[Deploy]]", "guides/deploy", "[[deploy|the page]]"} {
		r = mustRunWith(t, repo, o, "context", "show", name)
		if !strings.HasPrefix(r.Stdout, "# Deploy\n") {
			t.Errorf("show %s: %q", name, r.Stdout)
		}
	}
	r = mustRunWith(t, repo, o, "context", "show", "--links", "deploy")
	wantLinks := `# Deploy

Write to the [[inbox]]; see [[Setup]] and [[dup]].

Links:
  [[inbox]] → notes/inbox.md
  [[Setup]] → knowledge/guides/setup.md
  [[dup]] → ambiguous: notes/dup.md, personal/dup.md
Backlinks:
  notes/memory/MEMORY.md
`
	if r.Stdout != wantLinks {
		t.Errorf("show --links:\n%s\nwant\n%s", r.Stdout, wantLinks)
	}
	r = mustRunWith(t, repo, o, "context", "show", "--json", "--links", "[[setup]]")
	var doc gitloop.ContextDoc
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || doc.Ref() != "knowledge/guides/setup.md" || doc.Content != "# Setup\n" || !reflect.DeepEqual(doc.Backlinks, []string{"knowledge/guides/deploy.md"}) {
		t.Errorf("show --json: %+v %v\n%s", doc, err, r.Stdout)
	}
	// Ambiguous and missing names: exit 1, candidates listed.
	r = cmdtest.RunWith(t, repo, o, "context", "show", "[[dup]]")
	if r.Code != 1 || !strings.Contains(r.Stderr, "notes/dup.md") || !strings.Contains(r.Stderr, "personal/dup.md") || r.Stdout != "" {
		t.Errorf("ambiguous: %d\n%s", r.Code, r.Stderr)
	}
	r = cmdtest.RunWith(t, repo, o, "context", "show", "nowhere")
	if r.Code != 1 || !strings.Contains(r.Stderr, "[[nowhere]]") {
		t.Errorf("missing: %d\n%s", r.Code, r.Stderr)
	}

	// Hostile input: refused with exit 2, nothing shown.
	for _, args := range [][]string{
		{"context", "show", "../notes/inbox.md"},
		{"context", "show", "knowledge/../notes/inbox.md"},
		{"context", "show", "knowledge/../../../../etc/passwd"},
		{"context", "show", "/etc/passwd"},
		{"context", "show", outside},
		{"context", "show", "knowledge/leak.md"},
		{"context", "show", "leak"},
		{"context", "show", "[[../../outside]]"},
		{"context", "show", "personal/vaults/work/envs/API_TOKEN"},
		{"context", "show", "personal/vaults/work/mounts/home/.netrc"},
		{"context", "show", "personal/token.md"},
		{"context", "show", "token"},
		{"context", "show", "knowledge/.git/config"},
		{"context", "show", "--links", "personal/vaults/work/envs/API_TOKEN"},
		{"context", "ls", "knowledge/.."},
		{"context", "ls", "/etc"},
		{"context", "ls", "knowledge/../../.."},
		{"context", "ls", "elsewhere"},
		{"context", "show"},
		{"context", "bogus"},
	} {
		r := cmdtest.RunWith(t, repo, o, args...)
		noSecret(strings.Join(args, " "), r)
		if r.Code != 2 || r.Stdout != "" {
			t.Errorf("%q: exit %d\nstdout %q\n%s", args, r.Code, r.Stdout, r.Stderr)
		}
	}
	// The vault's names resolve as no [[link]] at all.
	if r := cmdtest.RunWith(t, repo, o, "context", "show", "API_TOKEN"); r.Code != 1 || !strings.Contains(r.Stderr, "no file") {
		t.Errorf("vault name as a link: %d %s", r.Code, r.Stderr)
	}
}
