package sandboxtest

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// RunStreams checks what git's protocol needs of an exec (sandbox.Exec's
// stream contract through sandbox.StartStream): binary-safe streams of a
// few MB each way, the half-close (EOF reaches the process, its output
// after that still comes back), and an exec that returns when its process
// ends although the caller never closed stdin. spec must be usable by eng
// (its Workdir exists); every driver's suite runs it, and the none
// driver's test on its own.
func RunStreams(t *testing.T, eng sandbox.Engine, spec sandbox.Spec) {
	t.Run("BinaryEcho", func(t *testing.T) {
		data := make([]byte, 3<<20)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		// Bytes a terminal or a line-based copy would mangle, up front.
		copy(data, "\x00\r\n\x1b[0m\x04\x03\xff\r\r\n")
		var stderr bytes.Buffer
		st := sandbox.StartStream(testCtx(t), eng, spec, sandbox.Exec{Cmd: []string{"cat"}, Stderr: &stderr})
		go func() {
			// Written while the output is read, as git's protocol does:
			// neither side may wait for the other's end.
			_, _ = st.Stdin.Write(data)
			_ = st.Stdin.Close()
		}()
		got, err := io.ReadAll(st.Stdout)
		if err != nil {
			t.Fatalf("read stdout: %v", err)
		}
		code, err := st.Wait()
		if err != nil || code != 0 {
			t.Fatalf("cat: exit %d, %v, stderr %q", code, err, stderr.String())
		}
		if !bytes.Equal(got, data) {
			t.Errorf("cat gave back %d bytes that differ from the %d sent (first difference at %d)", len(got), len(data), firstDiff(got, data))
		}
	})
	t.Run("HalfClose", func(t *testing.T) {
		st := sandbox.StartStream(testCtx(t), eng, spec, sandbox.Exec{
			Cmd: []string{"sh", "-c", `n=$(wc -c); echo "got $n"; head -c 2000000 /dev/zero | tr '\0' x; echo; echo end`},
		})
		if _, err := st.Stdin.Write(bytes.Repeat([]byte("y"), 100000)); err != nil {
			t.Fatal(err)
		}
		// Until the close, the process must still be reading.
		if err := st.Stdin.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(st.Stdout)
		if err != nil {
			t.Fatal(err)
		}
		if code, err := st.Wait(); err != nil || code != 0 {
			t.Fatalf("exit %d, %v", code, err)
		}
		want := "got 100000\n" + string(bytes.Repeat([]byte("x"), 2000000)) + "\nend\n"
		if string(got) != want {
			head := got
			if len(head) > 40 {
				head = head[:40]
			}
			t.Errorf("after the half-close: %d bytes starting %q, want %d bytes: the count, 2 MB of output, end", len(got), head, len(want))
		}
	})
	t.Run("EndsBeforeStdin", func(t *testing.T) {
		st := sandbox.StartStream(testCtx(t), eng, spec, sandbox.Exec{Cmd: []string{"head", "-c", "5"}})
		defer st.Stdin.Close()
		if _, err := st.Stdin.Write([]byte("abcde")); err != nil {
			t.Fatal(err)
		}
		done := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(st.Stdout)
			done <- string(b)
		}()
		select {
		case got := <-done:
			if got != "abcde" {
				t.Errorf("head -c 5 printed %q", got)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the process ended but its output did not, with stdin still open")
		}
		if code, err := st.Wait(); err != nil || code != 0 {
			t.Errorf("exit %d, %v", code, err)
		}
	})
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
