// Command gen-docs writes git loop's man pages and shell completion files
// from the real command tree:
//
//	<out>/man1/git-loop.1, git-loop-new.1, …   one page per visible command
//	<out>/completions/git-loop.bash            bash (also completes "git loop …")
//	<out>/completions/_git-loop                zsh
//	<out>/completions/git-loop.fish            fish
//
// Run it with "go generate ./cmd/git-loop" (which writes man/) or
// "go run ./cmd/gen-docs -out DIR". The pages are reproducible: their date
// comes from SOURCE_DATE_EPOCH when it is set, otherwise it is fixed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/completion"
	"github.com/gitloop-dev/git-loop/cmd/internal/docgen"
	"github.com/gitloop-dev/git-loop/cmd/internal/root"
)

// fixedDate dates the pages when SOURCE_DATE_EPOCH is not set, so that
// regenerating man/ changes nothing unless the command tree changed.
var fixedDate = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

// completionFiles maps each shell to the file its completion is written to,
// under <out>/completions/. The names are the ones each shell looks up for
// the command git-loop.
var completionFiles = []struct{ shell, name string }{
	{"bash", "git-loop.bash"},
	{"zsh", "_git-loop"},
	{"fish", "git-loop.fish"},
}

func main() {
	out := flag.String("out", "man", "directory to write man1/ and completions/ into")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gen-docs [-out DIR]")
		os.Exit(2)
	}
	date, err := dateFromEnv(os.Getenv("SOURCE_DATE_EPOCH"))
	if err == nil {
		err = generate(*out, date)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-docs:", err)
		os.Exit(1)
	}
}

// dateFromEnv is the pages' date: SOURCE_DATE_EPOCH (seconds since the
// epoch, https://reproducible-builds.org/specs/source-date-epoch/) when
// set, otherwise fixedDate.
func dateFromEnv(epoch string) (time.Time, error) {
	if epoch == "" {
		return fixedDate, nil
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid SOURCE_DATE_EPOCH %q: %w", epoch, err)
	}
	return time.Unix(secs, 0).UTC(), nil
}

// newRoot builds the command tree as the binary does.
func newRoot() *cobra.Command { return root.NewDocRoot() }

// generate writes man1/ and completions/ under out. Files it does not
// write are removed from those two directories, so a removed command
// loses its page.
func generate(out string, date time.Time) error {
	manDir := filepath.Join(out, "man1")
	compDir := filepath.Join(out, "completions")
	for _, dir := range []string{manDir, compDir} {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := docgen.ManPages(newRoot, manDir, date); err != nil {
		return err
	}
	compRoot := newRoot()
	for _, c := range completionFiles {
		var buf bytes.Buffer
		if err := completion.Write(compRoot, c.shell, &buf); err != nil {
			return fmt.Errorf("%s completion: %w", c.shell, err)
		}
		if err := os.WriteFile(filepath.Join(compDir, c.name), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
