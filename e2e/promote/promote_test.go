package promotee2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/land"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

func (e *env) meta(name string) state.Meta {
	e.T.Helper()
	data, err := os.ReadFile(filepath.Join(e.Repo, ".git", "loop", "host", name, "meta.json"))
	if err != nil {
		e.T.Fatal(err)
	}
	var m state.Meta
	if err := json.Unmarshal(data, &m); err != nil {
		e.T.Fatal(err)
	}
	return m
}

func TestPromoteAbsorbsRemoteChange(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.newLoop("n1")
	origin := e.Origin("notes")
	// A teammate pushes after the loop started.
	mate := teammate(t, origin)
	gittest.WriteFile(t, mate, "team.md", "from the team\n")
	gittest.Commit(t, mate, "team")
	push(t, mate)

	gittest.WriteFile(t, e.Context("n1", "notes"), "mine.md", "from the loop\n")
	mine := gittest.Commit(t, e.Context("n1", "notes"), "mine")
	if got := e.Loops()["n1"].Unpromoted; !reflect.DeepEqual(got, []string{"notes"}) {
		t.Errorf("unpromoted before promote = %v", got)
	}
	r := e.OK("promote", "n1", "--layer", "notes", "-v")
	if !strings.Contains(r.Stdout, "notes") || !strings.Contains(r.Stdout, "landed on origin/main") {
		t.Errorf("promote output:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "git merge") || !strings.Contains(r.Stderr, "git push") {
		t.Errorf("mutating git not logged:\n%s", r.Stderr)
	}
	if show(t, origin, "team.md") == "" || show(t, origin, "mine.md") == "" {
		t.Errorf("origin main lacks one side")
	}
	if !isAncestor(t, origin, mine, "main") {
		t.Errorf("the loop's commit is not on origin main")
	}
	if b := branches(t, origin); !reflect.DeepEqual(b, []string{"refs/heads/main"}) {
		t.Errorf("origin branches %v", b)
	}
	if got := e.Loops()["n1"].Unpromoted; len(got) != 0 {
		t.Errorf("unpromoted after promote = %v", got)
	}
	// Again: nothing left to do.
	if r := e.OK("promote", "n1", "--layer", "notes"); !strings.Contains(r.Stdout, "nothing to promote") {
		t.Errorf("second promote:\n%s", r.Stdout)
	}
}

func TestPromoteDeletionPropagates(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.newLoop("d1")
	origin := e.Origin("notes")
	if show(t, origin, "memory/MEMORY.md") == "" {
		t.Fatal("seed lacks memory/MEMORY.md")
	}
	mate := teammate(t, origin)
	gittest.WriteFile(t, mate, "other.md", "x\n")
	gittest.Commit(t, mate, "other")
	push(t, mate)
	if err := os.Remove(filepath.Join(e.Context("d1", "notes"), "memory", "MEMORY.md")); err != nil {
		t.Fatal(err)
	}
	// -a commits the deletion.
	e.OK("promote", "d1", "--layer", "notes", "-a", "-m", "drop team memory")
	if show(t, origin, "memory/MEMORY.md") != "" {
		t.Errorf("deleted file still on origin main")
	}
	if show(t, origin, "other.md") == "" {
		t.Errorf("the teammate's file was lost")
	}
}

func TestPromoteTwoLoopsAndConflict(t *testing.T) {
	t.Parallel()
	e := setup(t)
	origin := e.Origin("notes")
	mate := teammate(t, origin)
	gittest.WriteFile(t, mate, "shared.md", "line one\nline two\n")
	gittest.Commit(t, mate, "shared")
	push(t, mate)
	for _, n := range []string{"a", "b"} {
		e.newLoop(n)
	}
	// Different files: both land.
	gittest.WriteFile(t, e.Context("a", "notes"), "a.md", "a\n")
	ca := gittest.Commit(t, e.Context("a", "notes"), "a")
	gittest.WriteFile(t, e.Context("b", "notes"), "b.md", "b\n")
	cb := gittest.Commit(t, e.Context("b", "notes"), "b")
	e.OK("promote", "a", "--layer", "notes")
	e.OK("promote", "b", "--layer", "notes")
	if !isAncestor(t, origin, ca, "main") || !isAncestor(t, origin, cb, "main") {
		t.Fatalf("one of two loops lost")
	}

	// Same lines: the second stops on the conflict.
	gittest.WriteFile(t, e.Context("a", "notes"), "shared.md", "line one by a\nline two\n")
	ca = gittest.Commit(t, e.Context("a", "notes"), "a edits")
	e.OK("promote", "a", "--layer", "notes")
	bdir := e.Context("b", "notes")
	before := gittest.Git(t, bdir, "rev-parse", "HEAD")
	gittest.WriteFile(t, bdir, "shared.md", "line one by b\nline two\n")
	r := e.Run("promote", "b", "--layer", "notes", "-a", "-m", "b edits")
	if r.Code != 4 || !strings.Contains(r.Stderr, "shared.md") || !strings.Contains(r.Stderr, "--continue") {
		t.Fatalf("conflict: exit %d\n%s", r.Code, r.Stderr)
	}
	if gittest.Git(t, bdir, "rev-parse", "-q", "--verify", "MERGE_HEAD") == "" {
		t.Errorf("no merge in progress in %s", bdir)
	}
	if _, err := os.Stat(filepath.Join(e.Repo, ".git", "loop", "host", "b", "run.json")); err != nil {
		t.Errorf("run state not saved: %v", err)
	}
	// Another promote refuses while one is stopped.
	if r := e.Run("promote", "b"); r.Code != 2 {
		t.Errorf("promote over a stopped one: %d %s", r.Code, r.Stderr)
	}
	// --abort restores the loop exactly: HEAD, and the uncommitted edit.
	e.OK("promote", "b", "--abort")
	if got := gittest.Git(t, bdir, "rev-parse", "HEAD"); got != before {
		t.Errorf("HEAD after abort %s, want %s", got, before)
	}
	if st := strings.TrimSpace(gittest.Git(t, bdir, "status", "--porcelain")); st != "M shared.md" {
		t.Errorf("status after abort %q", st)
	}
	if data, _ := os.ReadFile(filepath.Join(bdir, "shared.md")); string(data) != "line one by b\nline two\n" {
		t.Errorf("shared.md after abort %q", data)
	}

	// Again, then resolve (without git add) and --continue: both sides land.
	if r := e.Run("promote", "b", "--layer", "notes", "-a", "-m", "b edits"); r.Code != 4 {
		t.Fatalf("second conflict: %d %s", r.Code, r.Stderr)
	}
	if r := e.Run("promote", "b", "--continue"); r.Code != 4 || !strings.Contains(r.Stderr, "shared.md") {
		t.Errorf("continue with markers left: %d %s", r.Code, r.Stderr)
	}
	gittest.WriteFile(t, bdir, "shared.md", "line one by a and b\nline two\n")
	e.OK("promote", "b", "--continue")
	if got := show(t, origin, "shared.md"); got != "line one by a and b\nline two\n" {
		t.Errorf("origin shared.md %q", got)
	}
	if !isAncestor(t, origin, ca, "main") || !isAncestor(t, origin, gittest.Git(t, bdir, "rev-parse", "HEAD"), "main") {
		t.Errorf("a side is missing from origin main")
	}
	if _, err := os.Stat(filepath.Join(e.Repo, ".git", "loop", "host", "b", "run.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run state left behind: %v", err)
	}
}

func TestConcurrentPromotesOfNotes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const n = 10
	heads := make([]string, n)
	for i := range n {
		name := fmt.Sprintf("c%02d", i)
		e.newLoop(name)
		dir := e.Context(name, "notes")
		gittest.WriteFile(t, dir, name+".md", name+"\n")
		heads[i] = gittest.Commit(t, dir, name)
	}
	var wg sync.WaitGroup
	outs := make([][]byte, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = e.proc("", "promote", fmt.Sprintf("c%02d", i), "--layer", "notes", "-q").CombinedOutput()
		}()
	}
	wg.Wait()
	origin := e.Origin("notes")
	for i := range n {
		if errs[i] != nil {
			t.Errorf("promote c%02d: %v\n%s", i, errs[i], outs[i])
		}
		if !isAncestor(t, origin, heads[i], "main") {
			t.Errorf("c%02d's commit is not on origin main", i)
		}
		if show(t, origin, fmt.Sprintf("c%02d.md", i)) == "" {
			t.Errorf("c%02d.md missing on origin main", i)
		}
	}
	if b := branches(t, origin); !reflect.DeepEqual(b, []string{"refs/heads/main"}) {
		t.Errorf("stray branches on origin: %v", b)
	}
}

