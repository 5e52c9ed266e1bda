package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gitloop-dev/git-loop/gitloop/compose"
	"github.com/gitloop-dev/git-loop/gitloop/contexts"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/knowledge"
	"github.com/gitloop-dev/git-loop/gitloop/notes"
	"github.com/gitloop-dev/git-loop/gitloop/session"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/status"
	"github.com/gitloop-dev/git-loop/gitloop/transcript"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// pages are the parsed templates: one set per page, each with the layout.
type pages struct {
	sets map[string]*template.Template
}

var funcs = template.FuncMap{
	"short": func(s string) string {
		if len(s) > 10 {
			return s[:10]
		}
		return s
	},
	"ago":     ago,
	"short7":  workspace.ShortSHA,
	"pathesc": pathEscape,
	"add":     func(a, b int) int { return a + b },
	"join":    strings.Join,
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	// A loop whose sandbox does not exist yet is not broken: the next
	// exec or run makes it. "missing" stays the JSON value.
	"sandboxstate": func(s any) string {
		v := fmt.Sprint(s)
		if v == string(sandbox.StateMissing) {
			return "not started"
		}
		return v
	},
}

func loadPages() (*pages, error) {
	p := &pages{sets: map[string]*template.Template{}}
	names, err := fs.Glob(embedded, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(embedded, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, err
		}
		p.sets[base] = t
	}
	return p, nil
}

// view is what the layout renders around a page's data.
type view struct {
	Title   string
	Nav     string
	Actions bool
	CSRF    string
	D       any
}

func (s *Server) base(_ *http.Request, title, nav string) view {
	return view{Title: title, Nav: nav, Actions: s.opts.AllowActions, CSRF: s.csrf}
}

