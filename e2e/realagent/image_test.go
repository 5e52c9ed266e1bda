package realagent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/docker"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// drivers are the isolating drivers, docker on an image with node: the
// Debian test image with the host's node copied in (the host is the same
// Debian release), since Codex's launcher and the probe MCP server are
// node scripts. The clients themselves come from the host, as users
// install them: git loop mounts them.
func drivers() []cmdtest.Driver {
	return []cmdtest.Driver{
		{Name: "docker", Prepare: func(t *testing.T, repo string) {
			e := dockertest.Engine(t)
			gittest.Git(t, repo, "config", "loop.sandbox.image", nodeImage(t, e))
			cmdtest.RemoveContainers(t, repo)
		}},
		cmdtest.BwrapDriver,
	}
}

// nodeImage builds (once per node binary) FROM the Debian test image
// with node at /usr/local/bin.
func nodeImage(t *testing.T, e *docker.Engine) string {
	t.Helper()
	node, err := exec.LookPath("node")
	sandboxtest.Require(t, err, "node", "install nodejs")
	node, err = filepath.EvalSymlinks(node)
	if err != nil {
		t.Fatal(err)
	}
	base := dockertest.DebianImage(t, e)
	fi, err := os.Stat(node)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s\n%s\n%d\n%d\n", base, node, fi.Size(), fi.ModTime().UnixNano()))
	tag := "gitloop-test/debian-node:" + hex.EncodeToString(h[:6])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if ok, err := e.ImageExists(ctx, tag); err != nil {
		t.Fatal(err)
	} else if ok {
		return tag
	}
	dir := t.TempDir()
	if err := os.Link(node, filepath.Join(dir, "node")); err != nil {
		if err := copyFile(node, filepath.Join(dir, "node")); err != nil {
			t.Fatal(err)
		}
	}
	dockerfile := "FROM " + base + "\nCOPY node /usr/local/bin/node\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.BuildImage(ctx, docker.BuildOptions{
		Context: os.DirFS(dir), Tag: tag,
		Labels: map[string]string{"dev.gitloop.test": "1"},
	}); err != nil {
		t.Fatal(err)
	}
	return tag
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
