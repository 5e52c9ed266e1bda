package transport

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/none"
)

// TestReadTarHostile: the transcript stream of a remote loop is the
// sandbox's to write. Names that climb out, absolute names, links, a
// link planted where a later file goes, names outside the asked dirs and
// a stream over the cap put nothing outside dst and follow no link.
func TestReadTarHostile(t *testing.T) {
	dst := t.TempDir()
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	file := func(name, body string) {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))})
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "projects/", Mode: 0o755})
	file("projects/s.jsonl", "{}\n")
	file("../escape", "x")
	file("projects/../../escape2", "x")
	file("/abs", "x")
	file("other/x", "x")
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "projects/link", Linkname: victim})
	file("projects/link", "overwritten\n")
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "projects/dirlink", Linkname: outside})
	file("projects/dirlink/victim", "overwritten\n")
	_ = tw.Close()
	if err := readTar(&buf, dst, []string{"projects", "sessions"}, 1<<20); err != nil {
		t.Logf("readTar: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "host\n" {
		t.Errorf("a host file outside dst was written: %q", b)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "projects", "s.jsonl")); err != nil || string(b) != "{}\n" {
		t.Errorf("the transcript: %q, %v", b, err)
	}
	_ = filepath.Walk(filepath.Dir(dst), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink != 0 {
			t.Errorf("a link was made: %s", p)
		}
		if err == nil && (strings.HasSuffix(p, "escape") || strings.HasSuffix(p, "escape2") || p == filepath.Join(dst, "other")) {
			t.Errorf("written outside the asked dirs: %s", p)
		}
		return nil
	})
	// Over the cap: refused, no more than the cap read.
	buf.Reset()
	tw = tar.NewWriter(&buf)
	file("projects/big", strings.Repeat("x", 4096))
	_ = tw.Close()
	if err := readTar(bytes.NewReader(buf.Bytes()), t.TempDir(), []string{"projects"}, 1024); err == nil {
		t.Errorf("a stream over the cap was taken")
	}
}

// TestWriteTarsNoRoot: the stream that seeds a remote loop carries what
// is under each dir, not the dir itself, which is a mount point inside
// (on a real cluster, a claim's sub-path the kubelet made as root: tar
// running as the pod's user failed to chmod and utime it, and new failed).
func TestWriteTarsNoRoot(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "d", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeTars(&buf, [][2]string{{home, "/loop/home"}, {t.TempDir(), "/loop/agent"}}); err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != "loop/home/d/ loop/home/d/f" {
		t.Errorf("the seed stream: %q, want the dirs' contents only", got)
	}
}

// ustarBlock is a ustar header block: name, typeflag and size.
func ustarBlock(name string, typ byte, size int64) []byte {
	h := make([]byte, 512)
	copy(h[0:], name)
	octal := func(b []byte, n int64) {
		s := strconv.FormatInt(n, 8)
		for len(s) < len(b)-1 {
			s = "0" + s
		}
		copy(b, s)
	}
	octal(h[100:108], 0o644)
	octal(h[108:116], 0)
	octal(h[116:124], 0)
	octal(h[124:136], size)
	octal(h[136:148], 0)
	h[156] = typ
	copy(h[257:], "ustar\x0000")
	for i := 148; i < 156; i++ {
		h[i] = ' '
	}
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
	return h
}

// pad512 pads b to a whole number of tar blocks.
func pad512(b []byte) []byte {
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}

// paxSparse is one PAX sparse entry (GNU's format 1.0, what GNU tar
// --sparse --format=posix writes) named name: one 512-byte data block at
// the end of a file of realsize bytes, the rest a hole. About 2 KiB of
// stream that an unpacker writing what it reads turns into realsize
// bytes on disk.
func paxSparse(name string, realsize int64) []byte {
	var recs []byte
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", name}, {"GNU.sparse.realsize", strconv.FormatInt(realsize, 10)}} {
		r := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(r)
		for len(strconv.Itoa(n))+len(r) != n {
			n = len(strconv.Itoa(n)) + len(r)
		}
		recs = append(recs, strconv.Itoa(n)+r...)
	}
	out := ustarBlock("PaxHeaders/x", 'x', int64(len(recs)))
	out = append(out, pad512(recs)...)
	sparseMap := pad512([]byte(fmt.Sprintf("1\n%d\n512\n", realsize-512)))
	out = append(out, ustarBlock("GNUSparseFile.0/x", '0', int64(len(sparseMap)+512))...)
	out = append(out, sparseMap...)
	out = append(out, bytes.Repeat([]byte("x"), 512)...)
	return append(out, make([]byte, 1024)...) // end of archive
}

