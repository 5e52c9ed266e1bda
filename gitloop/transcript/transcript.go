// Package transcript reads what a loop's agent said: Claude Code's and
// Codex's session files and git loop's own run logs, as one stream of
// entries. It knows file formats only, never a repository.
package transcript

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Roles of transcript entries.
const (
	RoleUser      = "user"      // what the user (or a prompt) said
	RoleAssistant = "assistant" // what the agent said, and the tools it called (Tool set)
	RoleTool      = "tool"      // what a tool returned (Tool names it when known)
	RoleSystem    = "system"    // session events, exit codes, lines nothing understood (Raw)
)

// Entry is one step of a loop's conversation with its agent.
// Its JSON field names are stable: "git loop log --json" prints them.
type Entry struct {
	Time time.Time `json:"time,omitzero"`
	Role string    `json:"role"`
	Text string    `json:"text"`
	// Tool is the tool called (role assistant) or answering (role tool).
	Tool string `json:"tool,omitempty"`
	// Source is the file and line the entry was read from.
	Source string `json:"source"`
	// Raw marks a notice about the file itself (a line too long to
	// show, a file cut short), not something the agent said.
	Raw bool `json:"raw,omitempty"`
	// Error marks a failure the run stopped on (an API or login error);
	// Hint then says what to do next.
	Error bool   `json:"error,omitempty"`
	Hint  string `json:"hint,omitempty"`
}

// Format is the kind of file a transcript is read from.
type Format string

const (
	Claude Format = "claude"  // Claude Code session JSONL
	Codex  Format = "codex"   // Codex rollout JSONL
	RunLog Format = "run-log" // git loop's own run logs
)

// Options choose what a transcript covers.
type Options struct {
	// All reads every session the agent kept, oldest first, instead of
	// the newest one. (Run logs are always read in full.)
	All bool
}

// maxTranscriptLine bounds the memory one line may take; a longer line
// (a huge tool result) becomes a raw entry saying so.
const maxTranscriptLine = 16 << 20

// maxTextEntry bounds the plain output of a run gathered into one entry.
const maxTextEntry = 256 << 10

// ClaudeSessionFiles are Claude Code's session files under its config
// dir, projects/<project>/<session>.jsonl (subagents' files excluded),
// oldest first by modification time.
func ClaudeSessionFiles(agentDir string) []string {
	files, _ := filepath.Glob(filepath.Join(agentDir, "projects", "*", "*.jsonl"))
	out := files[:0]
	for _, f := range files {
		if !strings.HasPrefix(filepath.Base(f), "agent-") {
			out = append(out, f)
		}
	}
	return byModTime(out)
}

// CodexSessionFiles are Codex's rollout files under CODEX_HOME/sessions
// (sessions/YYYY/MM/DD/rollout-*.jsonl), oldest first.
func CodexSessionFiles(agentDir string) []string {
	var files []string
	_ = filepath.WalkDir(filepath.Join(agentDir, "sessions"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() && strings.HasSuffix(p, ".jsonl") {
			files = append(files, p)
		}
		return nil
	})
	return byModTime(files)
}

func byModTime(files []string) []string {
	type ft struct {
		path string
		t    time.Time
	}
	fts := make([]ft, 0, len(files))
	for _, f := range files {
		// Only regular files: the sandbox writes these dirs, and a
		// symlink or FIFO it planted (made newest with touch -h) must not
		// stand in for the real session. Opening re-checks (OpenUnder).
		fi, err := os.Lstat(f)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		fts = append(fts, ft{f, fi.ModTime()})
	}
	sort.SliceStable(fts, func(i, j int) bool {
		if fts[i].t.Equal(fts[j].t) {
			return fts[i].path < fts[j].path
		}
		return fts[i].t.Before(fts[j].t)
	})
	out := make([]string, len(fts))
	for i, f := range fts {
		out[i] = f.path
	}
	return out
}

// MaxFile bounds how much of one transcript file is read: the files are
// written by the sandbox, which could make one endless. The rest of a
// longer file is not shown, and a system entry says so.
var MaxFile int64 = 512 << 20

