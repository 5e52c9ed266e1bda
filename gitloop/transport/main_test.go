package transport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/bwrap"
	"github.com/gitloop-dev/git-loop/sandbox/docker"
	"github.com/gitloop-dev/git-loop/sandbox/kube"
	"github.com/gitloop-dev/git-loop/sandbox/none"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// The test binary is also the remote helper: git runs git-remote-gitloop,
// a link to this binary on PATH, and TestMain serves the connection with
// the engine the test chose (in the environment git hands on), as the
// git-loop binary does with a loop's.
const (
	envEngine = "GIT_LOOP_TEST_TRANSPORT_ENGINE" // none (default), hang, docker, bwrap, kube
	envSpec   = "GIT_LOOP_TEST_TRANSPORT_SPEC"   // the sandbox.Spec, JSON; its Workdir is the repository
)

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == transport.HelperName {
		os.Exit(testHelper())
	}
	gittest.Main(m, func(root string) error {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		bin := filepath.Join(root, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			return err
		}
		if err := os.Symlink(self, filepath.Join(bin, transport.HelperName)); err != nil {
			return err
		}
		return os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	})
}

func testHelper() int {
	if len(os.Args) != 3 {
		fmt.Fprintf(os.Stderr, "usage: %s REMOTE URL\n", transport.HelperName)
		return 2
	}
	var spec sandbox.Spec
	if err := json.Unmarshal([]byte(os.Getenv(envSpec)), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "test helper: spec:", err)
		return 2
	}
	var eng sandbox.Engine
	var err error
	switch os.Getenv(envEngine) {
	case "", "none":
		eng = none.New()
	case "hang":
		// A server that never answers: connects, then says nothing.
		eng = &sandboxtest.Fake{ExecFunc: func(ctx context.Context, _ sandbox.Spec, _ sandbox.Exec) (int, error) {
			<-ctx.Done()
			return 130, ctx.Err()
		}}
	case "docker":
		eng, err = docker.New()
	case "bwrap":
		eng, err = bwrap.New()
	case "kube":
		// The fake cluster's kubeconfig comes in KUBECONFIG, as kubectl's.
		eng, err = kube.New(kube.Options{})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "test helper:", err)
		return 1
	}
	t := transport.Target{Engine: eng, Spec: spec, Dir: spec.Workdir}
	if err := transport.Serve(context.Background(), os.Stdin, os.Stdout, os.Stderr, t, transport.LimitsFromEnv()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
