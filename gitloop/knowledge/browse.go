// Package knowledge browses the context layers' main clones read-only:
// listing, showing and wiki links (git loop context, the web viewer).
package knowledge

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// VaultsDir is the personal repo's vault directory: git loop lists the
// names under it but never shows what is in them.
const VaultsDir = "vaults"

// maxScanSize bounds the files read to find backlinks.
const maxScanSize = 4 << 20

// ContextTree browses the main clones of the context layers, read-only.
// Every path is checked to stay inside its layer (no "..", no absolute
// path, no symlink out of it), nothing under .git is reachable, and the
// personal vaults are listed by name only.
type ContextTree struct {
	Roots map[workspace.Layer]string // each layer's main clone

	files []ContextFile // the index of every browsable file, built once
}

// Open returns a browser over the layers' main clones.
func Open(s *workspace.Workspace) (*ContextTree, error) {
	t := &ContextTree{Roots: map[workspace.Layer]string{}}
	for _, l := range workspace.Layers {
		clone, err := s.LayerClone(l)
		if err != nil {
			return nil, err
		}
		t.Roots[l] = clone
	}
	return t, nil
}

// ContextFile is one file of a context layer.
type ContextFile struct {
	Layer   workspace.Layer `json:"layer"`
	Path    string          `json:"path"` // slash-separated, relative to the layer's root
	Size    int64           `json:"size"` // 0 for vault entries: their names only are shown
	Symlink bool            `json:"symlink,omitempty"`
	Vault   bool            `json:"vault,omitempty"`
}

// Ref is the file as "layer/path", the form "git loop context show" takes.
func (f ContextFile) Ref() string { return string(f.Layer) + "/" + f.Path }

// ContextDoc is a file shown, with its wikilinks when asked for.
type ContextDoc struct {
	ContextFile
	Content   string     `json:"content"`
	Links     []WikiLink `json:"links,omitempty"`     // outgoing [[links]], in order of appearance
	Backlinks []string   `json:"backlinks,omitempty"` // files whose [[links]] name this one
}

// WikiLink is an outgoing [[link]] and what it resolves to.
type WikiLink struct {
	Name       string   `json:"name"`
	Target     string   `json:"target,omitempty"`     // layer/path, when exactly one file matches
	Candidates []string `json:"candidates,omitempty"` // when several do
}

// AmbiguousLinkError is a [[name]] that matches several files.
type AmbiguousLinkError struct {
	Name       string
	Candidates []string
}

func (e *AmbiguousLinkError) Error() string {
	return fmt.Sprintf("[[%s]] matches %d files:\n  %s\nname one as LAYER/PATH, e.g. \"git loop context show %s\"",
		e.Name, len(e.Candidates), strings.Join(e.Candidates, "\n  "), e.Candidates[0])
}

// LinkNotFoundError is a [[name]] no file matches.
type LinkNotFoundError struct{ Name string }

func (e *LinkNotFoundError) Error() string {
	return fmt.Sprintf("no file in the knowledge, notes or personal layer matches [[%s]] (see \"git loop context ls\")", e.Name)
}

func refused(format string, a ...any) error {
	return &workspace.UsageError{Err: fmt.Errorf(format, a...)}
}

func isLayer(s string) bool {
	for _, l := range workspace.Layers {
		if string(l) == s {
			return true
		}
	}
	return false
}

// checkRel refuses a relative path that is not plainly inside a layer.
func checkRel(what, rel string) error {
	switch {
	case strings.ContainsRune(rel, 0):
		return refused("%q: contains a NUL byte; refused", what)
	case path.IsAbs(rel) || filepath.IsAbs(rel):
		return refused("%q: absolute paths are refused; give LAYER/PATH, e.g. notes/inbox.md", what)
	}
	for _, c := range strings.Split(rel, "/") {
		if c == ".." {
			return refused("%q: \"..\" is refused; paths stay inside their layer", what)
		}
		if strings.EqualFold(c, ".git") {
			return refused("%q: .git is not browsable", what)
		}
	}
	if rel != "." && !filepath.IsLocal(filepath.FromSlash(rel)) {
		return refused("%q: not a path inside a layer; refused", what)
	}
	return nil
}

