// Package man holds the man pages cmd/gen-docs renders from the command
// tree into man1/ (TestManUpToDate in cmd/gen-docs keeps them current), for
// "git loop install-docs". The binary writes these copies rather than
// rendering the pages again: the renderer (cobra's man generator on
// go-md2man and blackfriday) would otherwise be linked into git-loop, and
// its package initialisation (~0.3 ms, mostly blackfriday's entity table)
// ran in every git-loop process, hooks included.
package man

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

//go:embed man1/*.1
var pages embed.FS

// generatedDate is the date gen-docs gives the committed pages (its
// fixedDate), as cobra prints it in each page's .TH line.
const generatedDate = `"Nov 2026"`

// Write writes every page into dir, dated date as cobra's man generator
// dates a page it renders ("Jan 2006" in the .TH line).
func Write(dir string, date time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := fs.ReadDir(pages, "man1")
	if err != nil {
		return err
	}
	dated := []byte(`"` + date.Format("Jan 2006") + `"`)
	for _, e := range entries {
		b, err := pages.ReadFile("man1/" + e.Name())
		if err != nil {
			return err
		}
		head, rest, ok := bytes.Cut(b, []byte("\n.TH "))
		if !ok {
			return fmt.Errorf("man pages: %s has no .TH line", e.Name())
		}
		th, tail, _ := bytes.Cut(rest, []byte("\n"))
		// Every page has lines after its .TH line.
		if bytes.Count(th, []byte(generatedDate)) != 1 {
			return fmt.Errorf("man pages: %s is not dated %s", e.Name(), generatedDate)
		}
		th = bytes.Replace(th, []byte(generatedDate), dated, 1)
		out := slices.Concat(head, []byte("\n.TH "), th, []byte("\n"), tail)
		if err := os.WriteFile(filepath.Join(dir, e.Name()), out, 0o666); err != nil {
			return fmt.Errorf("man pages: %w", err)
		}
	}
	return nil
}
