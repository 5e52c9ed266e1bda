// Command debianimage makes sure the Docker engine has a Debian test image
// of a release (debootstrapped from the machine's Debian mirror, as the
// tests' own DebianImage is) and prints its tag. scripts/test-git-versions.sh
// runs git-facing tests in it against that release's git.
//
//	debianimage SUITE
//
// Exit status 3 means a prerequisite is missing (Docker, debootstrap,
// root, a mirror), 1 any other failure.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox/docker"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: debianimage SUITE")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	e, err := docker.New()
	if err == nil {
		err = e.Ping(ctx)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "debianimage: no Docker engine: %v\n", err)
		os.Exit(3)
	}
	defer e.Close()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "debianimage: "+format+"\n", args...) }
	tag, err := dockertest.DebianSuiteImage(ctx, e, os.Args[1], logf)
	if err != nil {
		fmt.Fprintf(os.Stderr, "debianimage: %v\n", err)
		if dockertest.IsMissing(err) {
			os.Exit(3)
		}
		os.Exit(1)
	}
	fmt.Println(tag)
}
