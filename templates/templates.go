// Package templates holds the files git loop ships inside its binary: the
// sandbox image's Dockerfile, the seeds of new context repositories, and
// the doctrine templates.
package templates

import (
	"embed"
	"io/fs"
)

//go:embed sandbox/Dockerfile
//go:embed all:seeds
//go:embed doctrine
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

// Doctrine is the weakest tier's CLAUDE.md: a text/template rendered with
// the loop's real paths.
func Doctrine() string { return mustRead("doctrine/CLAUDE.md.tmpl") }

// DistillDoctrine is the project tier of a distill loop.
func DistillDoctrine() string { return mustRead("doctrine/DISTILL.md.tmpl") }

func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}
