// Package notes is the team notes layer: the inbox and the focus list,
// edited as commits on the notes clone and pushed at once.
package notes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Notes conventions (docs/context.md): inbox.md holds one "- item" per line;
// focus.md holds "## pinned" and "## listed" sections of "- item" lines.
const (
	InboxFile = "inbox.md"
	FocusFile = "focus.md"
)

// Focus sections.
const (
	FocusPinned = "pinned"
	FocusListed = "listed"
)

// notesPushTries bounds the push, fetch and merge rounds of a notes edit
// racing other writers.
const notesPushTries = 8

// NoteItem is one "- item" line of a notes file.
type NoteItem struct {
	Text string `json:"text"`
	Line int    `json:"line"` // 1-based line in the file
}

// parseItem returns the text of a top-level list item line ("- x" or
// "* x").
func parseItem(line string) (string, bool) {
	line = strings.TrimRight(line, " \t\r")
	for _, p := range []string{"- ", "* "} {
		if strings.HasPrefix(line, p) {
			if text := strings.TrimSpace(line[len(p):]); text != "" {
				return text, true
			}
		}
	}
	return "", false
}

// ParseInbox returns the items of an inbox.md.
func ParseInbox(data []byte) []NoteItem {
	items := []NoteItem{}
	for i, line := range strings.Split(string(data), "\n") {
		if text, ok := parseItem(line); ok {
			items = append(items, NoteItem{Text: text, Line: i + 1})
		}
	}
	return items
}

// FocusDoc is focus.md parsed: the items of its pinned and listed
// sections (other sections are ignored).
type FocusDoc struct {
	Pinned []NoteItem `json:"pinned"`
	Listed []NoteItem `json:"listed"`
}

// focusSection names the section a heading line opens: "pinned", "listed",
// "" for any other heading; ok is false for a line that is no heading.
func focusSection(line string) (section string, ok bool) {
	t := strings.TrimSpace(line)
	if !strings.HasPrefix(t, "#") {
		return "", false
	}
	name := strings.ToLower(strings.TrimSpace(strings.TrimLeft(t, "#")))
	if strings.HasPrefix(t, "## ") && (name == FocusPinned || name == FocusListed) {
		return name, true
	}
	return "", true
}

// ParseFocus parses a focus.md.
func ParseFocus(data []byte) FocusDoc {
	doc := FocusDoc{Pinned: []NoteItem{}, Listed: []NoteItem{}}
	section := ""
	for i, line := range strings.Split(string(data), "\n") {
		if s, ok := focusSection(line); ok {
			section = s
			continue
		}
		text, ok := parseItem(line)
		if !ok {
			continue
		}
		switch section {
		case FocusPinned:
			doc.Pinned = append(doc.Pinned, NoteItem{Text: text, Line: i + 1})
		case FocusListed:
			doc.Listed = append(doc.Listed, NoteItem{Text: text, Line: i + 1})
		}
	}
	return doc
}

// FocusLoop is a loop a focus item matches.
type FocusLoop struct {
	Name   string `json:"name"`
	Branch string `json:"branch"`
}

// FocusEntry is a focus item with the loops working on it.
type FocusEntry struct {
	NoteItem
	Loops []FocusLoop `json:"loops"`
}

// Focus is what "git loop focus" shows.
type Focus struct {
	Pinned []FocusEntry `json:"pinned"`
	Listed []FocusEntry `json:"listed"`
}

// Slug lowercases s and turns every run of characters other than letters
// and digits into one "-", trimmed at both ends: "Fix the Login!" is
// "fix-the-login".
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

// FocusMatches reports whether a focus item is about a loop. The rule,
// ignoring case:
//
//   - the item mentions the loop: one of its words (a run of letters,
//     digits, '.', '_' and '-', trailing dots dropped) is the loop's name;
//     "review [[fix-login]] today" matches loop fix-login;
//   - or the loop is named after the item: the slug of the item (see
//     Slug) is the slug of the loop's name or a run of whole '-'-separated
//     parts of it; "Fix login" matches loops fix-login and fix-login-v2,
//     not prefix-login.
func FocusMatches(item, loop string) bool {
	if loop == "" {
		return false
	}
	isWord := func(r rune) bool {
		return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-'
	}
	for _, w := range strings.FieldsFunc(item, func(r rune) bool { return !isWord(r) }) {
		if strings.EqualFold(strings.TrimRight(w, "."), loop) {
			return true
		}
	}
	is, ls := Slug(item), Slug(loop)
	if is == "" || ls == "" {
		return false
	}
	return strings.Contains("-"+ls+"-", "-"+is+"-")
}