// ReadFile streams the entries of one file in format to yield
// and reports whether the caller wants more (false: yield said stop).
// Lines of unknown shape become raw entries; a file that cannot be opened
// or read is an error passed to yield. The file is opened as ReadFileUnder
// does, under its own directory.
func ReadFile(path string, format Format, yield func(Entry, error) bool) bool {
	return ReadFileUnder(filepath.Dir(path), path, format, yield)
}

// ReadFileUnder is ReadFile for a file under base, a directory the sandbox
// cannot replace (the loop dir it mounts, not the agent dir inside it):
// the sandbox writes transcripts, so the file is opened through an
// os.Root on base (no symlink may lead outside it), with O_NOFOLLOW on the
// last component, only if it is a regular file, and read up to MaxFile.
func ReadFileUnder(base, path string, format Format, yield func(Entry, error) bool) bool {
	f, err := OpenUnder(base, path)
	if err != nil {
		return yield(Entry{}, fmt.Errorf("transcript: %w", err))
	}
	defer f.Close()
	return readFrom(f, path, format, yield)
}

// OpenUnder opens path, which must lie under base, for reading as hostile
// data: through an os.Root on base, the last component not a symlink
// (O_NOFOLLOW), a regular file only (O_NONBLOCK keeps a planted FIFO from
// hanging the open).
func OpenUnder(base, path string) (*os.File, error) {
	rel, err := filepath.Rel(base, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil, fmt.Errorf("%s: not under %s", path, base)
	}
	root, err := os.OpenRoot(base)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: not a regular file", path)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// capped reads at most max bytes of r and remembers whether more was left.
type capped struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			c.over = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func readFrom(r io.Reader, path string, format Format, yield func(Entry, error) bool) bool {
	f := &capped{r: r, left: MaxFile}
	var err error
	var p lineParser
	switch format {
	case Codex:
		p = &codexParser{tools: map[string]string{}, src: path}
	case RunLog:
		p = &runLogParser{out: NewOutputParser(), src: path}
	default:
		p = &claudeParser{tools: map[string]string{}, src: path}
	}
	more := true
	var last time.Time // of the last entry: the end's summary gets it
	emit := func(e Entry) bool {
		if e.Time.IsZero() {
			e.Time = last
		} else {
			last = e.Time
		}
		if more {
			more = yield(e, nil)
		}
		return more
	}
	err = readLines(f, maxTranscriptLine, func(n int, line []byte, dropped int64) bool {
		src := path + ":" + strconv.Itoa(n)
		if dropped > 0 {
			return emit(Entry{Role: RoleSystem, Raw: true, Source: src,
				Text: fmt.Sprintf("[line of %d bytes not shown: longer than %d]", int64(len(line))+dropped, maxTranscriptLine)})
		}
		for _, e := range p.line(line, src) {
			if !emit(e) {
				return false
			}
		}
		return true
	})
	if err != nil && more {
		return yield(Entry{}, fmt.Errorf("transcript %s: %w", path, err))
	}
	if more {
		for _, e := range p.end() {
			if !emit(e) {
				break
			}
		}
	}
	if more && f.over {
		emit(Entry{Role: RoleSystem, Raw: true, Source: path,
			Text: fmt.Sprintf("[transcript truncated: %s is larger than %d MiB; the rest is not shown]", filepath.Base(path), MaxFile>>20)})
	}
	return more
}

// readLines calls fn with each line of r (without its newline), numbered
// from 1, holding at most max bytes of it: the rest of a longer line is
// skipped and counted in dropped. fn returning false stops the read.
func readLines(r io.Reader, max int, fn func(n int, line []byte, dropped int64) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	var dropped int64
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) <= max {
			buf = append(buf, chunk...)
		} else {
			room := max - len(buf)
			buf = append(buf, chunk[:room]...)
			dropped += int64(len(chunk) - room)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(buf) > 0 || dropped > 0 {
			n++
			line := bytes.TrimRight(buf, "\r\n")
			if dropped > 0 && bytes.HasSuffix(chunk, []byte("\n")) {
				dropped-- // the newline is not content
			}
			if !fn(n, line, dropped) {
				return nil
			}
		}
		buf, dropped = buf[:0], 0
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lineParser turns lines of one file into entries.
type lineParser interface {
	line(b []byte, src string) []Entry
	end() []Entry
}

// skipped counts the lines a parser leaves out: metadata it knows and
// lines of a type it does not. Neither is ever shown raw (the sandbox
// writes these files); the count is, once per file.
type skipped struct {
	meta    int
	unknown map[string]int // type (or "unreadable") → lines
}

func (k *skipped) skipMeta() { k.meta++ }

func (k *skipped) skipUnknown(typ string) {
	if k.unknown == nil {
		k.unknown = map[string]int{}
	}
	if typ == "" {
		typ = "unreadable"
	}
	// The type comes from the file: keep it short and plain.
	if len(typ) > 40 || strings.ContainsFunc(typ, func(r rune) bool { return r < ' ' || r > '~' }) {
		typ = "unreadable"
	}
	k.unknown[typ]++
}

// summary is the system entry saying what was skipped (none: nothing).
func (k *skipped) summary(src string) []Entry {
	var parts []string
	if k.meta > 0 {
		parts = append(parts, fmt.Sprintf("+%d metadata %s", k.meta, plural(k.meta, "line", "lines")))
	}
	if len(k.unknown) > 0 {
		n := 0
		var types []string
		for t, c := range k.unknown {
			n += c
			types = append(types, t)
		}
		sort.Strings(types)
		if len(types) > 5 {
			types = append(types[:5], "…")
		}
		parts = append(parts, fmt.Sprintf("+%d %s of unknown type (%s)", n, plural(n, "line", "lines"), strings.Join(types, ", ")))
	}
	if len(parts) == 0 {
		return nil
	}
	return []Entry{{Role: RoleSystem, Text: strings.Join(parts, ", ") + " not shown", Source: src}}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// compactJSON renders a JSON value on one line ("" for none).
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// contentText is the text of a content value: a string, or blocks of
// {"type":"text","text":…}, or anything else as compact JSON.
func contentText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) == nil {
		var parts []string
		for _, b := range blocks {
			switch {
			case b.Text != "":
				parts = append(parts, b.Text)
			case b.Type == "image":
				parts = append(parts, "[image]")
			}
		}
		if len(parts) > 0 || len(blocks) == 0 {
			return strings.Join(parts, "\n")
		}
	}
	var obj struct {
		Content json.RawMessage `json:"content"`
		Output  json.RawMessage `json:"output"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		if len(obj.Content) > 0 {
			return contentText(obj.Content)
		}
		if len(obj.Output) > 0 {
			return contentText(obj.Output)
		}
	}
	return compactJSON(raw)
}

// Claude Code: session files and --output-format stream-json share one
// line shape: {"type":"user"|"assistant", "message":{"content":…}, …}.
type claudeLine struct {
	Type      string          `json:"type"`
	Subtype   string          `json:"subtype"`
	Timestamp string          `json:"timestamp"`
	IsMeta    bool            `json:"isMeta"`
	Message   *claudeMessage  `json:"message"`
	Content   json.RawMessage `json:"content"`
	Summary   string          `json:"summary"`
	IsError   bool            `json:"is_error"`
	Model     string          `json:"model"`
	NumTurns  int             `json:"num_turns"`
	Result    string          `json:"result"`
	// A failed request: the synthetic assistant message Claude Code
	// writes carries these, and the result line of a failed run its
	// status.
	Error           json.RawMessage `json:"error"`
	IsAPIError      bool            `json:"isApiErrorMessage"`
	APIErrorStatus  int             `json:"apiErrorStatus"`
	APIErrorStatus2 int             `json:"api_error_status"`
	TerminalReason  string          `json:"terminal_reason"`
}

type claudeMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type claudeBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

// claudeMeta are the line types Claude Code (2.1) writes beside the
// conversation: bookkeeping, request records, attachments of context it
// injects. They are counted, not shown.
var claudeMeta = map[string]bool{
	"file-history-snapshot": true, "queue-operation": true, "stream_event": true, "progress": true,
	"attachment": true, "atis-latch": true, "api-request-shape": true, "api-request-blob": true,
	"api-request": true, "tools-used": true, "last-prompt": true, "cost-state": true,
	"custom-title": true, "summary-title": true, "rate_limit_event": true, "control_request": true,
	"control_response": true, "keep_alive": true, "tool_progress": true, "auth_status": true,
}

// claudeSystemMeta are system subtypes that are bookkeeping: a retry
// record (the failure that ends the run is its own line), hook runs.
var claudeSystemMeta = map[string]bool{
	"api_error": true, "api_retry": true, "hook_response": true, "hook_started": true,
	"hook_progress": true, "status": true, "turn_duration": true, "stop_hook_summary": true,
}

type claudeParser struct {
	tools map[string]string // tool_use id → tool name
	src   string            // the file, for the summary entry
	skip  skipped
	// lastErr is the last failure shown, so the result line of the run
	// it ended does not repeat it.
	lastErr string
}

func (p *claudeParser) end() []Entry { return p.skip.summary(p.src) }

func (p *claudeParser) line(b []byte, src string) []Entry {
	es, ok := p.parse(b, src)
	if !ok {
		var l struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(b, &l)
		p.skip.skipUnknown(l.Type)
		return nil
	}
	return es
}

// parse reports false for a line it does not recognise.
func (p *claudeParser) parse(b []byte, src string) ([]Entry, bool) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, true
	}
	var l claudeLine
	if err := json.Unmarshal(b, &l); err != nil || l.Type == "" {
		return nil, false
	}
	t := parseTime(l.Timestamp)
	entry := func(role, text, tool string) Entry {
		return Entry{Time: t, Role: role, Text: text, Tool: tool, Source: src}
	}
	switch {
	case claudeMeta[l.Type]:
		p.skip.skipMeta()
		return nil, true
	case l.Type == "summary":
		return []Entry{entry(RoleSystem, "summary: "+l.Summary, "")}, true
	case l.Type == "system" && claudeSystemMeta[l.Subtype]:
		p.skip.skipMeta()
		return nil, true
	case l.Type == "system":
		text := contentText(l.Content)
		if text == "" {
			if l.Subtype != "init" {
				p.skip.skipMeta()
				return nil, true
			}
			text = "session started"
			if l.Model != "" {
				text += " (model " + l.Model + ")"
			}
		}
		return []Entry{entry(RoleSystem, text, "")}, true
	case l.Type == "result":
		if l.IsError {
			if l.Result != "" && l.Result == p.lastErr {
				return []Entry{entry(RoleSystem, "run failed (the error above)", "")}, true
			}
			e := entry(RoleSystem, "run failed: "+firstNonEmpty(l.Result, l.TerminalReason, l.Subtype), "")
			e.Error, e.Hint = true, claudeHint(l.APIErrorStatus2, "", l.Result)
			return []Entry{e}, true
		}
		text := "result: " + l.Subtype
		if l.NumTurns > 0 {
			text += fmt.Sprintf(", %d turns", l.NumTurns)
		}
		return []Entry{entry(RoleSystem, text, "")}, true
	case (l.Type == "user" || l.Type == "assistant") && l.Message != nil:
	default:
		return nil, false
	}
	role := l.Type
	if l.IsMeta {
		role = RoleSystem
	}
	var s string
	if json.Unmarshal(l.Message.Content, &s) == nil {
		return []Entry{entry(role, s, "")}, true
	}
	var blocks []claudeBlock
	if err := json.Unmarshal(l.Message.Content, &blocks); err != nil {
		return nil, false
	}
	if l.Type == "assistant" && (l.IsAPIError || len(l.Error) > 0 && string(l.Error) != "null") {
		// The message Claude Code writes in place of the model's answer
		// when a request failed: an error, with what to do about it.
		var parts []string
		for _, bl := range blocks {
			if bl.Text != "" {
				parts = append(parts, bl.Text)
			}
		}
		var code string
		_ = json.Unmarshal(l.Error, &code)
		text := strings.Join(parts, "\n")
		e := entry(RoleSystem, "error: "+firstNonEmpty(text, code, "the request failed"), "")
		e.Error, e.Hint = true, claudeHint(l.APIErrorStatus, code, text)
		p.lastErr = text
		return []Entry{e}, true
	}
	var out []Entry
	for _, bl := range blocks {
		switch bl.Type {
		case "text":
			out = append(out, entry(role, bl.Text, ""))
		case "image":
			out = append(out, entry(role, "[image]", ""))
		case "tool_use", "server_tool_use":
			if bl.ID != "" {
				p.tools[bl.ID] = bl.Name
			}
			out = append(out, entry(RoleAssistant, compactJSON(bl.Input), bl.Name))
		case "tool_result":
			text := contentText(bl.Content)
			if bl.IsError {
				text = "error: " + text
			}
			out = append(out, entry(RoleTool, text, p.tools[bl.ToolUseID]))
		case "thinking", "redacted_thinking":
			// Private reasoning: not part of the conversation shown.
		default:
			p.skip.skipUnknown(l.Type + "/" + bl.Type)
		}
	}
	return out, true
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// The next steps an error entry names. A loop gets keys from its vault
// (delivered to every exec, so setting one fixes the loop's next run).
const (
	claudeLoginHint = `Claude Code has no valid login in this loop: set a key in the loop's vault ("git loop vault set ANTHROPIC_API_KEY", or CLAUDE_CODE_OAUTH_TOKEN from "claude setup-token"), or log in inside the loop ("git loop attach LOOP", then /login)`
	codexLoginHint  = `Codex has no valid login in this loop: set a key in the loop's vault ("git loop vault set OPENAI_API_KEY"), or log in inside the loop ("git loop shell LOOP", then "codex login")`
	apiHint         = `the model API did not answer: check the sandbox's network and the API's status, then run again ("git loop doctor" checks the setup)`
	rateHint        = `the model API refused for rate or usage limits: wait, or use another key ("git loop vault set VAR")`
)

// claudeHint is the next step for a failed Claude request.
func claudeHint(status int, code, text string) string {
	low := strings.ToLower(code + " " + text)
	switch {
	case status == 401 || status == 403 || strings.Contains(low, "authentication") || strings.Contains(low, "api key") ||
		strings.Contains(low, "not logged in") || strings.Contains(low, "/login") || strings.Contains(low, "oauth"):
		return claudeLoginHint
	case status == 429 || strings.Contains(low, "rate_limit") || strings.Contains(low, "rate limit") || strings.Contains(low, "usage limit"):
		return rateHint
	}
	return apiHint
}

// OutputParser reads an agent's headless output line by line and
// recognises what Claude Code's stream-json prints, so a terminal can
// show a conversation rather than JSON.
type OutputParser struct{ p claudeParser }

// NewOutputParser returns a parser for one run's output.
func NewOutputParser() *OutputParser {
	return &OutputParser{p: claudeParser{tools: map[string]string{}}}
}

// Line returns the entries of one output line, or false when the line is
// not one the parser knows (plain output: show it as it is).
func (o *OutputParser) Line(line []byte) ([]Entry, bool) {
	if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
		return nil, false
	}
	if es, ok := o.p.parse(line, ""); ok {
		return es, true
	}
	// A stream-json line of a type this version does not know (a newer
	// client): counted, not shown raw. Other JSON is plain output.
	var l struct {
		Type      string `json:"type"`
		SessionID string `json:"session_id"`
		UUID      string `json:"uuid"`
	}
	if json.Unmarshal(line, &l) == nil && l.Type != "" && (l.SessionID != "" || l.UUID != "") {
		o.p.skip.skipUnknown(l.Type)
		return nil, true
	}
	return nil, false
}

// Codex: rollout lines are {"timestamp", "type", "payload"}; the
// conversation is in the response_item payloads (event_msg repeats it).
type codexLine struct {
	Timestamp string          `json:"timestamp"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
}

type codexItem struct {
	Type    string `json:"type"`
	Role    string `json:"role"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Input     string          `json:"input"`
	CallID    string          `json:"call_id"`
	Output    json.RawMessage `json:"output"`
	Action    *struct {
		Command []string `json:"command"`
		Query   string   `json:"query"`
	} `json:"action"`
}

// codexMeta are the rollout line types (Codex 0.169) beside the
// conversation: session and turn settings, the world state, token
// records. event_msg lines repeat the conversation as UI events; only
// their errors are read.
var codexMeta = map[string]bool{"session_meta": true, "turn_context": true, "world_state": true, "token_usage_record": true, "event_msg": true}

// codexEvent is an event_msg payload, read for failures only.
type codexEvent struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Error   *struct {
		Message string          `json:"message"`
		Info    json.RawMessage `json:"codex_error_info"`
	} `json:"error"`
}

