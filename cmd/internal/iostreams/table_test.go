package iostreams

import (
	"bytes"
	"testing"
)

// TestTableAlignsColouredCells: a coloured cell pads by its visible
// width, so colour never shifts a column.
func TestTableAlignsColouredCells(t *testing.T) {
	red := Colors{on: true}.Red
	var tb Table
	tb.Row(Plain("NAME"), Plain("STATE"), Plain("AGE"))
	tb.Row(Painted("a", red), Painted("broken", red), Plain("3d"))
	tb.Row(Plain("longer"), Plain("ready"), Plain("1h"))
	var b bytes.Buffer
	if err := tb.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := "NAME    STATE   AGE\n" +
		"\x1b[31ma\x1b[0m       \x1b[31mbroken\x1b[0m  3d\n" +
		"longer  ready   1h\n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", b.String(), want)
	}
}