// ParseContextPath splits "layer/rel/path" (or just "layer") into its
// layer and a clean relative path ("." for the layer's root), refusing
// anything that could leave the layer.
func ParseContextPath(arg string) (workspace.Layer, string, error) {
	if strings.HasPrefix(arg, "/") {
		return "", "", refused("%q: absolute paths are refused; give LAYER/PATH, e.g. notes/inbox.md", arg)
	}
	l, rest, _ := strings.Cut(arg, "/")
	if !isLayer(l) {
		return "", "", refused("%q: %q is not a context layer (knowledge, notes or personal)", arg, l)
	}
	rest = strings.TrimRight(rest, "/")
	if rest == "" {
		rest = "."
	}
	if err := checkRel(arg, rest); err != nil {
		return "", "", err
	}
	return workspace.Layer(l), path.Clean(rest), nil
}

func firstComponent(p string) string {
	first, _, _ := strings.Cut(filepath.ToSlash(p), "/")
	return first
}

// inVault reports whether rel (lexically) lies in the personal vaults.
func inVault(l workspace.Layer, rel string) bool {
	return l == workspace.Personal && strings.EqualFold(firstComponent(rel), VaultsDir)
}

// check resolves layer/rel through any symlinks and refuses it when it
// lands outside the layer, in a .git dir, or (unless allowVault) in the
// personal vaults; it returns whether the path is a vault path.
func (t *ContextTree) check(l workspace.Layer, rel string, allowVault bool) (bool, error) {
	root, ok := t.Roots[l]
	if !ok {
		return false, fmt.Errorf("%s: %w", l, workspace.ErrNoContext)
	}
	ref := string(l) + "/" + rel
	if inVault(l, rel) && !allowVault {
		return true, refused("%s is in the personal vaults: git loop lists vault entries by name but never shows their contents", ref)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return false, err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("%s does not exist (see \"git loop context ls %s\")", ref, l)
	}
	if err != nil {
		return false, err
	}
	if !workspace.Within(realRoot, real) {
		return false, refused("%s resolves outside the %s layer; refused", ref, l)
	}
	r, _ := filepath.Rel(realRoot, real)
	for _, c := range strings.Split(filepath.ToSlash(r), "/") {
		if strings.EqualFold(c, ".git") {
			return false, refused("%s resolves into .git, which is not browsable", ref)
		}
	}
	vault := inVault(l, rel) || inVault(l, r)
	if !vault && l == workspace.Personal {
		if v, err := filepath.EvalSymlinks(filepath.Join(root, VaultsDir)); err == nil && workspace.Within(v, real) {
			vault = true
		}
	}
	if vault && !allowVault {
		return true, refused("%s is in the personal vaults: git loop lists vault entries by name but never shows their contents", ref)
	}
	return vault, nil
}

// List lists the files under arg: "" for every layer, "layer" or
// "layer/path" for one layer, dir or file. Vault entries carry their
// names only.
func (t *ContextTree) List(arg string) ([]ContextFile, error) {
	out := []ContextFile{}
	if arg == "" {
		for _, l := range workspace.Layers {
			files, err := t.list(l, ".", false)
			if err != nil {
				return nil, err
			}
			out = append(out, files...)
		}
		return out, nil
	}
	l, rel, err := ParseContextPath(arg)
	if err != nil {
		return nil, err
	}
	vault, err := t.check(l, rel, true)
	if err != nil {
		return nil, err
	}
	files, err := t.list(l, rel, vault)
	if err != nil {
		return nil, err
	}
	return append(out, files...), nil
}

// list walks layer/rel (already checked), without following symlinks
// below it.
func (t *ContextTree) list(l workspace.Layer, rel string, vaultAll bool) ([]ContextFile, error) {
	root, ok := t.Roots[l]
	if !ok {
		return nil, fmt.Errorf("%s: %w", l, workspace.ErrNoContext)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	entry := func(p string, fi fs.FileInfo) ContextFile {
		f := ContextFile{Layer: l, Path: p, Symlink: fi.Mode()&fs.ModeSymlink != 0}
		f.Vault = vaultAll || inVault(l, p)
		if !f.Vault {
			f.Size = fi.Size()
		}
		return f
	}
	fi, err := r.Stat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		lfi, err := r.Lstat(rel)
		if err != nil {
			return nil, err
		}
		return []ContextFile{entry(rel, lfi)}, nil
	}
	var out []ContextFile
	err = fs.WalkDir(r.FS(), rel, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" && p != rel {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, entry(p, info))
		return nil
	})
	return out, err
}