// codexContextPrefixes start the user messages Codex injects itself.
var codexContextPrefixes = []string{"<environment_context>", "<user_instructions>", "# AGENTS.md instructions", "<skills_instructions>", "<permissions instructions>"}

type codexParser struct {
	tools map[string]string // call_id → tool name
	src   string
	skip  skipped
}

func (p *codexParser) end() []Entry { return p.skip.summary(p.src) }

func (p *codexParser) line(b []byte, src string) []Entry {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var l codexLine
	if err := json.Unmarshal(b, &l); err != nil {
		p.skip.skipUnknown("")
		return nil
	}
	t := parseTime(l.Timestamp)
	payload := l.Payload
	switch {
	case l.Type == "event_msg":
		return p.event(l.Payload, t, src)
	case codexMeta[l.Type]:
		p.skip.skipMeta()
		return nil
	case l.Type == "compacted":
		return []Entry{{Time: t, Role: RoleSystem, Text: "context compacted", Source: src}}
	case l.Type == "response_item":
	case len(payload) == 0 && l.Type != "" && l.Timestamp == "":
		payload = b // older rollouts: the items themselves, one per line
	default:
		p.skip.skipUnknown(l.Type)
		return nil
	}
	var it codexItem
	if err := json.Unmarshal(payload, &it); err != nil {
		p.skip.skipUnknown(l.Type)
		return nil
	}
	entry := func(role, text, tool string) []Entry {
		return []Entry{{Time: t, Role: role, Text: text, Tool: tool, Source: src}}
	}
	switch it.Type {
	case "message":
		var parts []string
		for _, c := range it.Content {
			if c.Text != "" {
				parts = append(parts, c.Text)
			}
		}
		text := strings.Join(parts, "\n")
		switch it.Role {
		case "user":
			for _, pre := range codexContextPrefixes {
				if strings.HasPrefix(strings.TrimSpace(text), pre) {
					p.skip.skipMeta() // context Codex injects itself
					return nil
				}
			}
			return entry(RoleUser, text, "")
		case "assistant":
			return entry(RoleAssistant, text, "")
		case "developer", "system":
			p.skip.skipMeta() // instructions Codex sends the model
			return nil
		}
		return entry(RoleSystem, text, "")
	case "function_call", "custom_tool_call":
		if it.CallID != "" {
			p.tools[it.CallID] = it.Name
		}
		args := it.Arguments
		if args == "" {
			args = it.Input
		}
		return entry(RoleAssistant, args, it.Name)
	case "function_call_output", "custom_tool_call_output":
		out := contentText(it.Output)
		// Shell calls answer with a JSON string of {"output", "metadata"}.
		var inner struct {
			Output *string `json:"output"`
		}
		if strings.HasPrefix(out, "{") && json.Unmarshal([]byte(out), &inner) == nil && inner.Output != nil {
			out = *inner.Output
		}
		return entry(RoleTool, execOutput(out), p.tools[it.CallID])
	case "local_shell_call":
		cmd := ""
		if it.Action != nil {
			cmd = strings.Join(it.Action.Command, " ")
		}
		if it.CallID != "" {
			p.tools[it.CallID] = "shell"
		}
		return entry(RoleAssistant, cmd, "shell")
	case "web_search_call":
		q := ""
		if it.Action != nil {
			q = it.Action.Query
		}
		return entry(RoleAssistant, q, "web_search")
	case "reasoning":
		p.skip.skipMeta() // private reasoning
		return nil
	}
	p.skip.skipUnknown("response_item/" + it.Type)
	return nil
}