// TestReadTarSparse: a sparse entry (what a tar in the sandbox, the
// agent's own or one it put first on PATH, may write) is a few hundred
// bytes of stream that unpack to as much as its header says. The cap is
// on what lands on the host's disk, not only on what crossed the wire.
func TestReadTarSparse(t *testing.T) {
	dst := t.TempDir()
	const max = 1 << 20
	stream := paxSparse("projects/big.jsonl", 64<<20)
	if int64(len(stream)) > max {
		t.Fatalf("the stream is %d bytes, over the cap: the test says nothing", len(stream))
	}
	err := readTar(bytes.NewReader(stream), dst, []string{"projects"}, max)
	t.Logf("readTar: %v", err)
	var n int64
	_ = filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	if n > max {
		t.Errorf("%d bytes written on the host from a %d-byte stream, over the cap of %d", n, len(stream), max)
	}
	if err == nil {
		t.Errorf("a stream that unpacks past the cap was taken")
	}
}

// TestReadTarCapSum: the cap is on the sum of the files: many files each
// under it, together over it, are refused, and none is left empty in
// place of what it was.
func TestReadTarCapSum(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range []string{"projects/a", "projects/b", "projects/c"} {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: 400})
		_, _ = tw.Write(bytes.Repeat([]byte("x"), 400))
	}
	_ = tw.Close()
	dst := t.TempDir()
	if err := readTar(&buf, dst, []string{"projects"}, 1000); err == nil {
		t.Errorf("1200 bytes of files taken under a cap of 1000")
	}
	for _, n := range []string{"a", "b", "c"} {
		if fi, err := os.Stat(filepath.Join(dst, "projects", n)); err == nil && fi.Size() != 400 {
			t.Errorf("projects/%s is %d bytes on the host", n, fi.Size())
		}
	}
}

// TestGetDirsHostileTar: the stream comes from a tar the sandbox may
// have put first on its PATH (its own image, a dir it can write). One
// that never ends, or never says anything, does not hold the host's
// command (exec, run, attach copy transcripts out after each): the copy
// ends at the cap, or at the transport's timeout, with an error.
func TestGetDirsHostileTar(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "projects"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, tar string }{
		{"endless", "#!/bin/sh\nexec yes\n"},
		{"silent", "#!/bin/sh\nexec sleep 600\n"},
		{"garbage-then-silent", "#!/bin/sh\nhead -c 512 /dev/zero | tr '\\0' x\nexec sleep 600\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin := t.TempDir()
			if err := os.WriteFile(filepath.Join(bin, "tar"), []byte(c.tar), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv(EnvTimeout, "2s")
			tg := Target{Engine: none.New(), Spec: sandbox.Spec{Workspace: "t", Loop: "x", Env: map[string]string{"PATH": bin + ":" + os.Getenv("PATH")}}}
			start := time.Now()
			err := GetDirs(t.Context(), tg, src, TranscriptDirs, t.TempDir(), 1<<20)
			t.Logf("GetDirs after %s: %v", time.Since(start).Round(time.Millisecond), err)
			if err == nil {
				t.Errorf("a stream that never ended was taken")
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("GetDirs took %s", d)
			}
		})
	}
}

// TestGetDirsWholeThenSilent: a tar that writes a whole stream and then
// stays, holding its stdout, gives what it wrote and holds the host's
// command for a moment (tarExitGrace), not for the transport's timeout.
func TestGetDirsWholeThenSilent(t *testing.T) {
	realTar, err := exec.LookPath("tar")
	if err != nil {
		t.Fatalf("no tar on this host: %v", err)
	}
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "projects"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "projects", "s.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "tar"), []byte("#!/bin/sh\n"+realTar+" \"$@\"\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvTimeout, "60s")
	tg := Target{Engine: none.New(), Spec: sandbox.Spec{Workspace: "t", Loop: "x", Env: map[string]string{"PATH": bin + ":" + os.Getenv("PATH")}}}
	dst := t.TempDir()
	start := time.Now()
	err = GetDirs(t.Context(), tg, src, TranscriptDirs, dst, 1<<20)
	d := time.Since(start)
	t.Logf("GetDirs after %s: %v", d.Round(time.Millisecond), err)
	if err != nil {
		t.Errorf("a whole stream was refused: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "projects", "s.jsonl")); err != nil || string(b) != "{}\n" {
		t.Errorf("the transcript: %q, %v", b, err)
	}
	if d > tarExitGrace+10*time.Second {
		t.Errorf("GetDirs took %s", d)
	}
}
