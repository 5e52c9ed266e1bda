package transcript

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// brief is an entry without its source, for comparing.
type brief struct {
	Role, Text, Tool string
	Raw              bool
}

func readAll(t *testing.T, path string, format Format) ([]brief, []Entry) {
	t.Helper()
	var bs []brief
	var es []Entry
	ReadFile(path, format, func(e Entry, err error) bool {
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
		bs = append(bs, brief{e.Role, e.Text, e.Tool, e.Raw})
		return true
	})
	return bs, es
}

func writeLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestClaudeTranscript(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.jsonl")
	writeLines(t, path,
		`{"type":"file-history-snapshot","messageId":"m","snapshot":{}}`,
		`{"type":"summary","summary":"Login fix","leafUuid":"u"}`,
		`{"parentUuid":null,"type":"user","message":{"role":"user","content":"fix the login"},"timestamp":"2026-01-02T03:04:05.123Z","sessionId":"s"}`,
		`{"type":"user","isMeta":true,"message":{"role":"user","content":"<command-name>/clear</command-name>"},"timestamp":"2026-01-02T03:04:05Z"}`,
		`{"type":"assistant","message":{"role":"assistant","content":[{"type":"thinking","thinking":"hidden"},{"type":"text","text":"Looking."},{"type":"tool_use","id":"toolu_9","name":"Bash","input":{"command":"go test ./..."}}]},"timestamp":"2026-01-02T03:04:06Z"}`,
		`{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_9","content":[{"type":"text","text":"FAIL auth"}],"is_error":true}]},"timestamp":"2026-01-02T03:04:07Z"}`,
		`this line is not json {`,
		`{"type":"brand-new-kind","x":1}`,
		`{"no":"type"}`,
		``,
		`{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Fixed."},{"type":"mystery_block","z":2}]}}`,
		`{"type":"system","subtype":"compact_boundary","content":"Conversation compacted"}`,
		`{"type":"assistant","message":{"role":"assistant","content":"oops, content is a string"}}`,
		`{"type":"user","message":{"role":"user","content":{"not":"an array"}}}`,
	)
	got, es := readAll(t, path, Claude)
	// Lines of unknown type (or no JSON at all) are never shown as they
	// are: the sandbox writes this file. They are counted at the end.
	want := []brief{
		{RoleSystem, "summary: Login fix", "", false},
		{RoleUser, "fix the login", "", false},
		{RoleSystem, "<command-name>/clear</command-name>", "", false},
		{RoleAssistant, "Looking.", "", false},
		{RoleAssistant, `{"command":"go test ./..."}`, "Bash", false},
		{RoleTool, "error: FAIL auth", "Bash", false},
		{RoleAssistant, "Fixed.", "", false},
		{RoleSystem, "Conversation compacted", "", false},
		{RoleAssistant, "oops, content is a string", "", false},
		{RoleSystem, "+1 metadata line, +5 lines of unknown type (assistant/mystery_block, brand-new-kind, unreadable, user) not shown", "", false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n%s", diffBriefs(got, want))
	}
	if w := time.Date(2026, 1, 2, 3, 4, 5, 123e6, time.UTC); !es[1].Time.Equal(w) {
		t.Errorf("time %v, want %v", es[1].Time, w)
	}
	if es[1].Source != path+":3" {
		t.Errorf("source %q", es[1].Source)
	}
}

func diffBriefs(got, want []brief) string {
	var b strings.Builder
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w brief
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		mark := "  "
		if g != w {
			mark = "! "
		}
		b.WriteString(mark + "got  " + strings.ReplaceAll(strings.Join([]string{g.Role, g.Tool, g.Text}, " | "), "\n", `\n`) + "\n")
		if g != w {
			b.WriteString(mark + "want " + strings.ReplaceAll(strings.Join([]string{w.Role, w.Tool, w.Text}, " | "), "\n", `\n`) + "\n")
		}
	}
	return b.String()
}