// MatchFocus attaches to each item of doc the loops (by name) it matches.
func MatchFocus(doc FocusDoc, loops []FocusLoop) Focus {
	match := func(items []NoteItem) []FocusEntry {
		out := make([]FocusEntry, 0, len(items))
		for _, it := range items {
			e := FocusEntry{NoteItem: it, Loops: []FocusLoop{}}
			for _, l := range loops {
				if FocusMatches(it.Text, l.Name) {
					e.Loops = append(e.Loops, l)
				}
			}
			out = append(out, e)
		}
		return out
	}
	return Focus{Pinned: match(doc.Pinned), Listed: match(doc.Listed)}
}

// readNotesFile reads a file of the notes clone; a missing file is empty.
func readNotesFile(s *workspace.Workspace, name string) ([]byte, error) {
	clone, err := s.LayerClone(workspace.Notes)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(clone)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := r.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// Inbox lists the items of the notes clone's inbox.md (as of the clone's
// last update; no network).
func Inbox(s *workspace.Workspace) ([]NoteItem, error) {
	data, err := readNotesFile(s, InboxFile)
	if err != nil {
		return nil, err
	}
	return ParseInbox(data), nil
}

// ReadFocus reads focus.md from the notes clone and matches its items against
// this repository's loops.
func ReadFocus(s *workspace.Workspace) (Focus, error) {
	data, err := readNotesFile(s, FocusFile)
	if err != nil {
		return Focus{}, err
	}
	var loops []FocusLoop
	for _, n := range s.Names() {
		loops = append(loops, FocusLoop{Name: n, Branch: s.Config.BranchPrefix() + n})
	}
	return MatchFocus(ParseFocus(data), loops), nil
}

// CheckNoteText validates the text of one notes item: one line, not
// empty, no control characters. Surrounding space (and the newline a
// heredoc leaves) is trimmed.
func CheckNoteText(text string) (string, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return "", &workspace.UsageError{Err: errors.New("the item is empty")}
	case strings.ContainsAny(text, "\r\n"):
		return "", &workspace.UsageError{Err: errors.New("the item has more than one line; add one item per line (run the command once for each)")}
	case !utf8.ValidString(text):
		return "", &workspace.UsageError{Err: errors.New("the item is not valid UTF-8")}
	}
	for _, r := range text {
		if r != '\t' && unicode.IsControl(r) {
			return "", &workspace.UsageError{Err: fmt.Errorf("the item contains the control character %q", r)}
		}
	}
	return text, nil
}

// NotesDirtyError refuses a notes edit that would touch a file the user
// has uncommitted changes to. The command line exits 5 for it.
type NotesDirtyError struct {
	File  string // e.g. inbox.md
	Clone string
}

func (e *NotesDirtyError) Error() string {
	return fmt.Sprintf("%s in the notes clone %s has uncommitted changes; commit or discard them first (git -C %s diff -- %s)", e.File, e.Clone, e.Clone, e.File)
}

// NotesEdit is what a notes edit did.
type NotesEdit struct {
	File   string `json:"file"`
	Item   string `json:"item"`
	Commit string `json:"commit"`
	Remote string `json:"remote"`
	Clone  string `json:"clone"`
	Pushes int    `json:"pushes"` // push attempts it took
}

