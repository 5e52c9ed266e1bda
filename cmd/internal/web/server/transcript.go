package server

import (
	"strings"
	"unicode/utf8"

	"github.com/gitloop-dev/git-loop/gitloop"
)

const (
	transcriptPageSize = 100
	transcriptPreview  = 30
	// maxEntryText bounds what one entry shows on a page; the JSON
	// endpoint has it whole.
	maxEntryText = 32 << 10
)

type transcriptEntry struct {
	gitloop.TranscriptEntry
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

// transcript reads one page of a loop's transcript, streaming past the
// entries before it and stopping after it: only one page is ever held.
func (s *Server) transcript(name string, page, size int) (*transcriptPage, error) {
	if _, err := s.svc.Get(name); err != nil {
		return nil, err
	}
	t := &transcriptPage{Name: name, Page: page, Size: size, Prev: page - 1, Next: page + 1, HasPrev: page > 0}
	start := page * size
	i := 0
	for e, err := range s.svc.Transcript(name) {
		if err != nil {
			return nil, err
		}
		if i < start {
			i++
			continue
		}
		if len(t.Entries) == size {
			t.More = true
			break
		}
		te := transcriptEntry{TranscriptEntry: e, Index: i, Call: e.Role == gitloop.RoleAssistant && e.Tool != ""}
		if len(te.Text) > maxEntryText {
			cut := maxEntryText
			for cut > 0 && !utf8.RuneStart(te.Text[cut]) {
				cut--
			}
			te.Cut = len(te.Text) - cut
			te.Text = strings.Clone(te.Text[:cut])
		}
		t.Entries = append(t.Entries, te)
		i++
	}
	return t, nil
}
