// Command git-loop is git loop: run it as "git loop …" once it is on PATH.
// Run as git-remote-gitloop (a link to it), it is the remote helper git
// uses for gitloop::NAME URLs, the transport to a loop's sandbox.
package main

import (
	"os"
	"path/filepath"

	"github.com/gitloop-dev/git-loop/cmd/internal/root"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
)

//go:generate go run ../gen-docs -out ../../man

func main() {
	if filepath.Base(os.Args[0]) == transport.HelperName {
		os.Exit(root.RemoteHelper(os.Args[1:]))
	}
	os.Exit(root.Main(os.Args[1:]))
}