// editNotes changes one file of the notes clone, commits it alone and
// pushes, retrying on a non-fast-forward with fetch + merge (never
// rebase), so concurrent writers from other clones all land. It refuses
// when the file has uncommitted changes. A failed commit leaves the file
// as it was; a failed push leaves the commit in the clone and says so.
func editNotes(ctx context.Context, s *workspace.Workspace, file, msg string, edit func(old []byte) ([]byte, error)) (*NotesEdit, error) {
	clone, err := s.LayerClone(workspace.Notes)
	if err != nil {
		return nil, err
	}
	lock, err := state.Store{Root: filepath.Join(s.Dirs.Data, "locks", "notes")}.Lock(ctx, time.Minute)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()

	dirty, err := s.Query.Output(ctx, git.Cmd{Dir: clone, Args: []string{"status", "--porcelain", "-z", "--untracked-files=all", "--", file}})
	if err != nil {
		return nil, err
	}
	if len(dirty) > 0 {
		return nil, &NotesDirtyError{File: file, Clone: clone}
	}
	remote, remoteRef, trackRef, err := upstream(ctx, s, clone)
	if err != nil {
		return nil, err
	}
	if err := ensureUnionMerge(ctx, s.Query, clone, InboxFile, FocusFile); err != nil {
		return nil, err
	}

	r, err := os.OpenRoot(clone)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// Only ever a regular file: a notes repo from a shared remote could
	// carry a symlink aimed at a file of the user's.
	existed := true
	var old []byte
	var perm fs.FileMode = 0o644
	switch fi, err := r.Lstat(file); {
	case errors.Is(err, fs.ErrNotExist):
		existed = false
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s in the notes clone %s is not a regular file; refusing to write it", file, clone)
	default:
		perm = fi.Mode().Perm()
		if old, err = r.ReadFile(file); err != nil {
			return nil, err
		}
	}
	data, err := edit(old)
	if err != nil {
		return nil, err
	}
	if err := r.WriteFile(file, data, perm); err != nil {
		return nil, err
	}
	undo := func() {
		if existed {
			_ = r.WriteFile(file, old, perm)
		} else {
			_ = r.Remove(file)
		}
		_ = s.Git.Run(context.WithoutCancel(ctx), git.Cmd{Dir: clone, Label: string(workspace.Notes), Args: []string{"reset", "-q", "--", file}})
	}
	for _, args := range [][]string{{"add", "--", file}, {"commit", "-q", "-m", msg, "--", file}} {
		if err := s.Git.Run(ctx, git.Cmd{Dir: clone, Label: string(workspace.Notes), Args: args}); err != nil {
			undo()
			return nil, err
		}
	}
	sha, err := s.Query.Line(ctx, git.Cmd{Dir: clone, Args: []string{"rev-parse", "HEAD"}})
	if err != nil {
		return nil, err
	}
	res := &NotesEdit{File: file, Commit: sha, Remote: remote, Clone: clone}
	if err := pushNotes(ctx, s, clone, remote, remoteRef, trackRef, res); err != nil {
		return res, fmt.Errorf("committed in the notes clone %s but not pushed: %w; the next notes edit pushes it, or run \"git -C %s push %s HEAD:%s\"", clone, err, clone, remote, remoteRef)
	}
	return res, nil
}

// pushNotes pushes HEAD, merging the remote's new commits on a rejected
// push and trying again, a bounded number of times.
func pushNotes(ctx context.Context, s *workspace.Workspace, clone, remote, remoteRef, trackRef string, res *NotesEdit) error {
	label := string(workspace.Notes)
	for attempt := 1; ; attempt++ {
		res.Pushes = attempt
		perr := s.Git.Run(ctx, git.Cmd{Dir: clone, Label: label, Args: []string{"push", "-q", remote, "HEAD:" + remoteRef}})
		if perr == nil {
			return nil
		}
		if attempt == notesPushTries {
			return fmt.Errorf("gave up after %d tries: %w", attempt, perr)
		}
		if err := s.Git.Run(ctx, git.Cmd{Dir: clone, Label: label, Args: []string{"fetch", "-q", remote}}); err != nil {
			return perr
		}
		behind, err := s.Query.Succeeds(ctx, git.Cmd{Dir: clone, Args: []string{"merge-base", "--is-ancestor", trackRef, "HEAD"}})
		if err != nil {
			return err
		}
		if behind {
			return perr // nothing new upstream: the push failed for another reason
		}
		if err := s.Git.Run(ctx, git.Cmd{Dir: clone, Label: label, Args: []string{"merge", "-q", "--no-edit", trackRef}}); err != nil {
			_ = s.Git.Run(context.WithoutCancel(ctx), git.Cmd{Dir: clone, Label: label, Args: []string{"merge", "--abort"}})
			return fmt.Errorf("merging %s: %w", trackRef, err)
		}
		// Writers racing for the same remote spread out.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(rand.IntN(30*attempt)) * time.Millisecond):
		}
	}
}