// execOutput is what a command printed, from Codex's exec_command
// answer (a header of chunk id, wall time, exit code and token count,
// then "Output:"); a failing exit code stays in front.
func execOutput(s string) string {
	if !strings.HasPrefix(s, "Chunk ID: ") {
		return s
	}
	head, out, ok := strings.Cut(s, "\nOutput:\n")
	if !ok {
		return s
	}
	for _, l := range strings.Split(head, "\n") {
		if code, ok := strings.CutPrefix(l, "Process exited with code "); ok && code != "0" {
			return "exit " + code + "\n" + out
		}
	}
	return out
}

// event reads an event_msg: a failure (a turn that ended on an error, an
// error event) is an error entry; every other event repeats what the
// response items hold, and is counted.
func (p *codexParser) event(payload json.RawMessage, t time.Time, src string) []Entry {
	var ev codexEvent
	_ = json.Unmarshal(payload, &ev)
	msg := ""
	switch {
	case ev.Type == "task_complete" && ev.Error != nil:
		msg = ev.Error.Message
	case ev.Type == "error" || ev.Type == "stream_error":
		msg = ev.Message
	}
	if msg == "" {
		p.skip.skipMeta()
		return nil
	}
	// A URL in the message names the stand-in or proxy the client used:
	// the status is what matters.
	if i := strings.Index(msg, ", url: "); i > 0 {
		msg = msg[:i]
	}
	return []Entry{{Time: t, Role: RoleSystem, Text: "error: " + msg, Source: src, Error: true, Hint: codexHint(msg)}}
}

