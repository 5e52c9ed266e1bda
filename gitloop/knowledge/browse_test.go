package knowledge

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// testTree lays out three layers with links, a vault and a .git dir.
func testTree(t *testing.T) (*ContextTree, string) {
	t.Helper()
	base := t.TempDir()
	roots := map[workspace.Layer]string{}
	for _, l := range workspace.Layers {
		roots[l] = filepath.Join(base, string(l))
	}
	files := map[string]string{
		"knowledge/README.md":            "# Team\n\nSee [[Deploy]] and [[guides/setup|setting up]] and [[nowhere]].\n",
		"knowledge/deploy.md":            "# Deploy\n\nAsk [[inbox]].\n",
		"knowledge/guides/setup.md":      "# Setup\n",
		"knowledge/guides/setup.png":     "png",
		"knowledge/design.txt":           "design notes",
		"knowledge/.git/config":          "[core]\n",
		"knowledge/.gitloop/config.toml": "# team\n",
		"notes/inbox.md":                 "# Inbox\n\n- read [[deploy#rollback]]\n",
		"notes/memory/MEMORY.md":         "# Team memory\n",
		"notes/dup.md":                   "notes dup\n",
		"personal/dup.md":                "personal dup\n",
		"personal/memory/MEMORY.md":      "remember [[deploy]]\n",
		"personal/vaults/v/envs/TOKEN":   "s3cret-token\n",
		"personal/vaults/v/notes.md":     "[[deploy]] s3cret-note\n",
		"personal/.git/git-crypt/keys":   "KEY\n",
	}
	for rel, content := range files {
		gittest.WriteFile(t, base, rel, content)
	}
	return &ContextTree{Roots: roots}, base
}

func refs(files []ContextFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Ref()
	}
	return out
}

func isUsage(err error) bool {
	var ue *workspace.UsageError
	return errors.As(err, &ue)
}

func TestContextList(t *testing.T) {
	t.Parallel()
	tree, _ := testTree(t)
	all, err := tree.List("")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"knowledge/.gitloop/config.toml", "knowledge/README.md", "knowledge/deploy.md", "knowledge/design.txt",
		"knowledge/guides/setup.md", "knowledge/guides/setup.png",
		"notes/dup.md", "notes/inbox.md", "notes/memory/MEMORY.md",
		"personal/dup.md", "personal/memory/MEMORY.md", "personal/vaults/v/envs/TOKEN", "personal/vaults/v/notes.md",
	}
	if got := refs(all); !reflect.DeepEqual(got, want) {
		t.Errorf("List() =\n%v\nwant\n%v", got, want)
	}
	for _, f := range all {
		if strings.HasPrefix(f.Path, "vaults/") != f.Vault || (f.Vault && f.Size != 0) {
			t.Errorf("entry %+v", f)
		}
		if !f.Vault && f.Size == 0 {
			t.Errorf("entry %+v has no size", f)
		}
	}
	for arg, want := range map[string][]string{
		"knowledge/guides":  {"knowledge/guides/setup.md", "knowledge/guides/setup.png"},
		"knowledge/guides/": {"knowledge/guides/setup.md", "knowledge/guides/setup.png"},
		"notes/inbox.md":    {"notes/inbox.md"},
		"personal/vaults":   {"personal/vaults/v/envs/TOKEN", "personal/vaults/v/notes.md"},
		"notes/./memory":    {"notes/memory/MEMORY.md"},
	} {
		got, err := tree.List(arg)
		if err != nil || !reflect.DeepEqual(refs(got), want) {
			t.Errorf("List(%q) = %v, %v; want %v", arg, refs(got), err, want)
		}
	}
	if _, err := tree.List("notes/nope"); err == nil || isUsage(err) {
		t.Errorf("missing path: %v", err)
	}
}

