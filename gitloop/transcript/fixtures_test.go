package transcript

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/internal/testagents"
)

// TestRealClientFixtures reads the session files the real clients wrote
// (testdata/, see realclient_test.go) as "git loop log" shows them: the
// conversation only, metadata counted, and a failed login as an error
// naming the next step. No raw line comes through.
func TestRealClientFixtures(t *testing.T) {
	t.Parallel()
	const note = "The note says: hello from the fixture."
	claude, codex := "testdata/claude-"+testagents.ClaudeVersion, "testdata/codex-"+testagents.CodexVersion
	for _, tc := range []struct {
		file   string
		format Format
		want   []brief
		hint   string // the next step the error entry names
	}{
		{claude + "-conversation.jsonl", Claude, []brief{
			{RoleUser, "What does notes.txt say?", "", false},
			{RoleAssistant, "Reading the note.", "", false},
			{RoleAssistant, `{"file_path":"/fixture/work/notes.txt"}`, "Read", false},
			{RoleTool, "1\thello from the fixture\n2\t", "Read", false},
			{RoleAssistant, note, "", false},
			{RoleSystem, "+22 metadata lines not shown", "", false},
		}, ""},
		{claude + "-auth-error.jsonl", Claude, []brief{
			{RoleUser, "What does notes.txt say?", "", false},
			{RoleSystem, "error: Invalid API key · Fix external API key", "", false},
			{RoleSystem, "+19 metadata lines not shown", "", false},
		}, "git loop vault set ANTHROPIC_API_KEY"},
		{claude + "-conversation.stream.jsonl", Claude, []brief{
			{RoleSystem, "session started (model claude-opus-5-5)", "", false},
			{RoleAssistant, "Reading the note.", "", false},
			{RoleAssistant, `{"file_path":"/fixture/work/notes.txt"}`, "Read", false},
			{RoleTool, "1\thello from the fixture\n2\t", "Read", false},
			{RoleAssistant, note, "", false},
			{RoleSystem, "result: success, 2 turns", "", false},
		}, ""},
		{claude + "-auth-error.stream.jsonl", Claude, []brief{
			{RoleSystem, "session started (model claude-opus-5-5)", "", false},
			{RoleSystem, "error: Invalid API key · Fix external API key", "", false},
			{RoleSystem, "run failed (the error above)", "", false},
		}, "git loop vault set ANTHROPIC_API_KEY"},
		{codex + "-conversation.jsonl", Codex, []brief{
			{RoleUser, "What does notes.txt say?", "", false},
			{RoleAssistant, "Reading the note.", "", false},
			{RoleAssistant, `{"cmd":"cat /fixture/work/notes.txt"}`, "exec_command", false},
			{RoleTool, "hello from the fixture\n", "exec_command", false},
			{RoleAssistant, note, "", false},
			{RoleSystem, "+16 metadata lines not shown", "", false},
		}, ""},
		{codex + "-auth-error.jsonl", Codex, []brief{
			{RoleUser, "What does notes.txt say?", "", false},
			{RoleSystem, "error: unexpected status 401 Unauthorized: Incorrect API key provided: sk-fake. You can find your API key at the platform's API keys page.", "", false},
			{RoleSystem, "+8 metadata lines not shown", "", false},
		}, "git loop vault set OPENAI_API_KEY"},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			got, es := readAll(t, tc.file, tc.format)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("entries:\n%s", diffBriefs(got, tc.want))
			}
			var errs []Entry
			for _, e := range es {
				if e.Error {
					errs = append(errs, e)
				}
				if strings.Contains(e.Text, `"type":`) {
					t.Errorf("a raw line came through: %.200s", e.Text)
				}
			}
			switch {
			case tc.hint == "" && len(errs) > 0:
				t.Errorf("error entries in a run that did not fail: %v", errs)
			case tc.hint != "" && (len(errs) != 1 || !strings.Contains(errs[0].Hint, tc.hint)):
				t.Errorf("want one error naming %q, got %+v", tc.hint, errs)
			}
		})
	}
}

// TestRunLogOfFailedLogin: a run log holding the stream of a run whose
// login failed reads as the prompt, then the error with its next step.
func TestRunLogOfFailedLogin(t *testing.T) {
	t.Parallel()
	stream := readFile(t, "testdata/claude-"+testagents.ClaudeVersion+"-auth-error.stream.jsonl")
	path := filepath.Join(t.TempDir(), "x-run.log")
	writeLines(t, path, "git loop run", "time: 2026-01-02T03:04:05Z", "loop: x", "agent: claude", "driver: none", "prompt: hi", "",
		strings.TrimRight(stream, "\n"), "[git loop] exit 1 after 2s")
	got, es := readAll(t, path, RunLog)
	want := []brief{
		{RoleUser, "hi", "", false},
		{RoleSystem, "session started (model claude-opus-5-5)", "", false},
		{RoleSystem, "error: Invalid API key · Fix external API key", "", false},
		{RoleSystem, "run failed (the error above)", "", false},
		{RoleSystem, "exit 1 after 2s", "", false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n%s", diffBriefs(got, want))
	}
	if !es[2].Error || !strings.Contains(es[2].Hint, "ANTHROPIC_API_KEY") {
		t.Errorf("error entry %+v", es[2])
	}
}
