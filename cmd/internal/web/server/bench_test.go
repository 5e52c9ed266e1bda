package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/web/server"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// BenchmarkLoopsPage renders the loops page of a repository with 200
// loops and reports the median server time per request (the target is
// 50 ms).
func BenchmarkLoopsPage(b *testing.B) {
	repo := gittest.Repo(b)
	env := cmdtest.Options{Env: map[string]string{"GIT_LOOP_HOME": b.TempDir()}}
	for i := range 200 {
		if r := cmdtest.RunWith(b, repo, env, "new", fmt.Sprintf("loop-%03d", i), "--driver", "none", "--detach"); r.Code != 0 {
			b.Fatalf("new: %s", r.Stderr)
		}
	}
	ws := service(b, repo, env.Env)
	h, err := server.New(server.Options{Workspace: ws})
	if err != nil {
		b.Fatal(err)
	}
	if r := get(b, h, "/"); r.code != 200 || strings.Count(r.body, "data-loop=") != 200 {
		b.Fatalf("loops page: %d, %d rows", r.code, strings.Count(r.body, "data-loop="))
	}
	median := func(b *testing.B, target string) {
		var times []time.Duration
		for b.Loop() {
			start := time.Now()
			if r := get(b, h, target); r.code != 200 {
				b.Fatal(r.code)
			}
			times = append(times, time.Since(start))
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
	}
	// The page, and for scale the JSON of the same List call (git loop ls
	// --json's work).
	b.Run("page", func(b *testing.B) { median(b, "/") })
	b.Run("rows", func(b *testing.B) { median(b, "/loops/rows") })
	b.Run("api", func(b *testing.B) { median(b, "/api/loops") })
}

// discard is a ResponseWriter that keeps nothing, so the server's own
// memory is what gets measured.
type discard struct {
	h http.Header
	n atomic.Int64
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { d.n.Add(int64(len(p))); return len(p), nil }

// hugeTranscript writes a Claude session of about size bytes for the
// fixture's loop alpha.
func hugeTranscript(t testing.TB, fx *fixture, size int) {
	t.Helper()
	session := filepath.Join(fx.ws.AgentDir("alpha"), "projects", "-work", "s1.jsonl")
	f, err := os.Create(session)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blob := strings.Repeat("lorem ipsum dolor sit amet ", 60)
	written := 0
	for i := 0; written < size; i++ {
		n, err := fmt.Fprintf(f, "%s\n%s\n%s\n",
			claudeLine("user", fmt.Sprintf(`"question %d: %s"`, i, blob)),
			claudeLine("assistant", fmt.Sprintf(`[{"type":"text","text":"answer %d: %s"},{"type":"tool_use","id":"t%d","name":"Bash","input":{"command":"ls"}}]`, i, blob, i)),
			claudeLine("user", fmt.Sprintf(`[{"type":"tool_result","tool_use_id":"t%d","content":"%s"}]`, i, blob)))
		if err != nil {
			t.Fatal(err)
		}
		written += n
	}
}

// peakHeap serves target and returns the peak growth of live heap
// objects over the baseline while it ran, and the bytes served.
func peakHeap(t testing.TB, h http.Handler, target string) (growth uint64, served int64) {
	t.Helper()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+target, nil)
	authCookie(req)
	req.Host = "127.0.0.1:8080"
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, req)
	close(stop)
	wg.Wait()
	if p := peak.Load(); p > base {
		growth = p - base
	}
	return growth, w.n.Load()
}

// TestHugeTranscriptMemory serves a 50 MB transcript whole (JSON lines)
// and by pages, and checks the heap grows by less than 50 MB.
func TestHugeTranscriptMemory(t *testing.T) {
	sandboxtest.Long(t, "writes a 50 MB transcript")
	fx := newFixture(t)
	hugeTranscript(t, fx, 50<<20)
	h := fx.handler(t, server.Options{})
	for _, target := range []string{"/api/loops/alpha/transcript", "/loops/alpha/transcript?page=200", "/loops/alpha/transcript?page=last", "/loops/alpha"} {
		start := time.Now()
		growth, served := peakHeap(t, h, target)
		t.Logf("%s: served %.1f MB in %v, peak heap growth %.1f MB", target, float64(served)/(1<<20), time.Since(start).Round(time.Millisecond), float64(growth)/(1<<20))
		if growth >= 50<<20 {
			t.Errorf("%s: heap grew by %d MB (limit 50 MB)", target, growth>>20)
		}
		if served == 0 {
			t.Errorf("%s: nothing served", target)
		}
	}
}

// BenchmarkHugeTranscript serves the 50 MB transcript as JSON lines and
// reports time and peak heap growth.
func BenchmarkHugeTranscript(b *testing.B) {
	fx := newFixture(b)
	hugeTranscript(b, fx, 50<<20)
	h := fx.handler(b, server.Options{})
	var peak uint64
	for b.Loop() {
		g, _ := peakHeap(b, h, "/api/loops/alpha/transcript")
		peak = max(peak, g)
	}
	b.ReportMetric(float64(peak)/(1<<20), "MB-peak-heap-growth")
}
