package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// ErrImageNoGit is wrapped by CheckImageGit's refusal.
var ErrImageNoGit = errors.New("the sandbox image has no git")

// CheckImageGit refuses an image without git for a sealed loop, whose
// sandbox works in a clone of its own and serves its commits with git's
// own protocol: without git in the image, its first exec would fail with
// no word of why. The answer is cached per image id, in the user's
// cache dir (a yes only: an image is fixed by adding git, under a new id).
// Engines that run the host's /usr (bwrap) have no image to check.
func CheckImageGit(ctx context.Context, s *workspace.Workspace, eng sandbox.Engine, image string) error {
	p, ok := eng.(sandbox.GitProber)
	if !ok || image == "" {
		return nil
	}
	id, err := p.ImageID(ctx, image)
	if err != nil {
		return err
	}
	mark := filepath.Join(s.Dirs.Cache, "image-git", strings.ReplaceAll(strings.TrimPrefix(id, "sha256:"), "/", "_"))
	if workspace.Exists(mark) {
		return nil
	}
	has, err := p.ImageHasGit(ctx, image)
	if err != nil {
		return err
	}
	if !has {
		return fmt.Errorf("%w: image %q (%s) has no git, which a sealed loop runs inside (its sandbox works in a clone of its own): add git to it (Debian: RUN apt-get install -y --no-install-recommends git; Alpine: RUN apk add git), build git loop's own with \"git loop image build\", or set sandbox.sealed = false",
			ErrImageNoGit, image, shortID(id))
	}
	if err := os.MkdirAll(filepath.Dir(mark), 0o755); err == nil {
		_ = os.WriteFile(mark, nil, 0o644)
	}
	return nil
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
