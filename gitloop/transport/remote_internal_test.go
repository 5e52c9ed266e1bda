package transport

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