// index lists every file a [[link]] may name: all layers, skipping .git
// and the personal vaults.
func (t *ContextTree) index() ([]ContextFile, error) {
	if t.files != nil {
		return t.files, nil
	}
	files := []ContextFile{}
	for _, l := range workspace.Layers {
		if _, ok := t.Roots[l]; !ok {
			continue
		}
		all, err := t.list(l, ".", false)
		if err != nil {
			return nil, err
		}
		for _, f := range all {
			if !f.Vault {
				files = append(files, f)
			}
		}
	}
	t.files = files
	return files, nil
}

// wikiLinkRE finds [[name]], [[name|alias]], [[name#heading]] (and the
// ![[embed]] form).
var wikiLinkRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\[\[([^\[\]\n]+)\]\]`) })

// wikiName is the file name a link's text names: alias and heading cut.
func wikiName(text string) string {
	text, _, _ = strings.Cut(text, "|")
	text, _, _ = strings.Cut(text, "#")
	return strings.TrimSpace(text)
}

// WikiLinks returns the names content links to, each once, in order.
func WikiLinks(content []byte) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range wikiLinkRE().FindAllSubmatch(withoutCode(content), -1) {
		name := wikiName(string(m[1]))
		if name == "" || seen[strings.ToLower(name)] {
			continue
		}
		seen[strings.ToLower(name)] = true
		out = append(out, name)
	}
	return out
}

// withoutCode blanks out markdown code, fenced blocks and inline spans,
// where [[x]] is text (an example, a shell test), not a link.
func withoutCode(content []byte) []byte {
	out := make([]byte, 0, len(content))
	fence := ""
	for _, line := range bytes.SplitAfter(content, []byte("\n")) {
		trimmed := strings.TrimLeft(string(line), " ")
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			out = append(out, '\n')
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			out = append(out, '\n')
			continue
		}
		out = append(out, withoutCodeSpans(line)...)
	}
	return out
}

// withoutCodeSpans blanks the inline code spans of one line: a run of n
// backticks up to the next run of exactly n.
func withoutCodeSpans(line []byte) []byte {
	out := append([]byte(nil), line...)
	run := func(i int) int {
		n := 0
		for i+n < len(out) && out[i+n] == '`' {
			n++
		}
		return n
	}
	for i := 0; i < len(out); {
		n := run(i)
		if n == 0 {
			i++
			continue
		}
		end := -1
		for j := i + n; j < len(out); {
			if m := run(j); m > 0 {
				if m == n {
					end = j
					break
				}
				j += m
				continue
			}
			j++
		}
		if end < 0 {
			i += n
			continue
		}
		for k := i; k < end+n; k++ {
			out[k] = ' '
		}
		i = end + n
	}
	return out
}

