package transport_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/bwrap"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// TestRealEngines: a commit made inside a real sandbox, in a clone that
// borrows the host's objects read-only through alternates, reaches the
// host's loop branch through the transport, the sandbox's git serving it.
func TestRealEngines(t *testing.T) {
	t.Run("docker", func(t *testing.T) {
		sandboxtest.Long(t, "builds a Debian image with git")
		t.Parallel()
		e := dockertest.Engine(t)
		roundTrip(t, e, "docker", dockertest.DebianImage(t, e))
	})
	t.Run("bwrap", func(t *testing.T) {
		t.Parallel()
		e, err := bwrap.New()
		sandboxtest.Require(t, err, "bwrap", `install bubblewrap ("sudo apt-get install bubblewrap")`)
		sandboxtest.Require(t, e.Probe(t.Context()), "bwrap", "bubblewrap on a kernel that allows user namespaces")
		roundTrip(t, e, "bwrap", "")
	})
}

func roundTrip(t *testing.T, eng sandbox.Engine, driver, image string) {
	repo := gittest.Repo(t)
	common := filepath.Join(repo, ".git")
	base := gittest.Git(t, repo, "rev-parse", "HEAD")
	gittest.Git(t, repo, "branch", "loop/x", base)

	root := t.TempDir()
	clone, home := filepath.Join(root, "clone"), filepath.Join(root, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	// Seeded without a copy: the clone's objects are the host's, read
	// through alternates.
	gittest.Git(t, "", "clone", "-q", "--shared", "--no-checkout", common, clone)
	gittest.Git(t, clone, "checkout", "-q", "-b", "loop/x", base)
	spec := sandbox.Spec{
		Workspace: "ttransport", Loop: "rt-" + driver, Image: image, Workdir: clone, Home: home,
		Mounts: []sandbox.Mount{
			{Source: clone, Target: clone},
			{Source: filepath.Join(common, "objects"), Target: filepath.Join(common, "objects"), ReadOnly: true},
		},
	}
	t.Cleanup(func() { _ = eng.Remove(t.Context(), spec) })
	var out bytes.Buffer
	code, err := eng.Exec(t.Context(), spec, sandbox.Exec{
		Cmd: []string{"sh", "-c", `echo inside > inside.txt && git add inside.txt &&
git -c user.name=Agent -c user.email=agent@example.com commit -q -m inside && git rev-parse HEAD`},
		Stdout: &out, Stderr: &out,
	})
	if err != nil || code != 0 {
		t.Fatalf("commit inside: %d, %v\n%s", code, err, out.String())
	}
	inside := string(bytes.TrimSpace(out.Bytes()))
	res, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{
		GitDir: common, Name: "x", SourceBranch: "refs/heads/loop/x", Branch: "refs/heads/loop/x",
		Env: engineEnv(t, driver, spec),
	})
	if err != nil || !res.Moved {
		t.Fatalf("fetch: %+v, %v", res, err)
	}
	if got := gittest.Git(t, repo, "rev-parse", "loop/x"); got != inside {
		t.Errorf("loop/x is %s, want the commit made inside, %s", got, inside)
	}
	if got := gittest.Git(t, repo, "show", "loop/x:inside.txt"); got != "inside" {
		t.Errorf("inside.txt on loop/x: %q", got)
	}
}
