package transcript

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/internal/testagents"
)

// The fixtures in testdata/ are session files the real clients wrote,
// offline: each test here runs the installed client (at the version
// internal/testagents pins) against a loopback stand-in for its model API,
// and compares the structure of what it wrote (line kinds and their
// fields) with the checked-in fixture. A client that changes its schema
// fails here; -update rewrites the fixtures from the installed client.
var update = flag.Bool("update", false, "rewrite testdata/ fixtures from the installed clients")

// standIn is a loopback model API: it answers Anthropic's /v1/messages and
// OpenAI's /v1/responses with a scripted turn (a tool call, then text once
// the tool answered), or with an authentication error.
type standIn struct {
	authFail bool
	file     string // the file the scripted tool call reads

	mu    sync.Mutex
	calls int
}

const (
	standInReply = "The note says: hello from the fixture."
	standInNote  = "hello from the fixture\n"
)

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/messages"):
		s.anthropic(w, body)
	case strings.HasSuffix(r.URL.Path, "/responses"):
		s.openai(w, body)
	case strings.HasSuffix(r.URL.Path, "/models"):
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"object":"list","data":[],"models":[]}`)
	default:
		http.NotFound(w, r)
	}
}

func sse(w http.ResponseWriter, events ...any) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for _, e := range events {
		b, _ := json.Marshal(e)
		var typ struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(b, &typ)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ.Type, b)
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

type obj = map[string]any

func (s *standIn) anthropic(w http.ResponseWriter, body []byte) {
	if s.authFail {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
		return
	}
	var req struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	_ = json.Unmarshal(body, &req)
	answered := len(req.Messages) > 0 && bytes.Contains(req.Messages[len(req.Messages)-1].Content, []byte(`"tool_result"`))
	usage := obj{"input_tokens": 12, "output_tokens": 7}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(obj{"id": "msg_standin_q", "type": "message", "role": "assistant", "model": req.Model,
			"content": []obj{{"type": "text", "text": "Fixture"}}, "stop_reason": "end_turn", "stop_sequence": nil, "usage": usage})
		w.Write(b)
		return
	}
	start := obj{"type": "message_start", "message": obj{"id": "msg_standin", "type": "message", "role": "assistant", "model": req.Model,
		"content": []obj{}, "stop_reason": nil, "stop_sequence": nil, "usage": usage}}
	if !answered {
		input, _ := json.Marshal(obj{"file_path": s.file})
		sse(w, start,
			obj{"type": "content_block_start", "index": 0, "content_block": obj{"type": "text", "text": ""}},
			obj{"type": "content_block_delta", "index": 0, "delta": obj{"type": "text_delta", "text": "Reading the note."}},
			obj{"type": "content_block_stop", "index": 0},
			obj{"type": "content_block_start", "index": 1, "content_block": obj{"type": "tool_use", "id": "toolu_standin1", "name": "Read", "input": obj{}}},
			obj{"type": "content_block_delta", "index": 1, "delta": obj{"type": "input_json_delta", "partial_json": string(input)}},
			obj{"type": "content_block_stop", "index": 1},
			obj{"type": "message_delta", "delta": obj{"stop_reason": "tool_use", "stop_sequence": nil}, "usage": obj{"output_tokens": 20}},
			obj{"type": "message_stop"})
		return
	}
	sse(w, start,
		obj{"type": "content_block_start", "index": 0, "content_block": obj{"type": "text", "text": ""}},
		obj{"type": "content_block_delta", "index": 0, "delta": obj{"type": "text_delta", "text": standInReply}},
		obj{"type": "content_block_stop", "index": 0},
		obj{"type": "message_delta", "delta": obj{"stop_reason": "end_turn", "stop_sequence": nil}, "usage": obj{"output_tokens": 9}},
		obj{"type": "message_stop"})
}

func (s *standIn) openai(w http.ResponseWriter, body []byte) {
	if s.authFail {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"message":"Incorrect API key provided: sk-fake. You can find your API key at the platform's API keys page.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`)
		return
	}
	var req struct {
		Model string            `json:"model"`
		Input []json.RawMessage `json:"input"`
	}
	_ = json.Unmarshal(body, &req)
	answered := len(req.Input) > 0 && bytes.Contains(req.Input[len(req.Input)-1], []byte(`"function_call_output"`))
	resp := obj{"id": "resp_standin", "object": "response", "created_at": 1796600000, "status": "in_progress", "model": req.Model, "output": []obj{}}
	done := func(items ...obj) []any {
		ev := []any{obj{"type": "response.created", "response": resp}}
		for i, it := range items {
			ev = append(ev, obj{"type": "response.output_item.done", "output_index": i, "item": it})
		}
		completed := obj{"id": "resp_standin", "object": "response", "status": "completed", "model": req.Model, "output": items,
			"usage": obj{"input_tokens": 12, "input_tokens_details": obj{"cached_tokens": 0}, "output_tokens": 7, "output_tokens_details": obj{"reasoning_tokens": 0}, "total_tokens": 19}}
		return append(ev, obj{"type": "response.completed", "response": completed})
	}
	if !answered {
		args, _ := json.Marshal(obj{"cmd": "cat " + s.file})
		sse(w, done(
			obj{"type": "message", "id": "msg_standin1", "role": "assistant", "status": "completed", "content": []obj{{"type": "output_text", "text": "Reading the note.", "annotations": []obj{}}}},
			obj{"type": "function_call", "id": "fc_standin1", "call_id": "call_standin1", "name": "exec_command", "arguments": string(args), "status": "completed"},
		)...)
		return
	}
	sse(w, done(
		obj{"type": "message", "id": "msg_standin2", "role": "assistant", "status": "completed", "content": []obj{{"type": "output_text", "text": standInReply, "annotations": []obj{}}}},
	)...)
}