// codexHint is the next step for a failed Codex turn.
func codexHint(msg string) string {
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "401") || strings.Contains(low, "403") || strings.Contains(low, "api key") ||
		strings.Contains(low, "unauthorized") || strings.Contains(low, "not logged in") || strings.Contains(low, "login"):
		return codexLoginHint
	case strings.Contains(low, "429") || strings.Contains(low, "rate limit") || strings.Contains(low, "usage limit") || strings.Contains(low, "quota"):
		return rateHint
	}
	return apiHint
}

// runLogParser reads git loop's run logs: the header becomes a user
// entry (the prompt), lines an agent's stream-json printed become their
// entries, other output is gathered into assistant entries, and the
// trailer becomes a system entry.
type runLogParser struct {
	src     string
	n       int
	body    bool // past the header (or a file without one)
	inPr    bool // in the prompt's continuation lines
	t       time.Time
	prompt  strings.Builder
	text    bytes.Buffer
	textSrc string
	out     *OutputParser
}

func (p *runLogParser) line(b []byte, src string) []Entry {
	p.n++
	if p.n == 1 {
		if string(b) == RunLogMagic {
			return nil
		}
		p.body = true
	}
	if !p.body {
		return p.headerLine(b, src)
	}
	if rest, ok := bytes.CutPrefix(b, []byte(RunLogTrailer)); ok {
		return append(p.flush(), Entry{Time: p.t, Role: RoleSystem, Text: string(rest), Source: src})
	}
	if es, ok := p.out.Line(b); ok {
		for i := range es {
			es[i].Source = src
			if es[i].Time.IsZero() {
				es[i].Time = p.t
			}
		}
		return append(p.flush(), es...)
	}
	var out []Entry
	if p.text.Len()+len(b) > maxTextEntry {
		out = p.flush()
	}
	if p.text.Len() == 0 {
		p.textSrc = src
	} else {
		p.text.WriteByte('\n')
	}
	p.text.Write(b)
	return out
}