// render executes a page into a buffer first, so a template error is a
// clean 500 and not half a page.
func (p *pages) render(w io.Writer, page string, v view, data any) error {
	v.D = data
	t, ok := p.sets[page]
	if !ok {
		return fmt.Errorf("no page %s", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return err
	}
	_, err := buf.WriteTo(w)
	return err
}

func (s *Server) page(w http.ResponseWriter, r *http.Request, page, title, nav string, data any) {
	var buf bytes.Buffer
	if err := s.pages.render(&buf, page, s.base(r, title, nav), data); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}

// loopRow is one line of the loops page, flat and preformatted: the
// template engine's reflection over embedded structs and its function
// calls are most of the cost of a page of hundreds of loops.
type loopRow struct {
	Name, Base, State, Sandbox, Driver, Agent string
	Placement                                 string // local, or remote: the loop's files on its engine
	Problems                                  []string
	Ahead, Behind, Changes                    int
	Dirty, ChangesUnknown                     bool
	// Unpromoted names the layers with commits not yet promoted.
	Unpromoted []string
	// Proposed names the gated layers proposed and waiting for review.
	Proposed                  []string
	Activity, ActivityTitle   string
	Created, CreatedTitle     string
	LastFetch, LastFetchTitle string // a sealed loop's last fetch from its sandbox
}

// activity is when the loop last did something: its newest transcript or
// run log, else its creation. Which file is newest is looked up at most
// every activityTTL per loop (it takes globs and a meta read); its time
// is a stat on every call.
func (s *Server) activity(l status.LoopStatus) time.Time {
	t := l.Created
	now := time.Now()
	s.actMu.Lock()
	c, ok := s.actCache[l.Name]
	s.actMu.Unlock()
	if !ok || now.Sub(c.at) > activityTTL {
		c = activityFile{at: now}
		if _, files, err := session.TranscriptFiles(s.ws, l.Name, transcript.Options{}); err == nil && len(files) > 0 {
			c.path = files[len(files)-1]
		}
		s.actMu.Lock()
		s.actCache[l.Name] = c
		s.actMu.Unlock()
	}
	if c.path != "" {
		if fi, err := os.Lstat(c.path); err == nil && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
	}
	return t
}

func (s *Server) rows(r *http.Request) ([]loopRow, error) {
	loops, err := status.List(r.Context(), s.ws)
	if err != nil {
		return nil, err
	}
	rows := make([]loopRow, len(loops))
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	// Activity is a few stats per loop: look in parallel.
	acts := make([]time.Time, len(loops))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(8, len(loops)) {
		wg.Go(func() {
			for i := range next {
				acts[i] = s.activity(loops[i])
			}
		})
	}
	for i := range loops {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, l := range loops {
		act := acts[i]
		rows[i] = loopRow{
			Name: l.Name, Base: l.Base, State: l.State, Sandbox: string(l.Sandbox), Driver: l.Driver, Agent: l.Agent, Placement: l.Placement,
			Problems: l.Problems, Ahead: l.Ahead, Behind: l.Behind, Changes: l.Changes, Dirty: l.Dirty, ChangesUnknown: l.ChangesUnknown,
			Activity: ago(act), ActivityTitle: stamp(act), Created: ago(l.Created), CreatedTitle: stamp(l.Created),
		}
		rows[i].Unpromoted, rows[i].Proposed = l.Unpromoted, l.Proposed
		if !l.LastFetch.IsZero() {
			rows[i].LastFetch, rows[i].LastFetchTitle = ago(l.LastFetch), stamp(l.LastFetch)
		}
	}
	return rows, nil
}

func (s *Server) loopsPage(w http.ResponseWriter, r *http.Request) {
	rows, err := s.rows(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.page(w, r, "loops", "Loops", "loops", rows)
}

// loopsRows is the loops table's body alone, polled by app.js.
func (s *Server) loopsRows(w http.ResponseWriter, r *http.Request) {
	rows, err := s.rows(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := s.pages.sets["loops"].ExecuteTemplate(&buf, "rows", rows); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}

// loopView is the loop page.
type loopView struct {
	Status     status.LoopStatus
	Meta       *state.Meta
	Paths      [][2]string
	Versions   [][2]string
	Diff       *diffPage
	DiffErr    string
	Commits    []commit
	MoreCommit bool
	Transcript *transcriptPage
}

// commit is one of the loop's commits, as a pull request lists them.
type commit struct {
	SHA, Author, Subject string
	Time                 time.Time
}

// maxCommits is how many of a loop's commits its page lists.
const maxCommits = 50

// commits lists the loop's commits not on its base, newest first.
func (s *Server) commits(r *http.Request, m *state.Meta, head string) ([]commit, bool, error) {
	if head == "" {
		return nil, false, nil
	}
	not := m.BaseSHA
	if m.BaseRef != "" {
		if sha, ok, _ := s.ws.RefSHA(r.Context(), m.BaseRef); ok {
			not = sha
		}
	}
	out, err := s.ws.Query.Output(r.Context(), git.Cmd{Dir: s.ws.Repo.CommonDir, Args: []string{"log", "--no-color", "-z",
		"--format=%H%x1f%an%x1f%at%x1f%s", "-n", strconv.Itoa(maxCommits + 1), head, "--not", not, "--"}})
	if err != nil {
		return nil, false, err
	}
	var list []commit
	for _, rec := range strings.Split(strings.Trim(string(out), "\x00\n"), "\x00") {
		f := strings.SplitN(strings.TrimLeft(rec, "\n"), "\x1f", 4)
		if len(f) != 4 {
			continue
		}
		secs, _ := strconv.ParseInt(f[2], 10, 64)
		list = append(list, commit{SHA: f[0], Author: f[1], Time: time.Unix(secs, 0), Subject: f[3]})
	}
	if len(list) > maxCommits {
		return list[:maxCommits], true, nil
	}
	return list, false, nil
}

func intParam(r *http.Request, key string) int {
	n, err := strconv.Atoi(r.URL.Query().Get(key))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func (s *Server) loopPage(w http.ResponseWriter, r *http.Request) {
	m, ok := s.loopMeta(w, r)
	if !ok {
		return
	}
	name := m.Name
	st, err := status.View(r.Context(), s.ws, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := loopView{Status: st, Meta: m}
	v.Paths = [][2]string{{"worktree", m.Worktree}, {"agent config", s.ws.AgentDir(name)}, {"run logs", s.ws.LogDir(name)}, {"sandbox home", s.ws.HomeDir(name)}}
	for _, c := range m.Contexts {
		v.Paths = append(v.Paths, [2]string{c.Layer + " context", s.ws.ContextDir(name, workspace.Layer(c.Layer))})
	}
	for k, sha := range st.Versions {
		v.Versions = append(v.Versions, [2]string{k, sha})
	}
	sort.Slice(v.Versions, func(i, j int) bool { return v.Versions[i][0] < v.Versions[j][0] })
	v.Commits, v.MoreCommit, err = s.commits(r, m, st.Head)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Diff, err = s.diff(r, name, intParam(r, "dpage"))
	if err != nil {
		v.DiffErr = err.Error()
	}
	v.Transcript, err = s.transcript(name, intParam(r, "page"), transcriptPreview)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.page(w, r, "loop", name, "loops", v)
}

func (s *Server) transcriptPage(w http.ResponseWriter, r *http.Request) {
	name, ok := s.loopName(w, r)
	if !ok {
		return
	}
	page := intParam(r, "page")
	if r.URL.Query().Get("page") == "last" {
		page = lastPage
	}
	t, err := s.transcript(name, page, transcriptPageSize)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.page(w, r, "transcript", name+" · transcript", "loops", t)
}

func (s *Server) composePage(w http.ResponseWriter, r *http.Request) {
	name, ok := s.loopName(w, r)
	if !ok {
		return
	}
	res, err := contexts.Composition(s.ws, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.page(w, r, "compose", name+" · compose", "loops", map[string]any{"Name": name, "R": res})
}

// maxComposedFile bounds what the page shows of one composed file.
const maxComposedFile = 1 << 20

// composedFilePage shows one file of a loop's composed agent dir (its
// AGENTS.md, CLAUDE.md, settings): only a file the composition lists, and
// read as hostile data, since the sandbox can rewrite the agent dir.
func (s *Server) composedFilePage(w http.ResponseWriter, r *http.Request) {
	name, ok := s.loopName(w, r)
	if !ok {
		return
	}
	res, err := contexts.Composition(s.ws, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rel := r.PathValue("path")
	var file *compose.File
	for i := range res.Files {
		if res.Files[i].Path == rel && res.Files[i].Link == "" {
			file = &res.Files[i]
		}
	}
	if file == nil {
		s.fail(w, r, &workspace.UsageError{Err: fmt.Errorf("%s is not a file of %s's composition", rel, name)})
		return
	}
	f, err := transcript.OpenUnder(s.ws.Store().LoopDir(name), filepath.Join(s.ws.AgentDir(name), filepath.FromSlash(rel)))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxComposedFile+1))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := map[string]any{"Name": name, "File": file, "Cut": len(data) > maxComposedFile}
	if len(data) > maxComposedFile {
		data = data[:maxComposedFile]
	}
	if strings.HasSuffix(rel, ".md") {
		v["HTML"] = renderMarkdown(data, nil)
	} else {
		v["Text"] = string(data)
	}
	s.page(w, r, "composefile", name+" · "+rel, "loops", v)
}

// contextView is a context directory listing or one file.
type contextView struct {
	Path    string
	Crumbs  [][2]string
	Layers  []layerList
	Doc     *knowledge.ContextDoc
	HTML    template.HTML
	Text    string
	Binary  bool
	Missing []string
}

type layerList struct {
	Layer string
	Files []knowledge.ContextFile
	Err   string
}

func crumbs(p string) [][2]string {
	var out [][2]string
	parts := strings.Split(p, "/")
	for i := range parts {
		out = append(out, [2]string{parts[i], strings.Join(parts[:i+1], "/")})
	}
	return out
}

// contextTarget resolves a context path: the whole tree (""), a directory
// (listed) or a file (shown). Every path goes through the domain's checks
// (no "..", no .git, no symlink escape, vault values never read).
func (s *Server) contextTarget(r *http.Request) (*contextView, error) {
	p := strings.Trim(r.PathValue("path"), "/")
	t, err := knowledge.Open(s.ws)
	if err != nil {
		return nil, err
	}
	v := &contextView{Path: p}
	if p == "" {
		for _, l := range workspace.Layers {
			ll := layerList{Layer: string(l)}
			ll.Files, err = t.List(string(l))
			if err != nil {
				ll.Err = err.Error()
			}
			v.Layers = append(v.Layers, ll)
		}
		return v, nil
	}
	v.Crumbs = crumbs(p)
	l, rel, err := knowledge.ParseContextPath(p)
	if err != nil {
		return nil, err
	}
	dir := rel == "."
	if !dir {
		root, err := os.OpenRoot(t.Roots[l])
		if err != nil {
			return nil, err
		}
		fi, err := root.Stat(rel)
		root.Close()
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && !errors.Is(err, fs.ErrNotExist) {
				return nil, &workspace.UsageError{Err: fmt.Errorf("%s: refused", p)}
			}
			return nil, err
		}
		dir = fi.IsDir()
	}
	if dir {
		files, err := t.List(p)
		if err != nil {
			return nil, err
		}
		v.Layers = []layerList{{Layer: string(l), Files: files}}
		return v, nil
	}
	doc, err := t.Show(p, true)
	if err != nil {
		return nil, err
	}
	v.Doc = doc
	return v, nil
}

func (s *Server) contextPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.contextTarget(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Doc != nil {
		switch {
		case !utf8.ValidString(v.Doc.Content) || strings.ContainsRune(v.Doc.Content, 0):
			v.Binary = true
		case strings.EqualFold(path.Ext(v.Doc.Path), ".md"):
			v.HTML = renderMarkdown([]byte(v.Doc.Content), v.Doc.Links)
		default:
			v.Text = v.Doc.Content
		}
		for _, l := range v.Doc.Links {
			if l.Target == "" && len(l.Candidates) == 0 {
				v.Missing = append(v.Missing, l.Name)
			}
		}
	}
	title := "Context"
	if v.Path != "" {
		title = v.Path
	}
	s.page(w, r, "context", title, "context", v)
}

func (s *Server) focusPage(w http.ResponseWriter, r *http.Request) {
	focus, err := notes.ReadFocus(s.ws)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inbox, err := notes.Inbox(s.ws)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.page(w, r, "focus", "Focus", "focus", map[string]any{"Focus": focus, "Inbox": inbox})
}

// JSON endpoints.

func (s *Server) apiLoops(w http.ResponseWriter, r *http.Request) {
	loops, err := status.List(r.Context(), s.ws)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, loops)
}

func (s *Server) apiLoop(w http.ResponseWriter, r *http.Request) {
	name, ok := s.loopName(w, r)
	if !ok {
		return
	}
	st, err := status.View(r.Context(), s.ws, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// apiDiff streams the loop's diff as git prints it.
func (s *Server) apiDiff(w http.ResponseWriter, r *http.Request) {
	m, ok := s.loopMeta(w, r)
	if !ok {
		return
	}
	name := m.Name
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var stderr bytes.Buffer
	if err := session.DiffSeen(r.Context(), s.ws, name, diffArgs, w, &stderr); err != nil {
		fmt.Fprintf(w, "\n[git loop web: %v %s]\n", err, strings.TrimSpace(stderr.String()))
	}
}

// apiTranscript streams the transcript as JSON lines ("git loop log
// --json"), one entry at a time; offset and limit select a window.
func (s *Server) apiTranscript(w http.ResponseWriter, r *http.Request) {
	m, ok := s.loopMeta(w, r)
	if !ok {
		return
	}
	name := m.Name
	offset, limit := intParam(r, "offset"), intParam(r, "limit")
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	i, n := 0, 0
	for e, err := range session.Transcript(s.ws, name) {
		if err != nil {
			_ = enc.Encode(map[string]string{"error": err.Error()})
			return
		}
		if i++; i <= offset {
			continue
		}
		if err := enc.Encode(e); err != nil {
			return // the client went away
		}
		if n++; limit > 0 && n >= limit {
			break
		}
		if flusher != nil && n%256 == 0 {
			flusher.Flush()
		}
	}
}

func (s *Server) apiCompose(w http.ResponseWriter, r *http.Request) {
	name, ok := s.loopName(w, r)
	if !ok {
		return
	}
	res, err := contexts.Composition(s.ws, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) apiContext(w http.ResponseWriter, r *http.Request) {
	v, err := s.contextTarget(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Doc != nil {
		writeJSON(w, http.StatusOK, v.Doc)
		return
	}
	out := map[string][]knowledge.ContextFile{}
	for _, l := range v.Layers {
		out[l.Layer] = l.Files
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiFocus(w http.ResponseWriter, r *http.Request) {
	f, err := notes.ReadFocus(s.ws)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) apiInbox(w http.ResponseWriter, r *http.Request) {
	items, err := notes.Inbox(s.ws)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, items)
}
