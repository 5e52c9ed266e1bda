// Package templates holds the files git loop ships inside its binary: the
// sandbox image's Dockerfile (and, as they come, the doctrine and seeds).
package templates

import (
	"embed"
	"io/fs"
)

//go:embed sandbox/Dockerfile
var files embed.FS

// SandboxImage is the build context of the default sandbox image.
func SandboxImage() fs.FS {
	sub, err := fs.Sub(files, "sandbox")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
