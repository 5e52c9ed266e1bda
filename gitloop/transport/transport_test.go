package transport_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// source is a repository standing for a loop's clone: main, a feature
// branch and an annotated tag.
func source(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	gittest.Git(t, "", "init", "-q", dir)
	gittest.WriteFile(t, dir, "a.txt", "a\n")
	gittest.Commit(t, dir, "one")
	gittest.Git(t, dir, "branch", "feature")
	gittest.WriteFile(t, dir, "b.txt", "b\n")
	gittest.Commit(t, dir, "two")
	gittest.Git(t, dir, "tag", "-a", "-m", "v1", "v1")
	return dir
}

func host(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "host.git")
	gittest.Git(t, "", "init", "-q", "--bare", dir)
	return dir
}

// engineEnv is what the test helper reads: which engine, which spec.
func engineEnv(t testing.TB, engine string, spec sandbox.Spec) []string {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return []string{envEngine + "=" + engine, envSpec + "=" + string(b)}
}

func localEnv(t *testing.T, dir string) []string {
	return engineEnv(t, "none", sandbox.Spec{Workspace: "ttransport", Loop: "x", Workdir: dir})
}

func refs(t *testing.T, dir, prefix string) string {
	t.Helper()
	out := gittest.Git(t, dir, "for-each-ref", "--format=%(objectname) %(objecttype) %(refname)", prefix)
	return strings.ReplaceAll(out, prefix, "")
}

var allRefs = func(name string) []string {
	q := transport.Quarantine(name)
	return []string{"+refs/heads/*:" + q + "heads/*", "+refs/tags/*:" + q + "tags/*"}
}

// extAllowed lets git use ext:: for this fetch only: the comparison's
// floor, never allowed outside tests.
var extAllowed = []string{"protocol.ext.allow=always"}

func TestSameRefsAsExt(t *testing.T) {
	t.Parallel()
	src, h := source(t), host(t)
	r := &git.Runner{}
	if _, err := transport.Fetch(t.Context(), r, transport.FetchOptions{GitDir: h, Name: "x", Refspecs: allRefs("x"), Env: localEnv(t, src)}); err != nil {
		t.Fatal(err)
	}
	if _, err := transport.Fetch(t.Context(), r, transport.FetchOptions{GitDir: h, Name: "y", Refspecs: allRefs("y"),
		Remote: "ext::git %s " + src, Config: extAllowed}); err != nil {
		t.Fatal(err)
	}
	viaHelper, viaExt := refs(t, h, "refs/gitloop/x/"), refs(t, h, "refs/gitloop/y/")
	if viaHelper != viaExt || viaHelper == "" {
		t.Errorf("refs through gitloop::\n%s\nthrough ext::\n%s", viaHelper, viaExt)
	}
	if want := refs(t, src, "refs/"); viaHelper != want {
		t.Errorf("refs through gitloop::\n%s\nin the source\n%s", viaHelper, want)
	}
	if got := gittest.Git(t, h, "for-each-ref", "refs/heads", "refs/tags"); got != "" {
		t.Errorf("the fetch moved refs outside the quarantine:\n%s", got)
	}
}

func TestFastForwardOnly(t *testing.T) {
	t.Parallel()
	src, h := source(t), host(t)
	r := &git.Runner{}
	opts := transport.FetchOptions{GitDir: h, Name: "x", SourceBranch: "refs/heads/main", Branch: "refs/heads/loop/x", Env: localEnv(t, src)}
	res, err := transport.Fetch(t.Context(), r, opts)
	if err != nil || !res.Moved || res.Old != "" {
		t.Fatalf("first fetch: %+v, %v; want loop/x created", res, err)
	}
	first := res.New
	gittest.WriteFile(t, src, "c.txt", "c\n")
	second := gittest.Commit(t, src, "three")
	res, err = transport.Fetch(t.Context(), r, opts)
	if err != nil || !res.Moved || res.Old != first || res.New != second {
		t.Fatalf("fetch of a new commit: %+v, %v; want %s..%s", res, err, first, second)
	}
	if res, err = transport.Fetch(t.Context(), r, opts); err != nil || res.Moved {
		t.Fatalf("fetch with nothing new: %+v, %v", res, err)
	}
	// The sandbox rewrites its history: reported, not applied.
	gittest.Git(t, src, "commit", "-q", "--amend", "-m", "rewritten")
	res, err = transport.Fetch(t.Context(), r, opts)
	if err != nil || !res.Rewritten || res.Moved {
		t.Fatalf("fetch of a rewrite: %+v, %v; want it reported and not applied", res, err)
	}
	if got := gittest.Git(t, h, "rev-parse", "loop/x"); got != second {
		t.Errorf("loop/x is %s after a rewrite, want it kept at %s", got, second)
	}
}

// corrupt makes src's main a commit git can pack but fsck refuses (a
// malformed author date).
func corrupt(t *testing.T, src string) string {
	t.Helper()
	tree := gittest.Git(t, src, "rev-parse", "HEAD^{tree}")
	parent := gittest.Git(t, src, "rev-parse", "HEAD")
	body := "tree " + tree + "\nparent " + parent + "\nauthor Evil <evil@example.com> notadate +0000\ncommitter Evil <evil@example.com> 1700000000 +0000\n\nbad\n"
	cmd := exec.Command("git", "hash-object", "--literally", "-t", "commit", "-w", "--stdin")
	cmd.Dir, cmd.Stdin = src, strings.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.TrimSpace(string(out))
	gittest.Git(t, src, "update-ref", "refs/heads/main", bad)
	return bad
}

