package server

import (
	"strings"
	"unicode/utf8"

	"github.com/gitloop-dev/git-loop/gitloop/session"
	"github.com/gitloop-dev/git-loop/gitloop/transcript"
)

const (
	transcriptPageSize = 100
	transcriptPreview  = 30
	// maxEntryText bounds what one entry shows on a page; the JSON
	// endpoint has it whole.
	maxEntryText = 32 << 10
)

type transcriptEntry struct {
	transcript.Entry
	Index int
	Cut   int // bytes not shown
	Call  bool
}

// Summary is the first line of an entry, shortened, for a collapsed tool
// call or result.
func (e transcriptEntry) Summary() string {
	s := e.Text
	for i, c := range s {
		if c == '\n' {
			s = s[:i]
			break
		}
	}
	if len(s) > 120 {
		cut := 120
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

type transcriptPage struct {
	Name    string
	Page    int
	Size    int
	Entries []transcriptEntry
	More    bool
	Prev    int
	Next    int
	HasPrev bool
}

// lastPage asks transcript for the newest page.
const lastPage = -1

// transcript reads one page of a loop's transcript, streaming past the
// entries before it and stopping after it: only one page is ever held.
// The last page (lastPage) streams the whole file, keeping the newest
// size entries only.
func (s *Server) transcript(name string, page, size int) (*transcriptPage, error) {
	if _, err := s.ws.Get(name); err != nil {
		return nil, err
	}
	last := page == lastPage
	start := page * size
	if last {
		start = 0
	}
	var kept []transcriptEntry
	more := false
	i := 0
	for e, err := range session.Transcript(s.ws, name) {
		if err != nil {
			return nil, err
		}
		if i < start {
			i++
			continue
		}
		if !last && len(kept) == size {
			more = true
			break
		}
		te := transcriptEntry{Entry: e, Index: i, Call: e.Role == transcript.RoleAssistant && e.Tool != ""}
		if len(te.Text) > maxEntryText {
			cut := maxEntryText
			for cut > 0 && !utf8.RuneStart(te.Text[cut]) {
				cut--
			}
			te.Cut = len(te.Text) - cut
			te.Text = strings.Clone(te.Text[:cut])
		}
		if last && len(kept) == size {
			copy(kept, kept[1:])
			kept = kept[:size-1]
		}
		kept = append(kept, te)
		i++
	}
	if last {
		page = 0
		if i > 0 {
			page = (i - 1) / size
		}
		for len(kept) > 0 && kept[0].Index < page*size {
			kept = kept[1:]
		}
	}
	return &transcriptPage{Name: name, Page: page, Size: size, Entries: kept, More: more, Prev: page - 1, Next: page + 1, HasPrev: page > 0}, nil
}