func TestCodexTranscript(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rollout.jsonl")
	writeLines(t, path,
		`{"timestamp":"2026-01-02T03:04:05Z","type":"session_meta","payload":{"id":"x","cwd":"/w"}}`,
		`{"timestamp":"2026-01-02T03:04:05Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>\n<cwd>/w</cwd>\n</environment_context>"}]}}`,
		`{"timestamp":"2026-01-02T03:04:05Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"fix it"}]}}`,
		`{"timestamp":"2026-01-02T03:04:05Z","type":"event_msg","payload":{"type":"user_message","message":"fix it"}}`,
		`{"timestamp":"2026-01-02T03:04:05Z","type":"turn_context","payload":{"model":"m"}}`,
		`{"timestamp":"2026-01-02T03:04:06Z","type":"response_item","payload":{"type":"reasoning","summary":[]}}`,
		`{"timestamp":"2026-01-02T03:04:06Z","type":"response_item","payload":{"type":"function_call","name":"shell","arguments":"{\"command\":[\"ls\"]}","call_id":"c1"}}`,
		`{"timestamp":"2026-01-02T03:04:07Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"{\"output\":\"a\\nb\",\"metadata\":{}}"}}`,
		`{"timestamp":"2026-01-02T03:04:07Z","type":"response_item","payload":{"type":"local_shell_call","call_id":"c2","action":{"type":"exec","command":["git","status"]}}}`,
		`{"timestamp":"2026-01-02T03:04:08Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Done."}]}}`,
		`{"timestamp":"2026-01-02T03:04:08Z","type":"compacted","payload":{"message":"s"}}`,
		`{"timestamp":"2026-01-02T03:04:09Z","type":"response_item","payload":{"type":"new_item_type"}}`,
		`garbage`,
	)
	got, _ := readAll(t, path, Codex)
	want := []brief{
		{RoleUser, "fix it", "", false},
		{RoleAssistant, `{"command":["ls"]}`, "shell", false},
		{RoleTool, "a\nb", "shell", false},
		{RoleAssistant, "git status", "shell", false},
		{RoleAssistant, "Done.", "", false},
		{RoleSystem, "context compacted", "", false},
		{RoleSystem, "+5 metadata lines, +2 lines of unknown type (response_item/new_item_type, unreadable) not shown", "", false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n%s", diffBriefs(got, want))
	}
}

func TestRunLogTranscript(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "20260102T030405.000Z-run.log")
	writeLines(t, path,
		"git loop run",
		"time: 2026-01-02T03:04:05Z",
		"loop: x",
		"agent: claude",
		"driver: none",
		"prompt: first line",
		"  ",
		"  third line",
		"",
		`{"type":"system","subtype":"init","model":"m1"}`,
		`{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Read","input":{"file_path":"a.go"}}]}}`,
		`{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"package a"}]}}`,
		"plain output",
		"more output",
		`{"looks":"like json but is not the agent's"}`,
		`{"type":"brand_new_event","session_id":"s","uuid":"u","x":1}`,
		`{"type":"result","subtype":"success","num_turns":3}`,
		"[git loop] exit 0 after 1.5s",
	)
	got, es := readAll(t, path, RunLog)
	want := []brief{
		{RoleUser, "first line\n\nthird line", "", false},
		{RoleSystem, "session started (model m1)", "", false},
		{RoleAssistant, `{"file_path":"a.go"}`, "Read", false},
		{RoleTool, "package a", "Read", false},
		{RoleAssistant, "plain output\nmore output\n{\"looks\":\"like json but is not the agent's\"}", "", false},
		{RoleSystem, "result: success, 3 turns", "", false},
		{RoleSystem, "exit 0 after 1.5s", "", false},
		{RoleSystem, "+1 line of unknown type (brand_new_event) not shown", "", false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n%s", diffBriefs(got, want))
	}
	for _, e := range es {
		if !e.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("%q: time %v, want the run's", e.Text, e.Time)
		}
	}
	// A file that is not a run log is shown as text.
	other := filepath.Join(t.TempDir(), "x-run.log")
	writeLines(t, other, "just", "text")
	if got, _ := readAll(t, other, RunLog); !reflect.DeepEqual(got, []brief{{RoleAssistant, "just\ntext", "", false}}) {
		t.Errorf("plain file: %v", got)
	}
}

func TestReadLines(t *testing.T) {
	t.Parallel()
	type line struct {
		n       int
		text    string
		dropped int64
	}
	var got []line
	in := "short\r\n" + strings.Repeat("x", 100) + "\n\nlast no newline"
	err := readLines(strings.NewReader(in), 10, func(n int, b []byte, dropped int64) bool {
		got = append(got, line{n, string(b), dropped})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []line{{1, "short", 0}, {2, "xxxxxxxxxx", 90}, {3, "", 0}, {4, "last no ne", 5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Lines longer than the reader's buffer are whole when they fit.
	big := strings.Repeat("y", 200<<10)
	var lens []int
	_ = readLines(strings.NewReader(big+"\n"+big), 1<<20, func(_ int, b []byte, _ int64) bool {
		lens = append(lens, len(b))
		return true
	})
	if !reflect.DeepEqual(lens, []int{200 << 10, 200 << 10}) {
		t.Errorf("long lines: %v", lens)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