func TestContextRefusesEscapes(t *testing.T) {
	t.Parallel()
	tree, base := testTree(t)
	outside := filepath.Join(t.TempDir(), "secret.md")
	if err := os.WriteFile(outside, []byte("outside secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := func(target, rel string) {
		if err := os.Symlink(target, filepath.Join(base, rel)); err != nil {
			t.Fatal(err)
		}
	}
	link(outside, "knowledge/abs-link.md")
	link("../../"+filepath.Base(filepath.Dir(outside))+"/secret.md", "knowledge/rel-link.md")
	link(filepath.Dir(outside), "notes/outdir")
	link("../notes/inbox.md", "knowledge/sibling.md")   // another layer: outside this one
	link("vaults/v/envs/TOKEN", "personal/token.md")    // into the vault
	link("vaults", "personal/vlt")                      // the vault dir under another name
	link(".git/git-crypt/keys", "personal/key.md")      // into .git
	link("guides/setup.md", "knowledge/setup-alias.md") // inside: fine
	for _, arg := range []string{
		"../notes/inbox.md", "knowledge/../notes/inbox.md", "knowledge/../../etc/passwd", "/etc/passwd",
		"knowledge//etc/passwd", "knowledge/abs-link.md", "knowledge/rel-link.md", "knowledge/sibling.md",
		"notes/outdir/secret.md", "personal/vaults/v/envs/TOKEN", "personal/VAULTS/v/envs/TOKEN",
		"personal/token.md", "personal/vlt/v/envs/TOKEN", "personal/key.md", "personal/.git/config",
		"knowledge/.git/config", "[[../../etc/passwd]]", "[[/etc/passwd]]", "knowledge/a\x00b",
	} {
		doc, err := tree.Show(arg, true)
		if !isUsage(err) {
			t.Errorf("Show(%q) = %v, %v; want a refusal", arg, doc, err)
		}
		if doc != nil && (strings.Contains(doc.Content, "secret") || strings.Contains(doc.Content, "KEY")) {
			t.Errorf("Show(%q) leaked %q", arg, doc.Content)
		}
	}
	for _, arg := range []string{"notes/outdir", "knowledge/../notes", "/tmp", "knowledge/.git"} {
		if _, err := tree.List(arg); !isUsage(err) {
			t.Errorf("List(%q) = %v; want a refusal", arg, err)
		}
	}
	// The vault under another name is still the vault: names only.
	vl, err := tree.List("personal/vlt")
	if err != nil || len(vl) != 2 {
		t.Fatalf("List(personal/vlt) = %v, %v", vl, err)
	}
	for _, f := range vl {
		if !f.Vault || f.Size != 0 {
			t.Errorf("vault entry through a symlink: %+v", f)
		}
	}
	// Listing never follows a symlink out: the link itself is an entry.
	all, err := tree.List("notes")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		if strings.HasPrefix(f.Path, "outdir/") {
			t.Errorf("listing followed a symlink out: %s", f.Ref())
		}
	}
	doc, err := tree.Show("knowledge/setup-alias.md", false)
	if err != nil || doc.Content != "# Setup\n" || !doc.Symlink {
		t.Errorf("symlink inside the layer: %+v %v", doc, err)
	}
}

func TestContextWikiLinks(t *testing.T) {
	t.Parallel()
	tree, _ := testTree(t)
	for name, want := range map[string]string{
		"deploy":              "knowledge/deploy.md",
		"[[DEPLOY]]":          "knowledge/deploy.md",
		"deploy.md":           "knowledge/deploy.md",
		"[[deploy|the doc]]":  "knowledge/deploy.md",
		"guides/setup":        "knowledge/guides/setup.md", // name.md wins over setup.png
		"setup":               "knowledge/guides/setup.md",
		"setup.png":           "knowledge/guides/setup.png",
		"design":              "knowledge/design.txt", // base name without extension
		"knowledge/deploy.md": "knowledge/deploy.md",
		"notes/dup.md":        "notes/dup.md",
		"[[personal/dup]]":    "personal/dup.md",
	} {
		doc, err := tree.Show(name, false)
		if err != nil || doc.Ref() != want {
			t.Errorf("Show(%q) = %v, %v; want %s", name, doc, err, want)
		}
	}
	_, err := tree.Show("[[dup]]", false)
	var amb *AmbiguousLinkError
	if !errors.As(err, &amb) || !reflect.DeepEqual(amb.Candidates, []string{"notes/dup.md", "personal/dup.md"}) {
		t.Errorf("ambiguous: %v", err)
	}
	var nf *LinkNotFoundError
	for _, name := range []string{"nowhere", "nosuchlayer/x.md", "TOKEN", "[[notes]]", "[[v/notes]]"} { // vault files are never candidates
		if _, err := tree.Show(name, false); !errors.As(err, &nf) {
			t.Errorf("Show(%q) = %v, want not found", name, err)
		}
	}

	doc, err := tree.Show("knowledge/deploy.md", true)
	if err != nil {
		t.Fatal(err)
	}
	wantLinks := []WikiLink{{Name: "inbox", Target: "notes/inbox.md"}}
	if !reflect.DeepEqual(doc.Links, wantLinks) {
		t.Errorf("links = %+v", doc.Links)
	}
	// README links [[Deploy]], the inbox [[deploy#rollback]], personal
	// memory [[deploy]]; the vault's link is never read.
	if want := []string{"knowledge/README.md", "notes/inbox.md", "personal/memory/MEMORY.md"}; !reflect.DeepEqual(doc.Backlinks, want) {
		t.Errorf("backlinks = %v, want %v", doc.Backlinks, want)
	}
	doc, err = tree.Show("knowledge/README.md", true)
	if err != nil {
		t.Fatal(err)
	}
	wantLinks = []WikiLink{{Name: "Deploy", Target: "knowledge/deploy.md"}, {Name: "guides/setup", Target: "knowledge/guides/setup.md"}, {Name: "nowhere"}}
	if !reflect.DeepEqual(doc.Links, wantLinks) || len(doc.Backlinks) != 0 {
		t.Errorf("README links = %+v, backlinks %v", doc.Links, doc.Backlinks)
	}
	if _, err := tree.Show("knowledge/guides", false); !isUsage(err) {
		t.Errorf("show a directory: %v", err)
	}
}
