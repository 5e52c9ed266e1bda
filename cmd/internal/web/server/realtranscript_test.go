package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/web/server"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/internal/testagents"
)

// TestRealTranscriptPage: the transcript page renders a session the real
// Claude Code wrote when its login was refused (the fixture in
// gitloop/transcript/testdata) as git loop log does: the prompt, the
// failure as an error with its next step, metadata counted, no raw line.
func TestRealTranscriptPage(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "gitloop", "transcript", "testdata", "claude-"+testagents.ClaudeVersion+"-auth-error.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, filepath.Join(fx.ws.AgentDir("gamma"), "projects", "-work"), "s.jsonl", string(b))
	h := fx.handler(t, server.Options{})
	r := get(t, h, "/loops/gamma/transcript")
	if r.code != http.StatusOK {
		t.Fatalf("GET: %d\n%s", r.code, r.body)
	}
	for _, want := range []string{"What does notes.txt say?", `class="msg error"`, "Invalid API key", "git loop vault set ANTHROPIC_API_KEY", "metadata lines not shown"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("transcript page lacks %q", want)
		}
	}
	for _, bad := range []string{"sessionId", "api-request", "queue-operation", ">raw<"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("transcript page shows %q", bad)
		}
	}
}
