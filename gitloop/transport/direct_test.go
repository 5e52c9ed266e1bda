package transport_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/none"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// A Direct fetch is served from the test process itself (git's fd::
// helper over two pipes): the same refs as through git-remote-gitloop and
// ext::, fsck, the size cap and the timeout, and a rewrite left in
// quarantine.

func direct(dir string) *transport.Target {
	return &transport.Target{Engine: none.New(), Spec: sandbox.Spec{Workspace: "ttransport", Loop: "x", Workdir: dir}, Dir: dir}
}

func TestDirectSameRefs(t *testing.T) {
	t.Parallel()
	src, h := source(t), host(t)
	r := &git.Runner{}
	if _, err := transport.Fetch(t.Context(), r, transport.FetchOptions{GitDir: h, Name: "x", Refspecs: allRefs("x"), Direct: direct(src)}); err != nil {
		t.Fatal(err)
	}
	if _, err := transport.Fetch(t.Context(), r, transport.FetchOptions{GitDir: h, Name: "y", Refspecs: allRefs("y"), Env: localEnv(t, src)}); err != nil {
		t.Fatal(err)
	}
	viaDirect, viaHelper := refs(t, h, "refs/gitloop/x/"), refs(t, h, "refs/gitloop/y/")
	if viaDirect != viaHelper || viaDirect == "" {
		t.Errorf("refs served directly:\n%s\nthrough git-remote-gitloop:\n%s", viaDirect, viaHelper)
	}
}

func TestDirectFastForwardAndSnapshot(t *testing.T) {
	t.Parallel()
	src, h := source(t), host(t)
	gittest.WriteFile(t, src, "wip.txt", "uncommitted\n")
	opts := transport.FetchOptions{GitDir: h, Name: "x", SourceBranch: "refs/heads/main", Branch: "refs/heads/loop/x",
		Extra: []string{"+refs/gitloop/*:" + transport.Quarantine("x") + "side/*"}, Direct: direct(src), Snapshot: true}
	res, err := transport.Fetch(t.Context(), &git.Runner{}, opts)
	if err != nil || !res.Moved {
		t.Fatalf("fetch: %+v, %v", res, err)
	}
	if got, want := gittest.Git(t, h, "rev-parse", "loop/x"), gittest.Git(t, src, "rev-parse", "main"); got != want {
		t.Errorf("loop/x %s, want %s", got, want)
	}
	if got := gittest.Git(t, h, "show", transport.SnapshotQuarantine("x")+":wip.txt"); got != "uncommitted" {
		t.Errorf("the snapshot's wip.txt: %q", got)
	}
	// Once committed, the tree is clean: the snapshot goes, inside and in
	// the quarantine.
	gittest.Commit(t, src, "wip")
	if _, err := transport.Fetch(t.Context(), &git.Runner{}, opts); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, src, "for-each-ref", transport.SnapshotRef); got != "" {
		t.Errorf("the snapshot ref inside after a clean fetch: %s", got)
	}
	if got := gittest.Git(t, h, "for-each-ref", transport.SnapshotQuarantine("x")); got != "" {
		t.Errorf("the snapshot in quarantine after a clean fetch: %s", got)
	}
	// A rewrite inside is left in quarantine.
	gittest.Git(t, src, "reset", "-q", "--hard", "HEAD~1")
	gittest.WriteFile(t, src, "c.txt", "c\n")
	gittest.Commit(t, src, "rewritten")
	res, err = transport.Fetch(t.Context(), &git.Runner{}, opts)
	if err != nil || res.Moved || !res.Rewritten {
		t.Errorf("fetch of a rewrite: %+v, %v", res, err)
	}
}

func TestDirectFsck(t *testing.T) {
	t.Parallel()
	src, h := source(t), host(t)
	corrupt(t, src)
	_, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: h, Name: "x", SourceBranch: "refs/heads/main", Branch: "refs/heads/loop/x", Direct: direct(src)})
	if err == nil || !strings.Contains(err.Error(), "badDate") {
		t.Fatalf("fetch of a corrupt commit: %v; want fsck's badDate", err)
	}
	if got := gittest.Git(t, h, "for-each-ref"); got != "" {
		t.Errorf("refs after a refused fetch:\n%s", got)
	}
}

func TestDirectSizeCap(t *testing.T) {
	t.Parallel()
	src, h := source(t), host(t)
	big := make([]byte, 1<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Commit(t, src, "big")
	_, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: h, Name: "x", SourceBranch: "refs/heads/main",
		Branch: "refs/heads/loop/x", Direct: direct(src), Limits: transport.Limits{MaxBytes: 256 << 10, Timeout: time.Minute}})
	if err == nil || !strings.Contains(err.Error(), "size cap") {
		t.Fatalf("fetch of a 1 MB pack with a 256 KB cap: %v; want the cap named", err)
	}
	if got := gittest.Git(t, h, "for-each-ref"); got != "" {
		t.Errorf("refs after a capped fetch:\n%s", got)
	}
}

func TestDirectTimeout(t *testing.T) {
	t.Parallel()
	h := host(t)
	hang := &sandboxtest.Fake{ExecFunc: func(ctx context.Context, _ sandbox.Spec, _ sandbox.Exec) (int, error) {
		<-ctx.Done()
		return 130, ctx.Err()
	}}
	start := time.Now()
	_, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: h, Name: "x", SourceBranch: "refs/heads/main",
		Branch: "refs/heads/loop/x", Direct: &transport.Target{Engine: hang, Spec: sandbox.Spec{Workspace: "ttransport", Loop: "x"}, Dir: t.TempDir()},
		Limits: transport.Limits{MaxBytes: 1 << 20, Timeout: time.Second}})
	if err == nil || !strings.Contains(err.Error(), "after 1s") {
		t.Fatalf("fetch from a server that never answers: %v; want the timeout named", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a 1 s timeout stopped the fetch after %s", d)
	}
}