// upstream finds where the clone's current branch pushes: the remote, the
// remote's ref, and the local tracking ref (origin, refs/heads/<branch>
// and refs/remotes/origin/<branch> when none is configured).
func upstream(ctx context.Context, s *workspace.Workspace, clone string) (remote, remoteRef, trackRef string, err error) {
	head, err := s.Query.Line(ctx, git.Cmd{Dir: clone, Args: []string{"symbolic-ref", "-q", "HEAD"}})
	if err != nil || head == "" {
		return "", "", "", fmt.Errorf("the notes clone %s is not on a branch; check out its main branch first (git -C %s switch main)", clone, clone)
	}
	out, err := s.Query.Line(ctx, git.Cmd{Dir: clone, Args: []string{"for-each-ref", "--format=%(upstream:remotename)%00%(upstream:remoteref)%00%(upstream)", head}})
	if err != nil {
		return "", "", "", err
	}
	parts := strings.Split(out, "\x00")
	if len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "" {
		return parts[0], parts[1], parts[2], nil
	}
	branch := strings.TrimPrefix(head, "refs/heads/")
	return "origin", head, "refs/remotes/origin/" + branch, nil
}

// ensureUnionMerge makes merges in the clone keep both sides' lines of
// the given files (git's built-in union driver), through the clone's
// info/attributes: two writers appending to inbox.md never conflict.
func ensureUnionMerge(ctx context.Context, q git.Querier, clone string, files ...string) error {
	p, err := q.Line(ctx, git.Cmd{Dir: clone, Args: []string{"rev-parse", "--git-path", "info/attributes"}})
	if err != nil {
		return err
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(clone, p)
	}
	data, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	have := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		have[strings.TrimSpace(line)] = true
	}
	var add bytes.Buffer
	for _, f := range files {
		if line := "/" + f + " merge=union"; !have[line] {
			add.WriteString(line + "\n")
		}
	}
	if add.Len() == 0 {
		return nil
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, append(data, add.Bytes()...), 0o644)
}

// commitSubject is "prefix: text", cut to fit a commit subject line.
func commitSubject(prefix, text string) string {
	const max = 72
	s := prefix + ": " + text
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max-1])) + "…"
}

// InboxAdd appends "- text" to the notes inbox.md, commits it and pushes
// it to the notes remote (see editNotes).
func InboxAdd(ctx context.Context, s *workspace.Workspace, text string) (*NotesEdit, error) {
	text, err := CheckNoteText(text)
	if err != nil {
		return nil, err
	}
	res, err := editNotes(ctx, s, InboxFile, commitSubject("inbox", text), func(old []byte) ([]byte, error) {
		if len(old) == 0 {
			old = []byte("# Inbox\n\n")
		}
		if old[len(old)-1] != '\n' {
			old = append(old, '\n')
		}
		return append(old, "- "+text+"\n"...), nil
	})
	if res != nil {
		res.Item = text
	}
	return res, err
}

// Focus edits.
const (
	FocusPin  = "pin"  // add to ## pinned, or move there from ## listed
	FocusList = "list" // add to ## listed, or move there from ## pinned
	FocusDone = "done" // remove the item
)

// FocusEdit pins, lists or finishes a focus item, then commits and pushes
// focus.md like InboxAdd. For pin and list, an item already in the other
// section (same text, ignoring case) moves; for done, the item is the one
// whose text equals text (ignoring case) or, failing that, the only one
// containing it.
func FocusEdit(ctx context.Context, s *workspace.Workspace, op, text string) (*NotesEdit, error) {
	text, err := CheckNoteText(text)
	if err != nil {
		return nil, err
	}
	var item string
	res, err := editNotes(ctx, s, FocusFile, commitSubject("focus: "+op, text), func(old []byte) ([]byte, error) {
		out, it, err := editFocus(old, op, text)
		item = it
		return out, err
	})
	if res != nil {
		res.Item = item
	}
	return res, err
}

