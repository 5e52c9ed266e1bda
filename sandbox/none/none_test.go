package none_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/none"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// The none driver has no sandbox to check beyond its process: only the
// stream contract git's protocol needs.
func TestStreams(t *testing.T) {
	sandboxtest.RunStreams(t, none.New(), sandbox.Spec{Workspace: "tnone", Loop: "streams", Workdir: t.TempDir()})
}

func TestCapabilities(t *testing.T) {
	if c := none.New().Capabilities(); c.Isolated || !c.HostPaths {
		t.Errorf("none capabilities %+v: it is the host, not isolated", c)
	}
}
