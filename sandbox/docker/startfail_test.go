package docker

import (
	"bytes"
	"testing"
)

// TestStartFilter: the runtime's start failure is held back and parsed;
// anything else passes through byte for byte, however it is split.
func TestStartFilter(t *testing.T) {
	const oci = `OCI runtime exec failed: exec failed: unable to start container process: exec: "go": executable file not found in $PATH: unknown` + "\r\n"
	for _, tc := range []struct {
		name, in, out, reason string
		code                  int
	}{
		{"missing", oci, "", "executable file not found in $PATH", 127},
		{"not executable", `OCI runtime exec failed: exec failed: unable to start container process: exec: "/etc/passwd": permission denied: unknown`, "", "permission denied", 126},
		{"ordinary output", "hello\nworld\n", "hello\nworld\n", "", 0},
		{"a prefix of it, then the end", "OCI run", "OCI run", "", 0},
		{"diverging late", "OCI runtime exec fa1led\n", "OCI runtime exec fa1led\n", "", 0},
		{"empty", "", "", "", 0},
	} {
		for _, chunk := range []int{1, 3, 1000} {
			var out bytes.Buffer
			f := &startFilter{w: &out}
			for i := 0; i < len(tc.in); i += chunk {
				if _, err := f.Write([]byte(tc.in[i:min(i+chunk, len(tc.in))])); err != nil {
					t.Fatal(err)
				}
			}
			pe := f.programError("prog")
			if pe == nil {
				f.release()
			}
			if out.String() != tc.out {
				t.Errorf("%s (chunks of %d): passed %q, want %q", tc.name, chunk, out.String(), tc.out)
			}
			switch {
			case tc.reason == "" && pe != nil:
				t.Errorf("%s: error %v for ordinary output", tc.name, pe)
			case tc.reason != "" && (pe == nil || pe.Reason != tc.reason || pe.Code() != tc.code || pe.Program != "prog"):
				t.Errorf("%s (chunks of %d): %#v, want reason %q code %d", tc.name, chunk, pe, tc.reason, tc.code)
			}
		}
	}
}