// clientRun is one offline run of a real client in a fresh home.
type clientRun struct {
	dir, home, work string
	srv             *httptest.Server
	standIn         *standIn
	stream          string // what claude printed (stream-json), when it ran
}

func newClientRun(t *testing.T, authFail bool) *clientRun {
	t.Helper()
	dir := t.TempDir()
	c := &clientRun{dir: dir, home: filepath.Join(dir, "home"), work: filepath.Join(dir, "work")}
	for _, d := range []string{c.home, c.work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	note := filepath.Join(c.work, "notes.txt")
	if err := os.WriteFile(note, []byte(standInNote), 0o644); err != nil {
		t.Fatal(err)
	}
	c.standIn = &standIn{authFail: authFail, file: note}
	c.srv = httptest.NewServer(c.standIn)
	t.Cleanup(c.srv.Close)
	return c
}

func (c *clientRun) env(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.home, "TERM=dumb", "LANG=C.UTF-8", "TZ=UTC",
		"DISABLE_AUTOUPDATER=1", "DISABLE_TELEMETRY=1", "DISABLE_ERROR_REPORTING=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"}
	return append(env, extra...)
}

func (c *clientRun) run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = c.work
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = strings.NewReader("")
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish in 90s:\n%s", name, out.String())
	}
	return out.String()
}

