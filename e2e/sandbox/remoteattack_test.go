package sandboxe2e_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

// remoteTranscriptAttack: the agent of a remote loop fills its sessions
// dir, which the host copies out after each exec, with what an unpacker
// may trust: a file that is mostly a hole (a tar that does not know it
// reads its zeros), a hard link to a file outside the sessions dir, a
// FIFO, a link to a host path ($1), names with a newline and terminal
// escapes; and it puts a tar of its own first on the PATH of the host's
// execs, if it can, that writes the hole as a hole. It prints what it
// managed.
const remoteTranscriptAttack = `A="$GIT_LOOP_AGENT_DIR"; P="$A/projects/p"; mkdir -p "$P"
echo '{"type":"user","message":{"role":"user","content":"hi"}}' > "$P/ok.jsonl"
truncate -s 200M "$P/hole.jsonl" 2>/dev/null || dd if=/dev/zero of="$P/hole.jsonl" bs=1 count=0 seek=200M 2>/dev/null
echo secret-of-the-agent > "$A/outside"; ln "$A/outside" "$P/hard.jsonl" 2>/dev/null && echo hardlink
mkfifo "$P/fifo.jsonl" 2>/dev/null && echo fifo
ln -s "$1" "$P/link.jsonl"
printf '{}\n' > "$P/$(printf 'new\nline\033]0;pwned\007.jsonl')" && echo escapes
echo "PATH=$PATH"
# A tar of its own first on PATH, when it can write there (a remote loop
# made by root runs as root in its container): the real one, told to
# write holes as holes (PAX sparse), a few KiB for the 200 MiB file.
if printf '#!/bin/sh\nexec /usr/bin/tar --sparse --format=posix "$@"\n' > /usr/local/bin/tar 2>/dev/null && chmod +x /usr/local/bin/tar; then echo "sparse tar first on PATH"; fi
echo planted`

// TestHostileRemoteTranscripts: whatever a remote loop's agent puts in
// its sessions dir, the copy to the host makes no link, reads no FIFO,
// writes no more than its cap on the host's disk, writes nothing outside
// the host's agent dir, and does not hold the host's exec; log and ls then
// print no control character from it.
func TestHostileRemoteTranscripts(t *testing.T) {
	e := dockertest.Engine(t)
	dockertest.DebianImage(t, e)
	repo := newRepo(t, cmdtest.DockerDriver)
	gittest.Git(t, repo, "config", "loop.sandbox.placement", "remote")
	cmdtest.MustRun(t, repo, "new", "rx", "--driver", "docker", "--detach")
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Read by the transport from the process's env (not a setting).
	t.Setenv("GIT_LOOP_TRANSPORT_TIMEOUT", "5s")
	o := cmdtest.Options{}
	r := cmdtest.RunWith(t, repo, o, "exec", "rx", "--", "sh", "-c", remoteTranscriptAttack, "sh", victim)
	t.Logf("the attack: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	if !strings.Contains(r.Stdout, "planted") {
		t.Fatalf("the attack did not run")
	}
	// Then a tar that never says anything: the copy after the next exec
	// ends at the transport's timeout, and the exec with it.
	if strings.Contains(r.Stdout, "sparse tar first on PATH") {
		cmdtest.RunWith(t, repo, o, "exec", "rx", "--", "sh", "-c", `printf '#!/bin/sh\nexec sleep 600\n' > /usr/local/bin/tar`)
		start := time.Now()
		r = cmdtest.RunWith(t, repo, o, "exec", "rx", "--", "true")
		t.Logf("the next exec, after %s: exit %d\n%s", time.Since(start).Round(time.Millisecond), r.Code, r.Stderr)
		if d := time.Since(start); r.Code != 0 || d > time.Minute || !strings.Contains(r.Stderr, "no end after") {
			t.Errorf("the exec after a silent tar: exit %d after %s, want 0 and a warning after the timeout", r.Code, d)
		}
	}
	host := filepath.Join(repo, ".git", "loop", "loops", "rx", "agent")
	var total int64
	_ = filepath.WalkDir(host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, _ := d.Info()
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t.Errorf("a link on the host: %s", p)
		case fi != nil && fi.Mode()&(fs.ModeNamedPipe|fs.ModeDevice|fs.ModeCharDevice|fs.ModeSocket) != 0:
			t.Errorf("a special file on the host: %s", p)
		case fi != nil && fi.Mode().IsRegular():
			total += fi.Size()
			if b, _ := os.ReadFile(p); strings.Contains(string(b), "secret-of-the-agent") && !strings.HasSuffix(p, "hard.jsonl") {
				t.Errorf("a file outside the sessions dir came out: %s", p)
			}
		}
		return nil
	})
	if total > 64<<20 {
		t.Errorf("%d bytes on the host from the sessions dir, over the 64 MiB cap", total)
	}
	if b, _ := os.ReadFile(victim); string(b) != "host\n" {
		t.Errorf("the host file was written: %q", b)
	}
	for _, args := range [][]string{{"log", "rx"}, {"log", "rx", "--all"}, {"ls"}} {
		r := cmdtest.Run(t, repo, args...)
		out := r.Stdout + r.Stderr
		if i := strings.IndexFunc(out, func(r rune) bool {
			return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0
		}); i >= 0 {
			t.Errorf("%v printed a control character: %q", args, out[max(0, i-20):min(len(out), i+20)])
		}
	}
}
