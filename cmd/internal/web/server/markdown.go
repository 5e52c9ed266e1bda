package server

import (
	"bytes"
	"html"
	"html/template"
	"regexp"
	"strings"
	"sync"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/gitloop-dev/git-loop/gitloop/knowledge"
)

// md renders CommonMark with GitHub tables, strikethrough and task lists.
// Raw HTML in a document is not passed through (goldmark's default: it
// is replaced by a comment), and dangerous link schemes are dropped.
var md = sync.OnceValue(func() goldmark.Markdown {
	return goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.TaskList, extension.Linkify))
})

// wikiRE finds a [[link]] in rendered HTML, where its text is escaped.
var wikiRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\[\[([^\[\]<>\n]+)\]\]`) })

// renderMarkdown renders a context document, turning each [[link]] that
// resolves into a link to its target's page and marking the others.
func renderMarkdown(src []byte, links []knowledge.WikiLink) template.HTML {
	var buf bytes.Buffer
	if err := md().Convert(src, &buf); err != nil {
		return template.HTML("<pre>" + template.HTMLEscapeString(string(src)) + "</pre>")
	}
	targets := map[string]knowledge.WikiLink{}
	for _, l := range links {
		targets[strings.ToLower(l.Name)] = l
	}
	out := outsideCode(buf.String(), func(text string) string {
		return wikiRE().ReplaceAllStringFunc(text, func(m string) string {
			inner := html.UnescapeString(m[2 : len(m)-2])
			label := inner
			name, alias, ok := strings.Cut(inner, "|")
			if ok {
				label = alias
			}
			name, _, _ = strings.Cut(name, "#")
			name = strings.TrimSpace(name)
			l, found := targets[strings.ToLower(name)]
			esc := template.HTMLEscapeString(strings.TrimSpace(label))
			switch {
			case found && l.Target != "":
				return `<a class="wikilink" href="/context/` + template.HTMLEscapeString(pathEscape(l.Target)) + `">` + esc + `</a>`
			case found && len(l.Candidates) > 0:
				return `<span class="wikilink ambiguous" title="` + template.HTMLEscapeString("ambiguous: "+strings.Join(l.Candidates, ", ")) + `">` + esc + `</span>`
			default:
				return `<span class="wikilink missing" title="no such file">` + esc + `</span>`
			}
		})
	})
	return template.HTML(out) //nolint:gosec // goldmark output with raw HTML disabled; wikilink parts escaped above
}

// codeRE finds the code in rendered HTML: blocks (whose <code> is inside
// the <pre>) and inline spans. goldmark escapes their text, so no tag
// inside ends them early.
var codeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?s)<pre[ >].*?</pre>|<code[ >].*?</code>`) })

// outsideCode applies f to the HTML outside code: [[x]] in code is text.
func outsideCode(h string, f func(string) string) string {
	var b strings.Builder
	last := 0
	for _, m := range codeRE().FindAllStringIndex(h, -1) {
		b.WriteString(f(h[last:m[0]]))
		b.WriteString(h[m[0]:m[1]])
		last = m[1]
	}
	b.WriteString(f(h[last:]))
	return b.String()
}

// pathEscape escapes each segment of a slash-separated path for a URL.
func pathEscape(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = template.URLQueryEscaper(s)
	}
	return strings.ReplaceAll(strings.Join(parts, "/"), "+", "%20")
}
