package contextcmd_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	loopknowledge "github.com/gitloop-dev/git-loop/gitloop/knowledge"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

func TestContextBrowse(t *testing.T) {
	t.Parallel()
	repo, o, _, _ := cmdtest.NotesSetup(t)
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
	r := cmdtest.MustRunWith(t, repo, o, "context")
	noSecret("context", r)
	for _, want := range []string{"knowledge/README.md\n", "knowledge/.gitloop/config.toml\n", "knowledge/guides/deploy.md\n", "notes/inbox.md\n", "notes/focus.md\n", "personal/config.toml\n", "personal/vaults/work/envs/API_TOKEN\n", "personal/vaults/work/mounts/home/.netrc\n", "knowledge/leak.md (symlink)\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("context ls lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, ".git/") {
		t.Errorf("context ls shows .git:\n%s", r.Stdout)
	}
	if r2 := cmdtest.MustRunWith(t, repo, o, "context", "ls"); r2.Stdout != r.Stdout {
		t.Errorf("context and context ls differ")
	}
	r = cmdtest.MustRunWith(t, repo, o, "context", "ls", "--json", "personal")
	noSecret("ls --json personal", r)
	var files []loopknowledge.ContextFile
	if err := json.Unmarshal([]byte(r.Stdout), &files); err != nil {
		t.Fatal(err)
	}
	vaults := 0
	for _, f := range files {
		if f.Layer != workspace.Personal {
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
	r = cmdtest.MustRunWith(t, repo, o, "context", "ls", "knowledge/guides")
	if r.Stdout != "knowledge/guides/deploy.md\nknowledge/guides/setup.md\n" {
		t.Errorf("ls knowledge/guides:\n%s", r.Stdout)
	}

	// show by path and by [[name]].
	r = cmdtest.MustRunWith(t, repo, o, "context", "show", "notes/inbox.md")
	if r.Stdout != "# Inbox\n\n" {
		t.Errorf("show notes/inbox.md: %q", r.Stdout)
	}
	for _, name := range []string{"deploy", "[[Deploy]]", "guides/deploy", "[[deploy|the page]]"} {
		r = cmdtest.MustRunWith(t, repo, o, "context", "show", name)
		if !strings.HasPrefix(r.Stdout, "# Deploy\n") {
			t.Errorf("show %s: %q", name, r.Stdout)
		}
	}
	r = cmdtest.MustRunWith(t, repo, o, "context", "show", "--links", "deploy")
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
	r = cmdtest.MustRunWith(t, repo, o, "context", "show", "--json", "--links", "[[setup]]")
	var doc loopknowledge.ContextDoc
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