// editFocus applies a focus edit to focus.md's content.
func editFocus(data []byte, op, text string) ([]byte, string, error) {
	if len(data) == 0 {
		data = []byte("# Focus\n\n## pinned\n\n## listed\n")
	}
	lines := strings.Split(string(data), "\n")
	doc := ParseFocus(data)
	all := append(append([]NoteItem{}, doc.Pinned...), doc.Listed...)
	blank := func(i int) bool { return i >= 0 && i < len(lines) && strings.TrimSpace(lines[i]) == "" }
	remove := func(line int) {
		i := line - 1
		lines = append(lines[:i], lines[i+1:]...)
		if blank(i-1) && blank(i) && i < len(lines)-1 {
			lines = append(lines[:i], lines[i+1:]...) // no double blank line left behind
		}
	}
	switch op {
	case FocusDone:
		var hits []NoteItem
		for _, it := range all {
			if strings.EqualFold(it.Text, text) {
				hits = []NoteItem{it}
				break
			}
			if strings.Contains(strings.ToLower(it.Text), strings.ToLower(text)) {
				hits = append(hits, it)
			}
		}
		switch len(hits) {
		case 0:
			return nil, "", &workspace.UsageError{Err: fmt.Errorf("no focus item matches %q (see \"git loop focus\")", text)}
		case 1:
			remove(hits[0].Line)
			return []byte(strings.Join(lines, "\n")), hits[0].Text, nil
		default:
			var names []string
			for _, h := range hits {
				names = append(names, fmt.Sprintf("%q", h.Text))
			}
			return nil, "", &workspace.UsageError{Err: fmt.Errorf("%q matches %d focus items (%s); give more of the text", text, len(hits), strings.Join(names, ", "))}
		}
	case FocusPin, FocusList:
		section, other := FocusPinned, doc.Listed
		if op == FocusList {
			section, other = FocusListed, doc.Pinned
		}
		mine := doc.Pinned
		if op == FocusList {
			mine = doc.Listed
		}
		for _, it := range mine {
			if strings.EqualFold(it.Text, text) {
				return nil, "", &workspace.UsageError{Err: fmt.Errorf("%q is already %s", it.Text, section)}
			}
		}
		for _, it := range other {
			if strings.EqualFold(it.Text, text) {
				text = it.Text
				remove(it.Line)
				break
			}
		}
		return []byte(strings.Join(insertFocusItem(lines, section, text), "\n")), text, nil
	default:
		return nil, "", &workspace.UsageError{Err: fmt.Errorf("unknown focus edit %q (pin, list or done)", op)}
	}
}

// insertFocusItem adds "- text" after the last item of a section, adding
// the section at the end when focus.md lacks it. lines is the file split
// at "\n"; the result ends with a newline.
func insertFocusItem(lines []string, section, text string) []string {
	item := "- " + text
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1] // the file's final newline, not a blank line
	}
	start, end := -1, len(lines)
	for i, line := range lines {
		s, ok := focusSection(line)
		if !ok {
			continue
		}
		if start >= 0 {
			end = i
			break
		}
		if s == section {
			start = i
		}
	}
	if start < 0 {
		for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
			lines = lines[:len(lines)-1]
		}
		return append(lines, "", "## "+section, "", item, "")
	}
	last := -1
	for i := start + 1; i < end; i++ {
		if _, ok := parseItem(lines[i]); ok {
			last = i
		}
	}
	at, add := last+1, []string{item}
	if last < 0 {
		// The section's first item, after a blank line below the heading
		// and before one above the next heading.
		at, add = start+1, []string{"", item}
		if at < len(lines) && strings.TrimSpace(lines[at]) == "" {
			at, add = start+2, []string{item}
		}
		if at < len(lines) && strings.TrimSpace(lines[at]) != "" {
			add = append(add, "")
		}
	}
	out := append(append(append([]string{}, lines[:at]...), add...), lines[at:]...)
	return append(out, "")
}
