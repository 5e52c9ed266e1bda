package transport

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestRefsByData: a fetched head is taken for a fast-forward without a
// git only when the walk through loose commits proves it; a rewrite, a
// tag, tree or blob at the head, a missing branch and packed objects are
// left to git (ok false).
func TestRefsByData(t *testing.T) {
	repo := gittest.Repo(t)
	gitDir := filepath.Join(repo, ".git")
	g := func(args ...string) string { return gittest.Git(t, repo, args...) }
	g("config", "gc.auto", "0")
	g("commit", "-q", "--allow-empty", "-m", "base")
	base := g("rev-parse", "HEAD")
	g("update-ref", "refs/heads/loop/x", base)
	g("commit", "-q", "--allow-empty", "-m", "one")
	g("commit", "-q", "--allow-empty", "-m", "two")
	two := g("rev-parse", "HEAD")
	q := Quarantine("x")
	head, snap := q+"head", q+"side/snapshot"

	g("update-ref", head, two)
	res, ok := refsByData(gitDir, head, "refs/heads/loop/x", snap)
	if !ok || res.Old != base || res.New != two || res.Snapshot != noSnapshot {
		t.Errorf("two commits on top: %+v, %v; want a proven fast-forward %s..%s, no snapshot", res, ok, base, two)
	}
	g("update-ref", snap, base)
	if res, ok := refsByData(gitDir, head, "refs/heads/loop/x", snap); !ok || res.Snapshot != base {
		t.Errorf("snapshot: %+v, %v; want %s", res, ok, base)
	}
	if res, ok := refsByData(gitDir, head, "refs/heads/loop/x", ""); !ok || res.Snapshot != "" {
		t.Errorf("no snapshot asked: %+v, %v", res, ok)
	}

	// Not proven: left to git.
	side := g("commit-tree", "-m", "rewrite", base+"^{tree}")
	tree := g("rev-parse", base+"^{tree}")
	g("tag", "-a", "-m", "t", "t2", two)
	tag := g("rev-parse", "t2")
	for what, v := range map[string]string{"a rewrite": side, "a tree": tree, "a tag of a descendant": tag} {
		g("update-ref", head, v)
		if res, ok := refsByData(gitDir, head, "refs/heads/loop/x", snap); ok {
			t.Errorf("%s at the head: %+v taken as proven", what, res)
		}
	}
	g("update-ref", head, two)
	if res, ok := refsByData(gitDir, head, "refs/heads/loop/y", snap); ok {
		t.Errorf("no branch yet: %+v taken as proven", res)
	}
	// Packed (as a fetch with fsck keeps them), whole: read from the
	// pack. (A commit stored as a delta is left to git.)
	g("repack", "-adq", "--window=0")
	g("prune-packed")
	if res, ok := refsByData(gitDir, head, "refs/heads/loop/x", snap); !ok || res.New != two {
		t.Errorf("packed commits: %+v, %v; want a proven fast-forward", res, ok)
	}
	for what, v := range map[string]string{"a packed rewrite": side, "a packed tag": tag} {
		g("update-ref", head, v)
		if res, ok := refsByData(gitDir, head, "refs/heads/loop/x", snap); ok {
			t.Errorf("%s at the head: %+v taken as proven", what, res)
		}
	}
	if descends(filepath.Join(gitDir, "objects"), strings.Repeat("0", 40), base) {
		t.Error("a missing commit descends from the branch")
	}
	g("update-ref", head, two)
	g("pack-refs", "--all")
	g("update-ref", head, base)
	if res, ok := refsByData(gitDir, head, "refs/heads/loop/x", snap); !ok || res.New != base || res.Old != base {
		t.Errorf("packed refs, nothing new: %+v, %v", res, ok)
	}
}