// matchLink finds the files a [[name]] names, ignoring case. A file
// matches when its name is name or name.md (first choice), or its name
// without its extension is name (only when no file matches the first
// way). A name with "/" in it must match the end of the file's
// "layer/path" on a "/" boundary: [[guides/setup]] is
// knowledge/guides/setup.md.
func matchLink(files []ContextFile, name string) []ContextFile {
	n := strings.ToLower(strings.Trim(name, "/"))
	suffix := func(s, want string) bool { return strings.HasSuffix("/"+s, "/"+want) }
	var exact, stem []ContextFile
	for _, f := range files {
		ref := strings.ToLower(f.Ref())
		switch {
		case suffix(ref, n) || suffix(ref, n+".md"):
			exact = append(exact, f)
		case suffix(strings.TrimSuffix(ref, path.Ext(ref)), n):
			stem = append(stem, f)
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return stem
}

// Resolve finds the one file a [[name]] names.
func (t *ContextTree) Resolve(name string) (ContextFile, error) {
	name = wikiName(name)
	if name == "" {
		return ContextFile{}, refused("an empty [[link]] names no file")
	}
	if err := checkRel("[["+name+"]]", strings.TrimRight(name, "/")); err != nil {
		return ContextFile{}, err
	}
	files, err := t.index()
	if err != nil {
		return ContextFile{}, err
	}
	switch m := matchLink(files, name); len(m) {
	case 0:
		return ContextFile{}, &LinkNotFoundError{Name: name}
	case 1:
		return m[0], nil
	default:
		refs := make([]string, len(m))
		for i, f := range m {
			refs[i] = f.Ref()
		}
		return ContextFile{}, &AmbiguousLinkError{Name: name, Candidates: refs}
	}
}

// Locate turns what the user typed into a file: "layer/path", or a
// [[name]] (with or without the brackets) resolved across the layers.
func (t *ContextTree) Locate(arg string) (ContextFile, error) {
	if strings.HasPrefix(arg, "[[") && strings.HasSuffix(arg, "]]") && len(arg) >= 4 {
		return t.Resolve(arg[2 : len(arg)-2])
	}
	if strings.HasPrefix(arg, "/") {
		return ContextFile{}, refused("%q: absolute paths are refused; give LAYER/PATH, e.g. notes/inbox.md", arg)
	}
	if first, _, ok := strings.Cut(arg, "/"); ok && isLayer(first) {
		l, rel, err := ParseContextPath(arg)
		if err != nil {
			return ContextFile{}, err
		}
		return ContextFile{Layer: l, Path: rel}, nil
	}
	if err := checkRel(arg, strings.TrimRight(arg, "/")); err != nil {
		return ContextFile{}, err
	}
	f, err := t.Resolve(arg)
	var nf *LinkNotFoundError
	if isLayer(arg) && errors.As(err, &nf) {
		return ContextFile{}, refused("%s is a layer; list it with \"git loop context ls %s\"", arg, arg)
	}
	return f, err
}

// Show reads the file arg names (see Locate); with links, it adds the
// file's outgoing [[links]] and the files linking to it.
func (t *ContextTree) Show(arg string, links bool) (*ContextDoc, error) {
	f, err := t.Locate(arg)
	if err != nil {
		return nil, err
	}
	if _, err := t.check(f.Layer, f.Path, false); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(t.Roots[f.Layer])
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fi, err := r.Stat(f.Path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, refused("%s is a directory; list it with \"git loop context ls %s\"", f.Ref(), f.Ref())
	}
	data, err := r.ReadFile(f.Path)
	if err != nil {
		return nil, err
	}
	f.Size = int64(len(data))
	if lfi, err := r.Lstat(f.Path); err == nil {
		f.Symlink = lfi.Mode()&fs.ModeSymlink != 0
	}
	doc := &ContextDoc{ContextFile: f, Content: string(data)}
	if !links {
		return doc, nil
	}
	files, err := t.index()
	if err != nil {
		return nil, err
	}
	doc.Links = []WikiLink{}
	for _, name := range WikiLinks(data) {
		wl := WikiLink{Name: name}
		switch m := matchLink(files, name); len(m) {
		case 0:
		case 1:
			wl.Target = m[0].Ref()
		default:
			for _, c := range m {
				wl.Candidates = append(wl.Candidates, c.Ref())
			}
		}
		doc.Links = append(doc.Links, wl)
	}
	doc.Backlinks, err = t.backlinks(f)
	return doc, err
}

// backlinks scans the layers' markdown files for [[links]] that name
// target (alone or among the files an ambiguous link matches).
func (t *ContextTree) backlinks(target ContextFile) ([]string, error) {
	files, err := t.index()
	if err != nil {
		return nil, err
	}
	out := []string{}
	roots := map[workspace.Layer]*os.Root{}
	defer func() {
		for _, r := range roots {
			r.Close()
		}
	}()
	names := map[string]bool{} // link name (lower case) → names target
	for _, f := range files {
		if f.Symlink || !strings.EqualFold(path.Ext(f.Path), ".md") || f.Size > maxScanSize || f.Ref() == target.Ref() {
			continue
		}
		r := roots[f.Layer]
		if r == nil {
			if r, err = os.OpenRoot(t.Roots[f.Layer]); err != nil {
				return nil, err
			}
			roots[f.Layer] = r
		}
		data, err := r.ReadFile(f.Path)
		if err != nil {
			continue // vanished or unreadable: not a link we can see
		}
		for _, name := range WikiLinks(data) {
			key := strings.ToLower(name)
			hit, ok := names[key]
			if !ok {
				for _, m := range matchLink(files, name) {
					if m.Ref() == target.Ref() {
						hit = true
					}
				}
				names[key] = hit
			}
			if hit {
				out = append(out, f.Ref())
				break
			}
		}
	}
	return out, nil
}
