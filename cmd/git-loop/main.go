// Command git-loop is git loop: run it as "git loop …" once it is on PATH.
package main

import (
	"os"

	"github.com/gitloop-dev/git-loop/cmd/internal/root"
)

//go:generate go run ../gen-docs -out ../../man

func main() {
	os.Exit(root.Main(os.Args[1:]))
}
