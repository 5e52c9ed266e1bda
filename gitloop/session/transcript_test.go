package session

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
	"github.com/gitloop-dev/git-loop/gitloop/transcript"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// TestTranscriptSources: the agent's newest session when it keeps some
// (all of them with All), else the run logs; stopping early is honoured.
func TestTranscriptSources(t *testing.T) {
	t.Parallel()
	svc, _ := agentService(t)
	ctx := context.Background()
	m, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "t", Driver: "none"})
	if err != nil {
		t.Fatal(err)
	}
	texts := func(opts transcript.Options) []string {
		var out []string
		for e, err := range TranscriptOf(svc, "t", opts) {
			if err != nil {
				t.Fatal(err)
			}
			if e.Role == transcript.RoleUser {
				out = append(out, e.Text)
			}
		}
		return out
	}
	if got := texts(transcript.Options{}); got != nil {
		t.Errorf("no transcript yet: %v", got)
	}
	generic := fakeAgent(t, "fake-generic")
	for _, p := range []string{"one", "two"} {
		if _, err := RunWith(ctx, svc, RunOptions{Name: "t", Prompt: p, Agent: generic}); err != nil {
			t.Fatal(err)
		}
	}
	if got := texts(transcript.Options{}); !reflect.DeepEqual(got, []string{"one", "two"}) {
		t.Errorf("run logs: %v", got)
	}
	claude := fakeAgent(t, "claude")
	for _, p := range []string{"three", "four"} {
		if _, err := RunWith(ctx, svc, RunOptions{Name: "t", Prompt: p, Agent: claude}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // distinct modification times
	}
	if got := texts(transcript.Options{}); !reflect.DeepEqual(got, []string{"four"}) {
		t.Errorf("claude, newest session: %v", got)
	}
	if got := texts(transcript.Options{All: true}); !reflect.DeepEqual(got, []string{"three", "four"}) {
		t.Errorf("claude, all sessions: %v", got)
	}
	n := 0
	for range Transcript(svc, "t") {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break: %d", n)
	}
	for _, err := range Transcript(svc, "nope") {
		if _, ok := err.(*workspace.NotFoundError); !ok {
			t.Errorf("unknown loop: %v", err)
		}
	}
	_ = m
}