func TestGatedKnowledgeReview(t *testing.T) {
	t.Parallel()
	e := setup(t)
	origin := e.Origin("knowledge")
	clone := e.Clone("knowledge")
	e.newLoop("k1")
	e.newLoop("k2")
	gittest.WriteFile(t, e.Context("k1", "knowledge"), "page.md", "# k1\n")
	k1 := gittest.Commit(t, e.Context("k1", "knowledge"), "k1 page")
	gittest.WriteFile(t, e.Context("k2", "knowledge"), "other.md", "# k2\n")
	gittest.Commit(t, e.Context("k2", "knowledge"), "k2 page")
	// A teammate moves main meanwhile: the merge must keep it.
	mate := teammate(t, origin)
	gittest.WriteFile(t, mate, "team.md", "team\n")
	gittest.Commit(t, mate, "team")
	push(t, mate)
	mainBefore := gittest.Git(t, origin, "rev-parse", "main")

	r := e.OK("promote", "k1") // all layers: only knowledge has work
	if !strings.Contains(r.Stdout, "review merge knowledge/k1") {
		t.Errorf("promote output:\n%s", r.Stdout)
	}
	e.OK("promote", "k2", "--layer", "knowledge")
	if got := gittest.Git(t, origin, "rev-parse", "main"); got != mainBefore {
		t.Fatalf("a gated promote moved origin main")
	}
	if b := branches(t, origin); !reflect.DeepEqual(b, []string{"refs/heads/main"}) {
		t.Errorf("solo proposals were pushed: %v", b)
	}
	var ps []land.Proposal
	if err := json.Unmarshal([]byte(e.OK("review", "ls", "--json").Stdout), &ps); err != nil || len(ps) != 2 || ps[0].ID != "knowledge/k1" || ps[1].ID != "knowledge/k2" {
		t.Fatalf("review ls: %+v %v", ps, err)
	}
	if r := e.OK("review", "show", "k1"); !strings.Contains(r.Stdout, "+# k1") {
		t.Errorf("review show:\n%s", r.Stdout)
	}

	// The clone has main checked out: merging must not need it.
	cloneHead := gittest.Git(t, clone, "rev-parse", "HEAD")
	e.OK("review", "merge", "knowledge/k1")
	if !isAncestor(t, origin, k1, "main") || !isAncestor(t, origin, mainBefore, "main") {
		t.Errorf("review merge lost a side")
	}
	if parents := strings.Fields(gittest.Git(t, origin, "log", "-1", "--format=%P", "main")); len(parents) != 2 {
		t.Errorf("not a merge commit: %v", parents)
	}
	if got := gittest.Git(t, clone, "rev-parse", "HEAD"); got != cloneHead {
		t.Errorf("the clone's checked-out main moved")
	}
	if st := gittest.Git(t, clone, "status", "--porcelain"); st != "" {
		t.Errorf("clone worktree touched:\n%s", st)
	}

	// A dry run of a discard prints what it would do and does nothing.
	r = e.OK("review", "discard", "knowledge/k2", "--dry-run")
	if !strings.Contains(r.Stdout, "would discard knowledge/k2") || !strings.Contains(r.Stderr, "git update-ref refs/loop-discarded/knowledge/k2-") {
		t.Errorf("discard --dry-run:\n%s%s", r.Stdout, r.Stderr)
	}
	if got := gittest.Git(t, clone, "for-each-ref", "refs/loop-discarded"); got != "" {
		t.Errorf("discard --dry-run made %s", got)
	}
	if _, err := os.Stat(filepath.Join(e.Context("k2", "knowledge"), "other.md")); err != nil {
		t.Errorf("discard --dry-run touched k2's worktree: %v", err)
	}

	// Discard: gone from the list, kept under refs/loop-discarded/.
	r = e.OK("review", "discard", "knowledge/k2")
	if !strings.Contains(r.Stdout, "refs/loop-discarded/knowledge/k2-") {
		t.Errorf("discard output:\n%s", r.Stdout)
	}
	if r := e.Run("review", "ls"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("proposals left:\n%s", r.Stdout)
	}
	if got := gittest.Git(t, clone, "for-each-ref", "--format=%(refname)", "refs/loop-discarded"); !strings.HasPrefix(got, "refs/loop-discarded/knowledge/k2-") {
		t.Errorf("no backup ref: %q", got)
	}
	if _, err := os.Stat(filepath.Join(e.Context("k2", "knowledge"), "other.md")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("discarded change still in k2's worktree")
	}
}

