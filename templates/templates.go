// Package templates holds the files git loop ships inside its binary: the
// sandbox image's Dockerfile and the seeds of new context repositories
// (and, as they come, the doctrine).
package templates

import (
	"embed"
	"io/fs"
)

//go:embed sandbox/Dockerfile
//go:embed all:seeds
var files embed.FS

func sub(dir string) fs.FS {
	s, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return s
}

// SandboxImage is the build context of the default sandbox image.
func SandboxImage() fs.FS { return sub("sandbox") }

// Seed is the initial content of a new context repository: "knowledge",
// "notes" or "personal".
func Seed(layer string) fs.FS { return sub("seeds/" + layer) }
