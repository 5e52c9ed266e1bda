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
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/completion"
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

// newRoot builds the command tree as the binary does. The Factory is lazy:
// building the tree runs neither git nor a sandbox engine.
func newRoot() *cobra.Command {
	cmd := root.NewCmdRoot(cmdutil.New())
	// Add what cobra adds only when the binary runs, so the pages list the
	// help command and --version like "git loop --help" does.
	cmd.InitDefaultHelpCmd()
	cmd.InitDefaultVersionFlag()
	return cmd
}

// generate writes man1/ and completions/ under out. Files it does not
// write are removed from those two directories, so a removed command
// loses its page.
func generate(out string, date time.Time) error {
	cmd := newRoot()
	prepare(cmd)

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

	header := &doc.GenManHeader{
		Section: "1",
		Date:    &date,
		Source:  "git loop",
		Manual:  "Git Loop Manual",
	}
	if err := doc.GenManTreeFromOpts(cmd, doc.GenManTreeOptions{
		Header:           header,
		Path:             manDir,
		CommandSeparator: "-",
	}); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}

	// The completion scripts come from a fresh tree: prepare rewrote the
	// descriptions for the man renderer.
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

// prepare readies every command of the tree for cobra's man renderer,
// which reads Short and Long as markdown: the help text is plain text
// written for a terminal, so markdown syntax in it is escaped and its
// indented lines (lists of codes, commands) are kept as preformatted
// blocks instead of being run together into a paragraph. The generated-by
// footer is dropped: it carries a date and says nothing to a reader.
func prepare(cmd *cobra.Command) {
	cmd.DisableAutoGenTag = true
	cmd.Short = escapeMarkdown(cmd.Short)
	cmd.Long = plainToMarkdown(cmd.Long)
	for _, c := range cmd.Commands() {
		prepare(c)
	}
}

// plainToMarkdown turns terminal help text into markdown that renders the
// same: runs of unindented lines are paragraphs; runs of indented lines are
// fenced code blocks, kept verbatim.
func plainToMarkdown(text string) string {
	var blocks []string
	var cur []string
	curPre := false
	flush := func() {
		if len(cur) == 0 {
			return
		}
		if curPre {
			blocks = append(blocks, "```\n"+strings.Join(cur, "\n")+"\n```")
		} else {
			blocks = append(blocks, strings.Join(cur, "\n"))
		}
		cur = nil
	}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			if curPre {
				// A blank line inside a preformatted run stays in it
				// unless the run ends there; trailing blanks are trimmed
				// when the run is flushed.
				cur = append(cur, "")
				continue
			}
			flush()
			continue
		}
		pre := line[0] == ' ' || line[0] == '\t'
		if pre != curPre || len(cur) == 0 {
			trimTrailingBlanks(&cur)
			flush()
			curPre = pre
		}
		if pre {
			cur = append(cur, line)
		} else {
			cur = append(cur, escapeMarkdown(line))
		}
	}
	trimTrailingBlanks(&cur)
	flush()
	return strings.Join(blocks, "\n\n")
}

func trimTrailingBlanks(lines *[]string) {
	for len(*lines) > 0 && (*lines)[len(*lines)-1] == "" {
		*lines = (*lines)[:len(*lines)-1]
	}
}

// markdownEscaper escapes what markdown would otherwise read as emphasis,
// code, links, HTML or escapes in running text.
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`,
	"`", "\\`",
	`*`, `\*`,
	`_`, `\_`,
	`[`, `\[`,
	`]`, `\]`,
	`<`, `\<`,
	`>`, `\>`,
)

func escapeMarkdown(s string) string {
	s = markdownEscaper.Replace(s)
	// A line starting with # would become a heading.
	if strings.HasPrefix(s, "#") {
		s = `\` + s
	}
	return s
}
