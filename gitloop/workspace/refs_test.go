package workspace

import (
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestReadRefAgreesWithGit checks the in-process ref reading against git,
// loose and packed, present and absent, attached and detached.
func TestReadRefAgreesWithGit(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	common := filepath.Join(repo, ".git")
	gittest.Git(t, repo, "branch", "loose")
	gittest.Git(t, repo, "branch", "packed")
	gittest.Git(t, repo, "pack-refs", "--all")
	gittest.Git(t, repo, "branch", "loose2")
	for _, ref := range []string{"refs/heads/main", "refs/heads/loose2", "refs/heads/packed", "refs/remotes/origin/main", "refs/heads/nope", "refs/heads/loop/x"} {
		sha, found, ok := ReadRef(common, ref)
		if !ok {
			t.Fatalf("%s: not answered", ref)
		}
		want := ""
		if out := gittest.Git(t, repo, "for-each-ref", "--format=%(objectname)", ref); out != "" {
			want = out
		}
		if found != (want != "") || sha != want {
			t.Errorf("%s: got %q found=%v, git says %q", ref, sha, found, want)
		}
	}
	ref, sha, ok := ReadHead(common, common)
	if !ok || ref != "refs/heads/main" || sha != gittest.Git(t, repo, "rev-parse", "HEAD") {
		t.Errorf("HEAD: %q %q %v", ref, sha, ok)
	}
	gittest.Git(t, repo, "checkout", "-q", "--detach")
	ref, sha, ok = ReadHead(common, common)
	if !ok || ref != "" || sha != gittest.Git(t, repo, "rev-parse", "HEAD") {
		t.Errorf("detached HEAD: %q %q %v", ref, sha, ok)
	}
	gittest.Git(t, repo, "symbolic-ref", "HEAD", "refs/heads/unborn")
	if _, _, ok := ReadHead(common, common); ok {
		t.Errorf("unborn HEAD must be left to git")
	}
}
