package docker

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// IsolatedNetwork is the engine's network for sandboxes whose policy is
// isolated: a bridge as the engine's default one is (outbound traffic,
// the container's loopback its own), but with traffic between its
// containers off. On the default bridge every container reaches every
// other's ports, so one loop's sandbox could talk to the dev server, the
// database or the debugger another loop (of any repository) runs in its
// own. It is made on first use, shared by every workspace on the engine,
// and left in place by uninstall, as the images are.
const IsolatedNetwork = "gitloop-isolated"

// iccOption is the bridge driver's switch for traffic between containers.
const iccOption = "com.docker.network.bridge.enable_icc"

// LabelNetwork marks the network git loop made.
const LabelNetwork = "dev.gitloop.network"

// ensureIsolatedNetwork makes IsolatedNetwork when the engine lacks it,
// and refuses one of that name that lets containers reach each other
// (made by someone else): a loop is never put on it.
func (e *Engine) ensureIsolatedNetwork(ctx context.Context) error {
	for range 3 {
		res, err := e.cli.NetworkInspect(ctx, IsolatedNetwork, client.NetworkInspectOptions{})
		if err == nil {
			if res.Network.Driver != "bridge" || res.Network.Options[iccOption] != "false" {
				return fmt.Errorf("docker: the network %s on %s lets its containers reach each other (driver %q, %s=%q), which git loop did not make: remove it (\"docker network rm %s\") and the next command makes it again",
					IsolatedNetwork, e.host, res.Network.Driver, iccOption, res.Network.Options[iccOption], IsolatedNetwork)
			}
			return nil
		}
		if !cerrdefs.IsNotFound(err) {
			return e.wrap("docker network inspect "+IsolatedNetwork, err)
		}
		_, err = e.cli.NetworkCreate(ctx, IsolatedNetwork, client.NetworkCreateOptions{
			Driver:  "bridge",
			Options: map[string]string{iccOption: "false"},
			Labels:  map[string]string{LabelNetwork: string(sandbox.NetworkIsolated)},
		})
		if err != nil && !cerrdefs.IsConflict(err) {
			return e.wrap("docker network create "+IsolatedNetwork, err)
		}
		// Made, by this command or another one meanwhile: look again.
	}
	return fmt.Errorf("docker: the network %s on %s could not be made", IsolatedNetwork, e.host)
}