func (p *runLogParser) headerLine(b []byte, src string) []Entry {
	s := string(b)
	if p.inPr {
		if rest, ok := strings.CutPrefix(s, "  "); ok {
			p.prompt.WriteString("\n" + rest)
			return nil
		}
		p.inPr = false
	}
	if s == "" {
		p.body = true
		return []Entry{{Time: p.t, Role: RoleUser, Text: p.prompt.String(), Source: src}}
	}
	k, v, _ := strings.Cut(s, ": ")
	switch k {
	case "time":
		p.t = parseTime(v)
	case "prompt", "prompt:":
		p.prompt.WriteString(v)
		p.inPr = true
	}
	return nil
}

func (p *runLogParser) flush() []Entry {
	if p.text.Len() == 0 {
		return nil
	}
	e := Entry{Time: p.t, Role: RoleAssistant, Text: p.text.String(), Source: p.textSrc}
	p.text.Reset()
	return []Entry{e}
}

func (p *runLogParser) end() []Entry {
	out := p.flush()
	for _, e := range p.out.p.skip.summary(p.src) {
		e.Time = p.t
		out = append(out, e)
	}
	return out
}

// RunLogSuffix ends the name of every run log.
const RunLogSuffix = "-run.log"

// Run log format (read back by the transcript):
//
//	git loop run
//	time: 2026-01-02T03:04:05Z
//	loop: NAME
//	agent: SETTING
//	driver: DRIVER
//	prompt: FIRST LINE
//	  NEXT LINE (prompt continuation lines are indented by two spaces)
//	<empty line>
//	...the agent's output, as it came...
//	[git loop] exit 0 after 1.234s
const (
	RunLogMagic   = "git loop run"
	RunLogTrailer = "[git loop] "
)
