package iostreams

import (
	"io"
	"strings"
	"unicode/utf8"
)

// Table lays out columns by the width people see: colour codes count for
// nothing, so a coloured cell lines up with a plain one (text/tabwriter
// counts the escape bytes and shifts every coloured row).
type Table struct {
	rows [][]Cell
}

// Cell is one table cell: its text, and how to colour it once padded.
type Cell struct {
	Text  string
	Paint func(string) string
}

// Plain is a cell without colour.
func Plain(text string) Cell { return Cell{Text: text} }

// Painted is a cell coloured by paint (a Colors method).
func Painted(text string, paint func(string) string) Cell { return Cell{Text: text, Paint: paint} }

// Row adds a row.
func (t *Table) Row(cells ...Cell) { t.rows = append(t.rows, cells) }

// Write prints the table: columns two spaces apart, no trailing spaces.
func (t *Table) Write(w io.Writer) error {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c.Text))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		line := strings.Builder{}
		for i, c := range r {
			text := c.Text
			if c.Paint != nil {
				text = c.Paint(text)
			}
			line.WriteString(text)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.Text)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