func TestFsckRefusesCorruptObjects(t *testing.T) {
	t.Parallel()
	src, h := source(t), host(t)
	bad := corrupt(t, src)
	// Without fsck the same objects come through: fsck is what stops them.
	plain := host(t)
	gittest.Git(t, plain, "-c", "protocol.ext.allow=always", "-c", "transfer.fsckObjects=false", "fetch", "-q", "ext::git %s "+src, "main:refs/x")
	if got := gittest.Git(t, plain, "rev-parse", "refs/x"); got != bad {
		t.Fatalf("the corrupt commit did not come through an unchecked fetch: %s", got)
	}
	_, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: h, Name: "x", SourceBranch: "refs/heads/main", Branch: "refs/heads/loop/x", Env: localEnv(t, src)})
	if err == nil || !strings.Contains(err.Error(), "badDate") {
		t.Fatalf("fetch of a corrupt commit: %v; want fsck's badDate", err)
	}
	if got := gittest.Git(t, h, "for-each-ref"); got != "" {
		t.Errorf("refs after a refused fetch:\n%s", got)
	}
	if ok := exec.Command("git", "-C", h, "cat-file", "-e", bad).Run() == nil; ok {
		t.Errorf("the corrupt commit %s is in the host's object store", bad)
	}
}

func TestSizeCap(t *testing.T) {
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
	start := time.Now()
	_, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: h, Name: "x", SourceBranch: "refs/heads/main",
		Branch: "refs/heads/loop/x", Env: localEnv(t, src), Limits: transport.Limits{MaxBytes: 256 << 10, Timeout: time.Minute}})
	if err == nil || !strings.Contains(err.Error(), "size cap") {
		t.Fatalf("fetch of a 1 MB pack with a 256 KB cap: %v; want the cap named", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the cap took %s to stop the fetch", d)
	}
	if got := gittest.Git(t, h, "for-each-ref"); got != "" {
		t.Errorf("refs after a capped fetch:\n%s", got)
	}
	// The same fetch under the cap's default goes through.
	if _, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: h, Name: "x", SourceBranch: "refs/heads/main",
		Branch: "refs/heads/loop/x", Env: localEnv(t, src)}); err != nil {
		t.Fatal(err)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	h := host(t)
	start := time.Now()
	_, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: h, Name: "x", SourceBranch: "refs/heads/main",
		Branch: "refs/heads/loop/x", Env: engineEnv(t, "hang", sandbox.Spec{Workspace: "ttransport", Loop: "x", Workdir: t.TempDir()}),
		Limits: transport.Limits{MaxBytes: 1 << 20, Timeout: time.Second}})
	if err == nil {
		t.Fatal("fetch from a server that never answers succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a 1 s timeout stopped the fetch after %s", d)
	}
	if !strings.Contains(err.Error(), "after 1s") {
		t.Errorf("error %v does not say the fetch timed out", err)
	}
}

// TestPushInto is how host-side moves go in: a push, received by the
// sandbox's own git, onto a side ref.
func TestPushInto(t *testing.T) {
	t.Parallel()
	src := source(t)
	work := filepath.Join(t.TempDir(), "host")
	gittest.Git(t, "", "clone", "-q", src, work)
	gittest.WriteFile(t, work, "h.txt", "host\n")
	sha := gittest.Commit(t, work, "from the host")
	cmd := exec.Command("git", "-c", "protocol.gitloop.allow=always", "push", "-q", transport.URL("x"), "HEAD:refs/gitloop/incoming")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), localEnv(t, src)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if got := gittest.Git(t, src, "rev-parse", "refs/gitloop/incoming"); got != sha {
		t.Errorf("side ref in the sandbox's clone: %s, want %s", got, sha)
	}
}

func TestServeRefuses(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := transport.Serve(t.Context(), strings.NewReader("capabilities\nconnect git-upload-archive\n"), &out, nil, transport.Target{}, transport.Limits{})
	if out.String() != "connect\n\n" {
		t.Errorf("capabilities answered %q", out.String())
	}
	if err == nil || !strings.Contains(err.Error(), "git-upload-archive") {
		t.Errorf("connect to upload-archive: %v", err)
	}
	if err := transport.Serve(t.Context(), strings.NewReader("option verbosity 1\n"), &out, nil, transport.Target{}, transport.Limits{}); err == nil {
		t.Error("an unknown command was accepted")
	}
}

func TestRefspecsStayInQuarantine(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"+refs/heads/*:refs/heads/*", "main:refs/gitloop/y/head", "+refs/heads/main:refs/gitloop/x/../../heads/main"} {
		_, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: host(t), Name: "x", Refspecs: []string{spec}})
		if err == nil || errors.Is(err, os.ErrNotExist) {
			t.Errorf("refspec %s: %v; want it refused", spec, err)
		}
	}
}

// TestKilledFetch: a fetch cut short (the user's Ctrl-C, a kill) leaves
// the host's branch and quarantine as they were.
func TestKilledFetch(t *testing.T) {
	t.Parallel()
	src, h := source(t), host(t)
	if _, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: h, Name: "x", SourceBranch: "refs/heads/main",
		Branch: "refs/heads/loop/x", Env: localEnv(t, src)}); err != nil {
		t.Fatal(err)
	}
	before := gittest.Git(t, h, "for-each-ref")
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := transport.Fetch(ctx, &git.Runner{}, transport.FetchOptions{GitDir: h, Name: "x", SourceBranch: "refs/heads/main",
		Branch: "refs/heads/loop/x", Env: engineEnv(t, "hang", sandbox.Spec{Workspace: "ttransport", Loop: "x", Workdir: t.TempDir()})})
	if err == nil {
		t.Fatal("a cancelled fetch succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the cancel took %s to stop the fetch", d)
	}
	if after := gittest.Git(t, h, "for-each-ref"); after != before {
		t.Errorf("refs after a killed fetch:\n%s\nbefore:\n%s", after, before)
	}
}