// fakeGH writes a gh that records its arguments and opens a "pull
// request".
func fakeGH(t *testing.T) (dir, log string) {
	dir = t.TempDir()
	log = filepath.Join(dir, "gh.log")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\ncase \"$1\" in pr) echo https://github.com/acme/demo/pull/7;; esac\nexit 0\n", log)
	if err := os.WriteFile(filepath.Join(dir, "gh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, log
}

func TestCodePromotePullRequest(t *testing.T) {
	t.Parallel()
	e := setup(t)
	bare := gittest.Git(t, e.Repo, "remote", "get-url", "origin")
	// The remote is on a known host; git reaches it at the local bare.
	const url = "https://github.com/acme/demo.git"
	gittest.Git(t, e.Repo, "remote", "set-url", "origin", url)
	gittest.Git(t, e.Repo, "config", "url."+bare+".insteadOf", url)
	e.newLoop("c1")
	e.newLoop("c2")
	for _, n := range []string{"c1", "c2"} {
		gittest.WriteFile(t, e.Worktree(n), n+".go", "package main\n")
		gittest.Commit(t, e.Worktree(n), n)
	}
	mainBefore := gittest.Git(t, bare, "rev-parse", "main")

	ghDir, log := fakeGH(t)
	out, err := e.proc(ghDir+string(os.PathListSeparator)+os.Getenv("PATH"), "promote", "c1", "--layer", "code").CombinedOutput()
	if err != nil {
		t.Fatalf("promote c1: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(log)
	if !strings.Contains(string(calls), "pr create --repo github.com/acme/demo --head loop/c1 --base main --fill") {
		t.Errorf("gh calls:\n%s", calls)
	}
	if !strings.Contains(string(out), "https://github.com/acme/demo/pull/7") {
		t.Errorf("promote output:\n%s", out)
	}
	if got := gittest.Git(t, bare, "rev-parse", "refs/heads/loop/c1"); got != gittest.Git(t, e.Worktree("c1"), "rev-parse", "HEAD") {
		t.Errorf("loop/c1 not pushed")
	}
	// Without gh: the URL to open one.
	out, err = e.proc("", "promote", "c2", "--layer", "code").CombinedOutput()
	if err != nil {
		t.Fatalf("promote c2: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "https://github.com/acme/demo/compare/main...loop/c2?expand=1") {
		t.Errorf("no URL printed:\n%s", out)
	}
	if got := gittest.Git(t, bare, "rev-parse", "main"); got != mainBefore {
		t.Errorf("a gated code promote moved main")
	}
}

func TestCodeSoloProposal(t *testing.T) {
	t.Parallel()
	e := setup(t)
	gittest.Git(t, e.Repo, "remote", "remove", "origin")
	e.newLoop("s1")
	gittest.WriteFile(t, e.Worktree("s1"), "feature.go", "package main\n")
	c := gittest.Commit(t, e.Worktree("s1"), "feature")
	before := gittest.Git(t, e.Repo, "rev-parse", "main")
	e.OK("promote", "s1", "--layer", "code")
	if gittest.Git(t, e.Repo, "rev-parse", "main") != before {
		t.Fatal("proposal moved main")
	}
	// Proposed is promoted as far as the loop goes: status and ls say
	// so, and a loop never promoted is no proposal, however far ahead.
	if l := e.Loops()["s1"]; len(l.Unpromoted) != 0 || !reflect.DeepEqual(l.Proposed, []string{"code"}) {
		t.Errorf("after promote: unpromoted %v, proposed %v", l.Unpromoted, l.Proposed)
	}
	if r := e.OK("status", "s1"); !strings.Contains(r.Stdout, "code proposed, waiting for review") || strings.Contains(r.Stdout, "not promoted") {
		t.Errorf("status after promote:\n%s", r.Stdout)
	}
	e.newLoop("s2")
	gittest.WriteFile(t, e.Worktree("s2"), "other.go", "package main\n")
	gittest.Commit(t, e.Worktree("s2"), "other")
	if r := e.OK("review", "ls"); !strings.Contains(r.Stdout, "code/s1") || strings.Contains(r.Stdout, "s2") {
		t.Errorf("review ls lists what was never proposed:\n%s", r.Stdout)
	}
	if got := e.Loops()["s2"].Unpromoted; !reflect.DeepEqual(got, []string{"code"}) {
		t.Errorf("a loop never promoted: unpromoted = %v", got)
	}
	// A commit after the proposal is not proposed, and review merge
	// merges what was proposed, not what came after.
	gittest.WriteFile(t, e.Worktree("s1"), "later.go", "package main\n")
	later := gittest.Commit(t, e.Worktree("s1"), "later")
	if got := e.Loops()["s1"].Unpromoted; !reflect.DeepEqual(got, []string{"code"}) {
		t.Errorf("a commit after the proposal: unpromoted = %v", got)
	}
	// main is checked out in the repo's main worktree.
	e.OK("review", "merge", "code/s1")
	if !isAncestor(t, e.Repo, c, "main") || !isAncestor(t, e.Repo, before, "main") {
		t.Errorf("review merge lost a side")
	}
	if gittest.Git(t, e.Repo, "symbolic-ref", "HEAD") != "refs/heads/main" {
		t.Errorf("main worktree switched branch")
	}
	if isAncestor(t, e.Repo, later, "main") {
		t.Errorf("review merge merged a commit made after the proposal")
	}
	if r := e.Run("review", "ls"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("proposal still listed:\n%s", r.Stdout)
	}
}

// TestCodeProposalLandsOnRemote: with a shared remote, review merge lands
// the proposal on origin's main and leaves the user's local main to their
// next pull; status compares with the remote and says nothing is left.
func TestCodeProposalLandsOnRemote(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.newLoop("r1")
	gittest.WriteFile(t, e.Worktree("r1"), "r1.go", "package main\n")
	c := gittest.Commit(t, e.Worktree("r1"), "r1")
	localMain := gittest.Git(t, e.Repo, "rev-parse", "main")
	e.OK("promote", "r1", "--layer", "code")
	if l := e.Loops()["r1"]; len(l.Unpromoted) != 0 || !reflect.DeepEqual(l.Proposed, []string{"code"}) {
		t.Errorf("after promote: unpromoted %v, proposed %v", l.Unpromoted, l.Proposed)
	}
	e.OK("review", "merge", "code/r1")
	bare := gittest.Git(t, e.Repo, "remote", "get-url", "origin")
	if !isAncestor(t, bare, c, "main") {
		t.Fatalf("review merge did not land on origin main")
	}
	if gittest.Git(t, e.Repo, "rev-parse", "main") != localMain {
		t.Errorf("review merge moved the local main")
	}
	if l := e.Loops()["r1"]; len(l.Unpromoted) != 0 || len(l.Proposed) != 0 {
		t.Errorf("after review merge: unpromoted %v, proposed %v", l.Unpromoted, l.Proposed)
	}
	if r := e.OK("status", "r1"); !strings.Contains(r.Stdout, "nothing to promote") {
		t.Errorf("status after review merge:\n%s", r.Stdout)
	}
}

func TestSyncClones(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, l := range []string{"knowledge", "notes"} {
		mate := teammate(t, e.Origin(l))
		gittest.WriteFile(t, mate, "new.md", l+"\n")
		gittest.Commit(t, mate, "new")
		push(t, mate)
	}
	// The personal clone has an unpushed commit, and its remote moved.
	personal := e.Clone("personal")
	gittest.WriteFile(t, personal, "local.md", "mine\n")
	local := gittest.Commit(t, personal, "local")
	mate := teammate(t, e.Origin("personal"))
	gittest.WriteFile(t, mate, "elsewhere.md", "x\n")
	gittest.Commit(t, mate, "from another machine")
	push(t, mate)

	r := e.OK("sync")
	for _, l := range []string{"knowledge", "notes"} {
		if got, want := gittest.Git(t, e.Clone(l), "rev-parse", "HEAD"), gittest.Git(t, e.Origin(l), "rev-parse", "main"); got != want {
			t.Errorf("%s clone at %s, want %s", l, got, want)
		}
	}
	if got := gittest.Git(t, personal, "rev-parse", "HEAD"); got != local {
		t.Errorf("personal clone moved")
	}
	if !strings.Contains(r.Stdout, "personal  diverged") || !strings.Contains(r.Stdout, "knowledge updated") {
		t.Errorf("sync report:\n%s", r.Stdout)
	}
}

func TestSyncLoop(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.newLoop("l1")
	gittest.WriteFile(t, e.Worktree("l1"), "loop.go", "package main\n")
	gittest.Commit(t, e.Worktree("l1"), "loop work")
	// The base and knowledge move on after the loop started.
	gittest.WriteFile(t, e.Repo, "base.go", "package main\n")
	base := gittest.Commit(t, e.Repo, "base moves")
	mate := teammate(t, e.Origin("knowledge"))
	gittest.WriteFile(t, mate, "k.md", "k\n")
	k := gittest.Commit(t, mate, "knowledge moves")
	push(t, mate)

	e.OK("sync", "l1")
	if !isAncestor(t, e.Repo, base, "refs/heads/loop/l1") {
		t.Errorf("base not merged into the loop")
	}
	if got := gittest.Git(t, e.Worktree("l1"), "log", "-1", "--format=%P"); len(strings.Fields(got)) != 2 {
		t.Errorf("not a merge: %s", got)
	}
	kdir := e.Context("l1", "knowledge")
	if !isAncestor(t, kdir, k, "HEAD") {
		t.Errorf("knowledge not merged into the loop's context")
	}
	if v := e.meta("l1").Versions["knowledge"]; v != k {
		t.Errorf("knowledge version %s, want %s", v, k)
	}
}

// pushLine is one pre-push input line pushing local to remote.
func pushLine(local, remote string) []land.PushUpdate {
	return []land.PushUpdate{{LocalRef: local, LocalSHA: strings.Repeat("1", 40), RemoteRef: remote, RemoteSHA: strings.Repeat("0", 40)}}
}

func TestPrePushGuard(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.newLoop("g1")
	f, _, _ := cmdtest.NewFactory(e.Repo, e.Opts)
	ws, err := f.Workspace(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var gated *land.GatedPushError
	if err := land.CheckPush(ctx, ws, e.Worktree("g1"), pushLine("refs/heads/loop/g1", "refs/heads/main")); !errors.As(err, &gated) || gated.Layer != land.Code {
		t.Errorf("code push to main: %v", err)
	}
	if err := land.CheckPush(ctx, ws, e.Context("g1", "knowledge"), pushLine("refs/heads/loop/g1", "refs/heads/main")); !errors.As(err, &gated) || gated.Layer != workspace.Knowledge {
		t.Errorf("knowledge push to main: %v", err)
	}
	for _, c := range []struct{ dir, local, ref string }{
		{e.Context("g1", "notes"), "refs/heads/loop/g1", "refs/heads/main"},
		{e.Worktree("g1"), "refs/heads/loop/g1", "refs/heads/loop/g1"},
		{e.Repo, "refs/heads/main", "refs/heads/main"},
	} {
		if err := land.CheckPush(ctx, ws, c.dir, pushLine(c.local, c.ref)); err != nil {
			t.Errorf("push from %s to %s refused: %v", c.dir, c.ref, err)
		}
	}
}

func TestPromotePersonalAndDirectGate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.newLoop("p1")
	// Personal: the main clone, pushed straight to its origin, merging a
	// commit made on another machine.
	mate := teammate(t, e.Origin("personal"))
	gittest.WriteFile(t, mate, "other-machine.md", "x\n")
	gittest.Commit(t, mate, "other machine")
	push(t, mate)
	gittest.WriteFile(t, e.Clone("personal"), "memory/today.md", "learned\n")
	e.OK("promote", "p1", "--layer", "personal", "-a", "-m", "memory")
	if show(t, e.Origin("personal"), "memory/today.md") == "" || show(t, e.Origin("personal"), "other-machine.md") == "" {
		t.Errorf("personal origin lacks a side")
	}
	// knowledge.gate = direct: knowledge lands like notes.
	gittest.WriteFile(t, e.Context("p1", "knowledge"), "direct.md", "d\n")
	gittest.Commit(t, e.Context("p1", "knowledge"), "direct")
	gittest.Git(t, e.Repo, "config", "loop.knowledge.gate", "direct")
	e.OK("promote", "p1", "--layer", "knowledge")
	if show(t, e.Origin("knowledge"), "direct.md") == "" {
		t.Errorf("direct knowledge did not land")
	}
	if r := e.Run("review", "ls"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("a direct layer listed a proposal:\n%s", r.Stdout)
	}
}

func TestPromoteDryRun(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.newLoop("dr")
	dir := e.Context("dr", "notes")
	gittest.WriteFile(t, dir, "x.md", "x\n")
	head := gittest.Commit(t, dir, "x")
	before := gittest.Git(t, e.Origin("notes"), "rev-parse", "main")
	r := e.OK("promote", "dr", "--layer", "notes", "--dry-run")
	if !strings.Contains(r.Stderr, "git push -q origin HEAD:refs/heads/main") {
		t.Errorf("dry run does not show the push:\n%s", r.Stderr)
	}
	if gittest.Git(t, e.Origin("notes"), "rev-parse", "main") != before || gittest.Git(t, dir, "rev-parse", "HEAD") != head {
		t.Errorf("dry run changed something")
	}
	// Flag combinations.
	for _, args := range [][]string{{"promote", "dr", "-a"}, {"promote", "dr", "-m", "x"}, {"promote", "dr", "--continue", "--abort"}, {"promote", "dr", "--layer", "vault"}, {"promote", "dr", "--continue"}} {
		if r := e.Run(args...); r.Code != 2 {
			t.Errorf("%v: exit %d %s", args, r.Code, r.Stderr)
		}
	}
	// From inside the loop's worktree, NAME is implied.
	r = cmdtestRunIn(t, e, e.Worktree("dr"), "promote", "--layer", "notes")
	if r.Code != 0 || !isAncestor(t, e.Origin("notes"), head, "main") {
		t.Errorf("promote without NAME: %d %s", r.Code, r.Stderr)
	}
}

func TestSyncLoopConflict(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.newLoop("s2")
	kdir := e.Context("s2", "knowledge")
	gittest.WriteFile(t, kdir, "page.md", "loop's version\n")
	mine := gittest.Commit(t, kdir, "loop page")
	mate := teammate(t, e.Origin("knowledge"))
	gittest.WriteFile(t, mate, "page.md", "team's version\n")
	team := gittest.Commit(t, mate, "team page")
	push(t, mate)

	r := e.Run("sync", "s2")
	if r.Code != 4 || !strings.Contains(r.Stderr, "page.md") || !strings.Contains(r.Stderr, "git loop sync --continue s2") {
		t.Fatalf("sync conflict: %d\n%s", r.Code, r.Stderr)
	}
	e.OK("sync", "s2", "--abort")
	if got := gittest.Git(t, kdir, "rev-parse", "HEAD"); got != mine {
		t.Errorf("abort left HEAD at %s", got)
	}
	if st := gittest.Git(t, kdir, "status", "--porcelain"); st != "" {
		t.Errorf("abort left changes: %q", st)
	}
	if r := e.Run("sync", "s2"); r.Code != 4 {
		t.Fatalf("second sync: %d %s", r.Code, r.Stderr)
	}
	gittest.WriteFile(t, kdir, "page.md", "both versions\n")
	e.OK("sync", "s2", "--continue")
	if !isAncestor(t, kdir, team, "HEAD") || !isAncestor(t, kdir, mine, "HEAD") {
		t.Errorf("a side is missing after continue")
	}
	if v := e.meta("s2").Versions["knowledge"]; v != team {
		t.Errorf("knowledge version %s, want %s", v, team)
	}
}

func TestCodeReviewMergeOnRemote(t *testing.T) {
	t.Parallel()
	e := setup(t)
	bare := gittest.Git(t, e.Repo, "remote", "get-url", "origin")
	e.newLoop("r1")
	gittest.WriteFile(t, e.Worktree("r1"), "r1.go", "package main\n")
	c := gittest.Commit(t, e.Worktree("r1"), "r1")
	// Someone else lands on the remote's main meanwhile.
	mate := teammate(t, bare)
	gittest.WriteFile(t, mate, "mate.go", "package main\n")
	other := gittest.Commit(t, mate, "mate")
	push(t, mate)

	e.OK("promote", "r1", "--layer", "code")
	if got := gittest.Git(t, bare, "rev-parse", "refs/heads/loop/r1"); got == "" {
		t.Fatal("proposal not pushed")
	}
	// A dry run checks the merge and prints the push; the remote is as it was.
	mainBefore := gittest.Git(t, bare, "rev-parse", "main")
	r := e.OK("review", "merge", "code/r1", "--dry-run")
	if !strings.Contains(r.Stdout, "would merge code/r1 into origin/main") || !strings.Contains(r.Stderr, "git push -q origin MERGE:refs/heads/main") {
		t.Errorf("merge --dry-run:\n%s%s", r.Stdout, r.Stderr)
	}
	if got := gittest.Git(t, bare, "rev-parse", "main"); got != mainBefore || len(branches(t, bare)) != 2 {
		t.Errorf("merge --dry-run changed the remote: main %s, branches %v", got, branches(t, bare))
	}
	e.OK("review", "merge", "code/r1")
	if !isAncestor(t, bare, c, "main") || !isAncestor(t, bare, other, "main") {
		t.Errorf("review merge lost a side on the remote")
	}
	if b := branches(t, bare); !reflect.DeepEqual(b, []string{"refs/heads/main"}) {
		t.Errorf("remote branches after merge: %v", b)
	}
	if gittest.Git(t, e.Repo, "status", "--porcelain") != "" {
		t.Errorf("the main worktree was touched")
	}
}

func TestCodeLocalOnlyBase(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// A base branch origin does not have: its proposal is local.
	gittest.Git(t, e.Repo, "branch", "feature")
	e.OK("new", "f1", "--driver", "none", "-d", "-q", "--base", "feature")
	gittest.WriteFile(t, e.Worktree("f1"), "f.go", "package main\n")
	c := gittest.Commit(t, e.Worktree("f1"), "f")
	e.OK("promote", "f1", "--layer", "code")
	featureBefore := gittest.Git(t, e.Repo, "rev-parse", "feature")
	if r := e.OK("review", "merge", "code/f1", "--dry-run", "--json"); !strings.Contains(r.Stdout, `"action": "would merge"`) || gittest.Git(t, e.Repo, "rev-parse", "feature") != featureBefore {
		t.Errorf("merge --dry-run --json:\n%s", r.Stdout)
	}
	e.OK("review", "merge", "code/f1")
	if !isAncestor(t, e.Repo, c, "refs/heads/feature") {
		t.Errorf("not merged into the local base")
	}
	if gittest.Git(t, e.Repo, "rev-parse", "main") != gittest.Git(t, e.Repo, "rev-parse", "origin/main") {
		t.Errorf("main moved")
	}
}
