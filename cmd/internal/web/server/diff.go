package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/session"
)

// diffArgs keep git's output plain whatever the user's config says.
var diffArgs = []string{"--no-color", "--no-ext-diff"}

// Limits of one diff page: files beyond the page are counted, not kept,
// and a file's lines beyond maxFileLines are cut.
const (
	filesPerPage  = 25
	maxFileLines  = 3000
	maxLineLength = 2000
)

type diffLine struct {
	Kind     string // add, del, ctx, hunk, meta
	Text     string
	Old, New int // line numbers in the old and new file; 0 when none
}

type diffFile struct {
	Index     int
	Name      string
	Add, Del  int
	Binary    bool
	Lines     []diffLine
	Cut       int // lines not kept
	OnPage    bool
	PageIndex int
}

// diffPage is one page of a loop's diff: every file's name and counts, and
// the lines of the files on this page only.
type diffPage struct {
	Name     string
	Page     int
	Pages    []int
	Files    []*diffFile
	Shown    []*diffFile
	Add, Del int
}

// diff streams "git diff" through a parser, so a huge diff costs memory
// for one page only.
func (s *Server) diff(r *http.Request, name string, page int) (*diffPage, error) {
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	errc := make(chan error, 1)
	go func() {
		err := session.DiffSeen(r.Context(), s.ws, name, diffArgs, pw, &stderr)
		pw.CloseWithError(err)
		errc <- err
	}()
	d := parseDiff(pr, page)
	_, _ = io.Copy(io.Discard, pr)
	d.Name = name
	if err := <-errc; err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return d, fmt.Errorf("%w: %s", err, msg)
		}
		return d, err
	}
	return d, nil
}

func parseDiff(rd io.Reader, page int) *diffPage {
	d := &diffPage{Page: page}
	br := bufio.NewReaderSize(rd, 64<<10)
	var cur *diffFile
	inHunk := false
	oldLine, newLine := 0, 0
	for {
		line, err := readLine(br)
		if err != nil && line == "" {
			break
		}
		if strings.HasPrefix(line, "diff --git ") {
			idx := len(d.Files)
			cur = &diffFile{Index: idx, Name: diffName(line), PageIndex: idx / filesPerPage}
			cur.OnPage = cur.PageIndex == page
			d.Files = append(d.Files, cur)
			if cur.OnPage {
				d.Shown = append(d.Shown, cur)
			}
			inHunk = false
			continue
		}
		if cur == nil {
			continue
		}
		kind := "meta"
		var o, n int
		switch {
		case strings.HasPrefix(line, "@@"):
			kind, inHunk = "hunk", true
			oldLine, newLine = hunkStart(line)
		case inHunk && strings.HasPrefix(line, "+"):
			kind = "add"
			cur.Add++
			d.Add++
			n = newLine
			newLine++
		case inHunk && strings.HasPrefix(line, "-"):
			kind = "del"
			cur.Del++
			d.Del++
			o = oldLine
			oldLine++
		case inHunk && strings.HasPrefix(line, " "):
			kind = "ctx"
			o, n = oldLine, newLine
			oldLine++
			newLine++
		case inHunk && strings.HasPrefix(line, "\\"):
			kind = "ctx"
		case strings.HasPrefix(line, "Binary files"):
			cur.Binary = true
		case strings.HasPrefix(line, "rename to "):
			cur.Name = strings.TrimPrefix(line, "rename to ")
		}
		if !cur.OnPage {
			continue
		}
		if kind == "meta" && (strings.HasPrefix(line, "index ") || strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "+++ ")) {
			continue
		}
		if len(cur.Lines) >= maxFileLines {
			cur.Cut++
			continue
		}
		cur.Lines = append(cur.Lines, diffLine{Kind: kind, Text: line, Old: o, New: n})
	}
	n := (len(d.Files) + filesPerPage - 1) / filesPerPage
	if n > 1 {
		for i := range n {
			d.Pages = append(d.Pages, i)
		}
	}
	return d
}

// hunkStart reads the first old and new line numbers of a hunk header,
// "@@ -12,5 +12,7 @@ func …".
func hunkStart(line string) (old, new int) {
	fields := strings.Fields(line)
	if len(fields) < 3 {
		return 0, 0
	}
	num := func(f, sign string) int {
		f, _, _ = strings.Cut(strings.TrimPrefix(f, sign), ",")
		v, _ := strconv.Atoi(f)
		return v
	}
	return num(fields[1], "-"), num(fields[2], "+")
}

// readLine reads one line without its newline, cutting it at
// maxLineLength (the rest is skipped, not kept).
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(b) < maxLineLength {
			room := maxLineLength - len(b)
			if len(chunk) > room {
				b = append(b, chunk[:room]...)
				b = append(b, "…"...)
			} else {
				b = append(b, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return strings.TrimRight(string(b), "\r\n"), err
	}
}

// diffName is the new path of a "diff --git a/x b/y" line.
func diffName(line string) string {
	rest := strings.TrimPrefix(line, "diff --git ")
	if i := strings.LastIndex(rest, " b/"); i >= 0 {
		return rest[i+3:]
	}
	return rest
}
