package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// gitPaths are where images put git: Debian's, Alpine's and a source
// build's.
var gitPaths = []string{"/usr/bin/git", "/usr/local/bin/git", "/bin/git"}

// ImageHasGit creates (never starts) a container of ref, asks the engine
// whether git is on one of gitPaths, and removes it: about what a
// docker create costs, and the answer is cached per image id by the
// caller.
func (e *Engine) ImageHasGit(ctx context.Context, ref string) (bool, error) {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	res, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: "gitloop-probe-git-" + hex.EncodeToString(nonce),
		Config: &container.Config{
			Image:  ref,
			Cmd:    []string{"git", "--version"},
			Labels: map[string]string{sandbox.LabelWorkspace: "probe"},
		},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		return false, e.wrap("docker create "+ref, err)
	}
	defer func() {
		_, _ = e.cli.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true})
	}()
	for _, p := range gitPaths {
		if e.pathExists(ctx, res.ID, p) {
			return true, nil
		}
	}
	return false, nil
}
