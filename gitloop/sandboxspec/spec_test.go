package sandboxspec

import (
	"slices"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// TestNetworkNames: the sandbox.network setting accepts exactly the
// policies the drivers know.
func TestNetworkNames(t *testing.T) {
	k, _ := config.Lookup("sandbox.network")
	var names []string
	for _, n := range sandbox.Networks {
		names = append(names, string(n))
		if err := k.Validate(string(n)); err != nil {
			t.Errorf("sandbox.network %q: %v", n, err)
		}
	}
	if k.Default != string(sandbox.NetworkIsolated) {
		t.Errorf("sandbox.network defaults to %q, want %q", k.Default, sandbox.NetworkIsolated)
	}
	if err := k.Validate("bridge"); err == nil {
		t.Error("sandbox.network accepts an unknown policy")
	}
	if !slices.Contains(names, "host") {
		t.Error("no host policy")
	}
}