// runClaude runs claude -p once and returns its session file.
func runClaude(t *testing.T, authFail bool) (string, *clientRun) {
	t.Helper()
	bin := testagents.Claude(t)
	c := newClientRun(t, authFail)
	cfg := filepath.Join(c.home, ".claude")
	env := c.env("CLAUDE_CONFIG_DIR="+cfg, "ANTHROPIC_BASE_URL="+c.srv.URL, "ANTHROPIC_API_KEY=sk-ant-standin-key", "CLAUDE_CODE_MAX_RETRIES=0")
	out := c.run(t, env, bin, "-p", "What does notes.txt say?", "--output-format", "stream-json", "--verbose", "--model", "claude-opus-5-5")
	files := ClaudeSessionFiles(cfg)
	if len(files) != 1 {
		t.Fatalf("claude wrote %d session files, want 1; its output:\n%s", len(files), out)
	}
	// What it printed (stream-json) is what a run log holds.
	var stream []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "{") {
			stream = append(stream, l)
		}
	}
	c.stream = filepath.Join(c.dir, "stream.jsonl")
	if err := os.WriteFile(c.stream, []byte(strings.Join(stream, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return files[0], c
}

// runCodex runs codex exec once and returns its rollout file.
func runCodex(t *testing.T, authFail bool) (string, *clientRun) {
	t.Helper()
	bin := testagents.Codex(t)
	c := newClientRun(t, authFail)
	codexHome := filepath.Join(c.home, ".codex")
	if err := os.MkdirAll(codexHome, 0o755); err != nil {
		t.Fatal(err)
	}
	// A provider on the stand-in: plain HTTP, no retries, the fake key
	// from the environment.
	conf := fmt.Sprintf(`model = "gpt-5.5"
model_provider = "standin"

[model_providers.standin]
name = "standin"
base_url = "%s/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`, c.srv.URL)
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	env := c.env("CODEX_HOME="+codexHome, "OPENAI_API_KEY=sk-standin-key")
	out := c.run(t, env, bin, "exec", "--skip-git-repo-check", "-s", "danger-full-access", "What does notes.txt say?")
	files := CodexSessionFiles(codexHome)
	if len(files) != 1 {
		t.Fatalf("codex wrote %d rollout files, want 1; its output:\n%s", len(files), out)
	}
	return files[0], c
}

// scrub makes a session file machine-independent: the run's temp dir,
// the stand-in's port and the kernel version become fixed strings.
func scrub(b []byte, c *clientRun) []byte {
	s := string(b)
	s = strings.ReplaceAll(s, c.srv.URL, "http://127.0.0.1:PORT")
	// Claude names the project dir after the path, dashes for slashes.
	s = strings.ReplaceAll(s, strings.ReplaceAll(c.dir, "/", "-"), "-fixture")
	s = strings.ReplaceAll(s, c.dir, "/fixture")
	s = regexp.MustCompile(`Linux [0-9][^"\\]*`).ReplaceAllString(s, "Linux KERNEL")
	s = regexp.MustCompile(`"messaging_socket_path":"[^"]*"`).ReplaceAllString(s, `"messaging_socket_path":"/tmp/cc-socks/PID.sock"`)
	return []byte(s)
}

// shape is the structure of a session file: for each line kind, the
// fields its lines carry (the union over the file).
type shape map[string][]string

// lineKind names a line by its type and the subtype that tells metadata
// from conversation: Claude's system subtype and message role, Codex's
// payload type.
func lineKind(b []byte) (string, map[string]json.RawMessage) {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return "(not json)", nil
	}
	str := func(raw json.RawMessage, key string) string {
		var o map[string]json.RawMessage
		if json.Unmarshal(raw, &o) != nil {
			return ""
		}
		var s string
		_ = json.Unmarshal(o[key], &s)
		return s
	}
	var typ, sub string
	_ = json.Unmarshal(m["type"], &typ)
	_ = json.Unmarshal(m["subtype"], &sub)
	if p := str(m["payload"], "type"); p != "" {
		sub = p
	}
	if sub != "" {
		return typ + "/" + sub, m
	}
	return typ, m
}

func shapeOf(t *testing.T, path string) shape {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]map[string]bool{}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		kind, m := lineKind(line)
		if sets[kind] == nil {
			sets[kind] = map[string]bool{}
		}
		for k := range m {
			sets[kind][k] = true
		}
	}
	sh := shape{}
	for kind, keys := range sets {
		for k := range keys {
			sh[kind] = append(sh[kind], k)
		}
		sort.Strings(sh[kind])
	}
	return sh
}

// diffShapes lists what the regenerated file has that the fixture does
// not, and the other way round.
func diffShapes(fixture, fresh shape) []string {
	var diffs []string
	kinds := map[string]bool{}
	for k := range fixture {
		kinds[k] = true
	}
	for k := range fresh {
		kinds[k] = true
	}
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		f, ok1 := fixture[k]
		g, ok2 := fresh[k]
		switch {
		case !ok1:
			diffs = append(diffs, fmt.Sprintf("new line kind %q with fields %v", k, g))
		case !ok2:
			diffs = append(diffs, fmt.Sprintf("line kind %q is no longer written", k))
		case strings.Join(f, ",") != strings.Join(g, ","):
			diffs = append(diffs, fmt.Sprintf("line kind %q: fields %v, fixture has %v", k, g, f))
		}
	}
	return diffs
}

// checkFixture compares a freshly written session file with its fixture,
// or rewrites the fixture under -update.
func checkFixture(t *testing.T, fresh string, c *clientRun, fixture string) {
	t.Helper()
	b, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	b = scrub(b, c)
	path := filepath.Join("testdata", fixture)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	scrubbed := filepath.Join(t.TempDir(), "fresh.jsonl")
	if err := os.WriteFile(scrubbed, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if diffs := diffShapes(shapeOf(t, path), shapeOf(t, scrubbed)); len(diffs) > 0 {
		t.Errorf("the installed client writes another schema than %s (run go test -run %s -update to take it, then check the transcript still reads well):\n  %s",
			path, t.Name(), strings.Join(diffs, "\n  "))
	}
}

func TestRealClaudeSessionFixture(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		authFail bool
	}{{"conversation", false}, {"auth-error", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, c := runClaude(t, tc.authFail)
			checkFixture(t, f, c, "claude-"+testagents.ClaudeVersion+"-"+tc.name+".jsonl")
			checkFixture(t, c.stream, c, "claude-"+testagents.ClaudeVersion+"-"+tc.name+".stream.jsonl")
		})
	}
}

func TestRealCodexRolloutFixture(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		authFail bool
	}{{"conversation", false}, {"auth-error", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, c := runCodex(t, tc.authFail)
			checkFixture(t, f, c, "codex-"+testagents.CodexVersion+"-"+tc.name+".jsonl")
		})
	}
}
