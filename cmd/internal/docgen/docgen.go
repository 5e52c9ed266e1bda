// Package docgen renders git loop's man pages from the real command tree.
// cmd/gen-docs writes them into man/ for the repository and packages;
// "git loop install-docs" writes them for a binary installed bare (go
// install), where git's "git loop --help" otherwise finds no page.
package docgen

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// ManPages writes one page per visible command of the tree newRoot builds
// into dir (git-loop.1, git-loop-new.1, …), dated date. newRoot must build
// a fresh tree: the pages' text is rewritten for the man renderer.
func ManPages(newRoot func() *cobra.Command, dir string, date time.Time) error {
	cmd := newRoot()
	prepare(cmd)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	header := &doc.GenManHeader{
		Section: "1",
		Date:    &date,
		Source:  "git loop",
		Manual:  "Git Loop Manual",
	}
	if err := doc.GenManTreeFromOpts(cmd, doc.GenManTreeOptions{
		Header:           header,
		Path:             dir,
		CommandSeparator: "-",
	}); err != nil {
		return fmt.Errorf("man pages: %w", err)
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
