package logcmd

import (
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/transcript"
	"github.com/gitloop-dev/git-loop/internal/testagents"
)

func TestStreamRenderer(t *testing.T) {
	var out strings.Builder
	r := NewStreamRenderer(&out, iostreams.Colors{})
	in := `{"type":"system","subtype":"init","model":"m"}` + "\n" +
		`{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Hi."},{"type":"tool_use","id":"t","name":"Bash","input":{"command":"ls"}}]}}` + "\n" +
		`{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"a\nb"}]}}` + "\n" +
		"plain {not json}\n" + "no newline"
	// Written in pieces that split lines.
	for len(in) > 0 {
		n := min(7, len(in))
		if _, err := r.Write([]byte(in[:n])); err != nil {
			t.Fatal(err)
		}
		in = in[n:]
	}
	_ = r.Close()
	want := "· session started (model m)\n" +
		"assistant\n" +
		"  Hi.\n" +
		"  → Bash {\"command\":\"ls\"}\n" +
		"  ← Bash: a\n" +
		"    b\n" +
		"plain {not json}\n" +
		"no newline\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestPrinter(t *testing.T) {
	var out strings.Builder
	p := NewPrinter(&out, iostreams.Colors{})
	day := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	long := strings.Repeat("line\n", 12)
	for _, e := range []transcript.Entry{
		{Role: "user", Text: "fix it\n\nplease", Time: day},
		{Role: "assistant", Text: "ok", Time: day.Add(time.Second)},
		{Role: "tool", Text: long},
		{Role: "system", Text: "exit 0", Raw: false},
		{Role: "system", Text: strings.Repeat("r", 300), Raw: true},
		{Role: "user", Text: "next", Time: day.Add(time.Hour)},
	} {
		p.Print(e)
	}
	want := "user  2026-01-02 03:04:05\n  fix it\n\n  please\n\nassistant  03:04:06\n  ok\n  ← line\n" +
		strings.Repeat("    line\n", 7) + "    … 4 more lines\n· exit 0\n· " + strings.Repeat("r", 200) + "…\n\nuser  04:04:05\n  next\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestPrinterFailedLogin: a session the real Claude Code wrote when its
// login was refused prints as the prompt, the error with its next step,
// and one line counting the metadata: no JSON.
func TestPrinterFailedLogin(t *testing.T) {
	var out strings.Builder
	p := NewPrinter(&out, iostreams.Colors{})
	transcript.ReadFile("../../../gitloop/transcript/testdata/claude-"+testagents.ClaudeVersion+"-auth-error.jsonl", transcript.Claude, func(e transcript.Entry, err error) bool {
		if err != nil {
			t.Fatal(err)
		}
		p.Print(e)
		return true
	})
	got := out.String()
	for _, want := range []string{"user", "  What does notes.txt say?", "✗ error: Invalid API key", `  → Claude Code has no valid login in this loop: set a key in the loop's vault ("git loop vault set ANTHROPIC_API_KEY"`, "· +19 metadata lines not shown"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"type"`) || strings.Count(got, "\n") > 8 {
		t.Errorf("raw or long output:\n%s", got)
	}
}
