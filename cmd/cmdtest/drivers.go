package cmdtest

import (
	"context"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/bwrap"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

const installBwrap = `install bubblewrap ("sudo apt-get install bubblewrap") on a kernel that allows user namespaces`

// Driver is one sandbox driver under test.
type Driver struct {
	Name string
	// Prepare skips the test (fails it under GIT_LOOP_TEST_REQUIRE=all)
	// when the driver cannot run here, and configures repo for it.
	Prepare func(t *testing.T, repo string)
}

var (
	// DockerDriver runs loops in a Docker engine, on the Debian test image
	// (built once per engine).
	DockerDriver = Driver{Name: "docker", Prepare: func(t *testing.T, repo string) {
		e := dockertest.Engine(t)
		gittest.Git(t, repo, "config", "loop.sandbox.image", dockertest.DebianImage(t, e))
	}}
	// BwrapDriver runs loops under bubblewrap.
	BwrapDriver = Driver{Name: "bwrap", Prepare: func(t *testing.T, repo string) {
		e, err := bwrap.New()
		sandboxtest.Require(t, err, "bwrap", installBwrap)
		sandboxtest.Require(t, e.Probe(context.Background()), "bwrap", installBwrap)
	}}
	// Drivers are the isolating drivers every sandbox test runs on.
	Drivers = []Driver{DockerDriver, BwrapDriver}
)

// Sealed is d with sandbox.sealed on: its loops' sandboxes own their
// clones, and commits cross only through git's protocol.
func (d Driver) Sealed() Driver {
	return Driver{Name: d.Name + "-sealed", Prepare: func(t *testing.T, repo string) {
		d.Prepare(t, repo)
		gittest.Git(t, repo, "config", "loop.sandbox.sealed", "true")
	}}
}

// SealedDrivers are Drivers, sealed: the suites that land work (promote,
// sync, review) run on them besides their host-worktree runs.
var SealedDrivers = []Driver{DockerDriver.Sealed(), BwrapDriver.Sealed()}
