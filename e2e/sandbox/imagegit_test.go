package sandboxe2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

// TestSealedImageWithoutGit: a sealed loop on an image without git (a
// busybox one) is refused by new before anything is made, saying how to
// fix it; doctor names the image too. The image with git passes both,
// and its answer is cached by image id.
func TestSealedImageWithoutGit(t *testing.T) {
	t.Parallel()
	busybox := dockertest.BusyboxImage(t, dockertest.Engine(t))
	repo := newSealedRepo(t, cmdtest.DockerDriver)
	good := gittest.Git(t, repo, "config", "loop.sandbox.image")
	gittest.Git(t, repo, "config", "loop.sandbox.image", busybox)
	r := cmdtest.Run(t, repo, "new", "g", "--driver", "docker", "--detach")
	if r.Code == 0 {
		t.Fatalf("new on an image without git succeeded:\n%s%s", r.Stdout, r.Stderr)
	}
	for _, want := range []string{busybox, "has no git", "apt-get install", "git loop image build", "sandbox.sealed = false"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("new's refusal does not say %q:\n%s", want, r.Stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(repo, ".git", "loop", "sandbox", "g")); err == nil {
		t.Error("new made a clone before refusing")
	}
	if out := gittest.Git(t, repo, "branch", "--list", "loop/g"); out != "" {
		t.Errorf("new made loop/g before refusing: %q", out)
	}
	d := cmdtest.Run(t, repo, "doctor")
	if !strings.Contains(d.Stdout+d.Stderr, busybox) || !strings.Contains(d.Stdout+d.Stderr, "has no git") {
		t.Errorf("doctor does not name the image without git:\n%s%s", d.Stdout, d.Stderr)
	}

	gittest.Git(t, repo, "config", "loop.sandbox.image", good)
	newLoop(t, repo, cmdtest.DockerDriver, "g")
	d = cmdtest.Run(t, repo, "doctor")
	if strings.Contains(d.Stdout+d.Stderr, "has no git") {
		t.Errorf("doctor complains of an image with git:\n%s%s", d.Stdout, d.Stderr)
	}
	dir, _ := os.UserCacheDir()
	if cache, _ := filepath.Glob(filepath.Join(dir, "git-loop", "image-git", "*")); len(cache) == 0 {
		t.Errorf("no cached answer for the image with git in %s", dir)
	}
}
