package inbox_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/notes"
)

func TestInboxAddCommitsAndPushes(t *testing.T) {
	t.Parallel()
	repo, o, clone, origin := cmdtest.NotesSetup(t)
	r := cmdtest.MustRunWith(t, repo, o, "inbox", "-v", "flaky login test on CI")
	if !strings.Contains(r.Stderr, "git commit") || !strings.Contains(r.Stderr, "git push") {
		t.Errorf("mutating git not logged:\n%s", r.Stderr)
	}
	if got := cmdtest.OriginFile(t, origin, "inbox.md"); got != "# Inbox\n\n- flaky login test on CI" {
		t.Errorf("origin inbox.md = %q", got)
	}
	if msg := gittest.Git(t, origin, "log", "-1", "--format=%s", "main"); msg != "inbox: flaky login test on CI" {
		t.Errorf("commit message %q", msg)
	}
	// Words joined by spaces; stdin with "-"; --json for the add.
	cmdtest.MustRunWith(t, repo, o, "inbox", "look", "into", "the", "cache")
	o2 := o
	o2.Stdin = "from stdin  \n"
	r = cmdtest.MustRunWith(t, repo, o2, "inbox", "-", "--json")
	var edit notes.NotesEdit
	if err := json.Unmarshal([]byte(r.Stdout), &edit); err != nil || edit.Item != "from stdin" || edit.Remote != "origin" || edit.Pushes != 1 || edit.Commit != gittest.Git(t, origin, "rev-parse", "main") {
		t.Errorf("add --json: %+v %v\n%s", edit, err, r.Stdout)
	}
	long := strings.Repeat("word ", 30)
	cmdtest.MustRunWith(t, repo, o, "inbox", long)
	if msg := gittest.Git(t, origin, "log", "-1", "--format=%s", "main"); len([]rune(msg)) != 72 || !strings.HasSuffix(msg, "…") {
		t.Errorf("long commit message %q", msg)
	}

	// Listing, human and JSON.
	r = cmdtest.MustRunWith(t, repo, o, "inbox")
	if want := "- flaky login test on CI\n- look into the cache\n- from stdin\n- " + strings.TrimSpace(long) + "\n"; r.Stdout != want {
		t.Errorf("inbox list:\n%s\nwant\n%s", r.Stdout, want)
	}
	r = cmdtest.MustRunWith(t, repo, o, "inbox", "--json")
	var items []notes.NoteItem
	if err := json.Unmarshal([]byte(r.Stdout), &items); err != nil || len(items) != 4 || items[0] != (notes.NoteItem{Text: "flaky login test on CI", Line: 3}) {
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
	repo, o, clone, origin := cmdtest.NotesSetup(t)
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
	cmdtest.MustRunWith(t, repo, o, "inbox", "an item")
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
	repo, o, clone, origin := cmdtest.NotesSetup(t)

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

	r := cmdtest.MustRunWith(t, repo, o, "inbox", "-v", "--json", "from me")
	var edit notes.NotesEdit
	if err := json.Unmarshal([]byte(r.Stdout), &edit); err != nil || edit.Pushes != 2 {
		t.Errorf("edit %+v %v", edit, err)
	}
	if !strings.Contains(r.Stderr, "git merge") || strings.Contains(r.Stderr, "rebase") {
		t.Errorf("expected a merge, never a rebase:\n%s", r.Stderr)
	}
	got := cmdtest.OriginFile(t, origin, "inbox.md") + "\n"
	if !strings.Contains(got, "- from the teammate\n") || !strings.Contains(got, "- from me") {
		t.Errorf("origin inbox.md:\n%s", got)
	}
	if st := gittest.Git(t, clone, "status", "--porcelain"); st != "" {
		t.Errorf("clone left dirty:\n%s", st)
	}

	// Two machines (own user dirs, own clones of one origin) adding at
	// once, as real processes: every item lands exactly once.
	repo2 := gittest.Repo(t)
	o2, _ := cmdtest.WithHome(t)
	cmdtest.MustRunWith(t, repo2, o2, "init", "-q", "--notes", origin)
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
				cmd := cmdtest.GitLoop(m.repo, "inbox", "-q", fmt.Sprintf("item %s%d", m.name, i))
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
	got = cmdtest.OriginFile(t, origin, "inbox.md") + "\n"
	for _, name := range []string{"a", "b"} {
		for i := range n {
			if c := strings.Count(got, fmt.Sprintf("- item %s%d\n", name, i)); c != 1 {
				t.Errorf("item %s%d is on the origin %d times:\n%s", name, i, c, got)
			}
		}
	}
}

func TestNotesNeedInit(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	o, _ := cmdtest.WithHome(t)
	for _, args := range [][]string{{"inbox", "x"}, {"inbox"}, {"focus"}, {"context"}, {"context", "show", "notes/inbox.md"}} {
		r := cmdtest.RunWith(t, repo, o, args...)
		if r.Code != 1 || !strings.Contains(r.Stderr, `git loop init`) {
			t.Errorf("%v without init: %d %s", args, r.Code, r.Stderr)
		}
	}
}
