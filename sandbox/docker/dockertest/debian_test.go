package dockertest

import "testing"

func TestPickMirror(t *testing.T) {
	oneLine := parseOneLine(`# comment
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main # trailing
deb http://sec.example/debian-security bookworm-security main
`)
	if len(oneLine) != 2 || oneLine[0].uri != "http://one.example/debian" || oneLine[0].suites[0] != "bookworm" {
		t.Fatalf("one-line sources: %+v", oneLine)
	}
	deb822 := parseDeb822(`Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://deb.example/debian
Suites: trixie trixie-updates
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm

Types: deb
URIs: http://off.example/debian
Suites: bookworm
Enabled: no

Types: deb
URIs: http://sec.example/debian-security
Suites: bookworm-security
`)
	if len(deb822) != 2 || deb822[0].uri != "http://deb.example/debian" || len(deb822[0].suites) != 2 {
		t.Fatalf("deb822 sources: %+v", deb822)
	}
	for _, tc := range []struct {
		sources []aptSource
		want    string
	}{
		{append(deb822, oneLine...), "http://one.example/debian"}, // serves bookworm
		{deb822, "http://deb.example/debian"},                     // a Debian mirror serves every suite
		{[]aptSource{{uri: "cdrom:[Debian]/", suites: []string{"bookworm"}}}, ""},
		{[]aptSource{{uri: "https://ppa.example/ubuntu", suites: []string{"noble"}}}, ""},
	} {
		got, err := pickMirror(tc.sources, "bookworm")
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("pickMirror(%+v) = %q, %v; want %q", tc.sources, got, err, tc.want)
		}
	}
}
