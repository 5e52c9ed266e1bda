package bwrap

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
)

func TestSecretsOnlyInEnvironment(t *testing.T) {
	spec := sandbox.Spec{
		Workspace: "w", Loop: "l", Workdir: "/w", Home: "/h",
		Env: map[string]string{"SPEC_SECRET": "spec-secret-value"},
	}
	x := sandbox.Exec{Cmd: []string{"true"}, Env: map[string]string{"TOKEN": "exec-secret-value"}}
	args, err := buildArgs(spec, x)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(args, " ")
	for _, s := range []string{"spec-secret-value", "exec-secret-value", "--setenv", "--clearenv"} {
		if strings.Contains(joined, s) {
			t.Errorf("argv holds %q: %s", s, joined)
		}
	}
	env := environ(spec, x)
	for _, want := range []string{"SPEC_SECRET=spec-secret-value", "TOKEN=exec-secret-value", "HOME=/h"} {
		if !slices.Contains(env, want) {
			t.Errorf("environment lacks %s: %v", want, env)
		}
	}
}

func TestMountOrderAndSession(t *testing.T) {
	spec := sandbox.Spec{
		Workspace: "w", Loop: "l", Workdir: "/r/work", Home: "/r/home",
		Mounts: []sandbox.Mount{
			{Source: "/r/shared/loops/mine", Target: "/r/shared/loops/mine"},
			{Target: "/r/shared/loops", Tmpfs: true},
			{Source: "/r/shared", Target: "/r/shared"},
			{Source: "/r/ro", Target: "/r/ro", ReadOnly: true},
		},
		Network: sandbox.NetworkNone,
	}
	args, err := buildArgs(spec, sandbox.Exec{Cmd: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(args, " ")
	order := []string{"--bind /r/shared /r/shared", "--tmpfs /r/shared/loops", "--bind /r/shared/loops/mine /r/shared/loops/mine"}
	last := -1
	for _, o := range order {
		i := strings.Index(joined, o)
		if i < 0 || i < last {
			t.Fatalf("argv %s: want %q in this order: %q", joined, o, order)
		}
		last = i
	}
	for _, want := range []string{"--ro-bind /r/ro /r/ro", "--bind /r/work /r/work", "--bind /r/home /r/home", "--new-session", "--chdir /r/work -- sh"} {
		if !strings.Contains(joined, want) {
			t.Errorf("argv lacks %q: %s", want, joined)
		}
	}
	tty, _ := buildArgs(spec, sandbox.Exec{Cmd: []string{"sh"}, TTY: true})
	if slices.Contains(tty, "--new-session") {
		t.Error("a TTY exec gets a new session, losing the caller's terminal")
	}
}

// TestNetworkAndCapabilityArgs: every capability is dropped whatever the
// network; the host's network is shared only with the host policy; the
// isolated one reports the pid and gates the command.
func TestNetworkAndCapabilityArgs(t *testing.T) {
	for _, n := range []sandbox.Network{"", sandbox.NetworkIsolated, sandbox.NetworkNone, sandbox.NetworkHost} {
		spec := sandbox.Spec{Workspace: "w", Loop: "l", Workdir: "/r/work", Network: n}
		args, err := buildArgs(spec, sandbox.Exec{Cmd: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(args, " ")
		if !strings.Contains(joined, "--unshare-all --cap-drop ALL ") {
			t.Errorf("network %q: argv keeps capabilities: %s", n, joined)
		}
		if got, want := slices.Contains(args, "--share-net"), n == sandbox.NetworkHost; got != want {
			t.Errorf("network %q: --share-net %v, want %v", n, got, want)
		}
		gated := strings.HasSuffix(joined, "-- /bin/sh -c "+gateScript+" sh true")
		if got, want := gated && strings.Contains(joined, "--info-fd 4"), n.Or() == sandbox.NetworkIsolated; got != want {
			t.Errorf("network %q: gated %v, want %v: %s", n, got, want, joined)
		}
	}
	if _, err := buildArgs(sandbox.Spec{Workdir: "/w", Network: "bridge"}, sandbox.Exec{Cmd: []string{"true"}}); err == nil {
		t.Error("an unknown network policy is accepted")
	}
}

// TestEtcAllowList: of an etc dir, the sandbox gets the listed entries
// everyone may read, and inside a listed dir what not everyone may read
// is masked; the rest (shadow, keys, anything unlisted) is not mounted.
func TestEtcAllowList(t *testing.T) {
	etc := t.TempDir()
	write := func(rel string, mode os.FileMode) {
		p := filepath.Join(etc, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("passwd", 0o644)
	write("shadow", 0o640)
	write("gitconfig", 0o600)
	write("ssh/ssh_config", 0o644)
	write("ssh/ssh_host_ed25519_key", 0o600)
	write("ssl/certs/ca.pem", 0o644)
	write("ssl/certs/stray.key", 0o600)
	write("ssl/private/server.key", 0o600)
	write("docker/key.json", 0o600)
	write("unlisted", 0o644)
	joined := strings.Join(etcMounts(etc), " ")
	for _, want := range []string{
		"--perms 0755 --tmpfs " + etc,
		"--ro-bind " + etc + "/passwd " + etc + "/passwd",
		"--perms 0755 --dir " + etc + "/ssh --ro-bind " + etc + "/ssh/ssh_config",
		"--ro-bind " + etc + "/ssl/certs " + etc + "/ssl/certs",
		"--ro-bind /dev/null " + etc + "/ssl/certs/stray.key",
		"--remount-ro " + etc,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("etc mounts lack %q: %s", want, joined)
		}
	}
	for _, not := range []string{"shadow", "gitconfig", "ssh_host", "private", "docker", "unlisted"} {
		if strings.Contains(joined, not) {
			t.Errorf("etc mounts hold %q: %s", not, joined)
		}
	}
}

// TestDevPaths: a loop under /dev/shm gets its dirs made 0755 in bwrap's
// own /dev (its binds come after --dev, so they are not hidden); a path
// in the sandbox's /proc or /dev/pts is refused with an error.
func TestDevPaths(t *testing.T) {
	spec := sandbox.Spec{Workspace: "w", Loop: "l", Workdir: "/dev/shm/r/work", Home: "/dev/shm/r/home", Network: sandbox.NetworkNone}
	args, err := buildArgs(spec, sandbox.Exec{Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(args, " ")
	dev := strings.Index(joined, "--dev /dev")
	for _, want := range []string{"--perms 0755 --dir /dev/shm/r", "--bind /dev/shm/r/work /dev/shm/r/work"} {
		if i := strings.Index(joined, want); i < 0 || i < dev {
			t.Errorf("argv lacks %q after --dev /dev: %s", want, joined)
		}
	}
	for _, p := range []string{"/proc/1/root", "/dev/pts/x", "/dev"} {
		if _, err := buildArgs(sandbox.Spec{Workspace: "w", Loop: "l", Workdir: p, Network: sandbox.NetworkNone}, sandbox.Exec{Cmd: []string{"true"}}); err == nil || !strings.Contains(err.Error(), "cannot serve") {
			t.Errorf("workdir %s: %v, want an error that says bwrap cannot serve it", p, err)
		}
	}
}

// TestEtcCopy: the copy bound as the sandbox's /etc holds what the binds
// showed (the listed entries everyone may read, links kept as links) and
// nothing else; it is made once per content, and a change on the host
// makes a new one.
func TestEtcCopy(t *testing.T) {
	etc, base := t.TempDir(), filepath.Join(t.TempDir(), "cache")
	write := func(rel, content string, mode os.FileMode) {
		p := filepath.Join(etc, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
	write("shadow", "root:secret", 0o640)
	write("gitconfig", "secret", 0o600)
	write("ssh/ssh_config", "Host *\n", 0o644)
	write("ssh/ssh_host_ed25519_key", "secret", 0o600)
	write("ssl/certs/ca.pem", "ca", 0o644)
	write("ssl/certs/stray.key", "secret", 0o600)
	write("ssl/private/server.key", "secret", 0o600)
	write("docker/key.json", "secret", 0o600)
	write("unlisted", "x", 0o644)
	if err := os.Symlink("ca.pem", filepath.Join(etc, "ssl/certs/link.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/share/zoneinfo/UTC", filepath.Join(etc, "localtime")); err != nil {
		t.Fatal(err)
	}
	args, err := etcCopyArgs(etc, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 3 || args[0] != "--ro-bind" || args[2] != etc {
		t.Fatalf("etc copy args: %q, want one read-only bind over %s", args, etc)
	}
	dir := args[1]
	var got []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, rel)
		}
		return nil
	})
	want := []string{"localtime", "passwd", "ssh", "ssh/ssh_config", "ssl", "ssl/certs", "ssl/certs/ca.pem", "ssl/certs/link.pem"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the copy holds %q, want %q", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "ssl/certs/link.pem")); err != nil || string(b) != "ca" {
		t.Errorf("link.pem in the copy: %q, %v", b, err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "localtime")); err != nil || target != "/usr/share/zoneinfo/UTC" {
		t.Errorf("localtime in the copy: %q, %v; want the link kept", target, err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "ssh"), filepath.Join(dir, "passwd")} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o005 == 0 && fi.IsDir() || fi.Mode().Perm()&0o004 == 0 {
			t.Errorf("%s in the copy is not world-readable: %v", p, err)
		}
	}
	again, err := etcCopyArgs(etc, base)
	if err != nil || again[1] != dir {
		t.Errorf("the same /etc made another copy: %q, %v", again, err)
	}
	write("passwd", "root:x:0:0::/root:/bin/bash\n", 0o644)
	changed, err := etcCopyArgs(etc, base)
	if err != nil || changed[1] == dir {
		t.Fatalf("a changed /etc kept the old copy: %q, %v", changed, err)
	}
	if b, _ := os.ReadFile(filepath.Join(changed[1], "passwd")); !strings.Contains(string(b), "/bin/bash") {
		t.Errorf("the new copy's passwd: %q", b)
	}
	// A base another user could write is not used.
	if err := os.Chmod(base, 0o777); err != nil {
		t.Fatal(err)
	}
	write("passwd", "changed again\n", 0o644)
	if _, err := etcCopyArgs(etc, base); err == nil {
		t.Error("a world-writable cache dir was used for the copy")
	}
}

// TestEtcCopiesDropped: a new copy removes the copies no sandbox took for
// a month, and keeps one taken since, however old it is.
func TestEtcCopiesDropped(t *testing.T) {
	etc, base := t.TempDir(), filepath.Join(t.TempDir(), "cache")
	passwd := filepath.Join(etc, "passwd")
	copyOf := func(content string) string {
		if err := os.WriteFile(passwd, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		args, err := etcCopyArgs(etc, base)
		if err != nil {
			t.Fatal(err)
		}
		return args[1]
	}
	old, taken := copyOf("a\n"), copyOf("bb\n")
	long := time.Now().Add(-2 * etcCopyAge)
	for _, d := range []string{old, taken} {
		if err := os.Chtimes(d, long, long); err != nil {
			t.Fatal(err)
		}
	}
	// Taken again (the same /etc): its time renewed.
	if args, err := etcCopyArgs(etc, base); err != nil || args[1] != taken {
		t.Fatalf("the same /etc: %q, %v; want the copy %s", args, err, taken)
	}
	current := copyOf("ccc\n")
	for d, want := range map[string]bool{old: false, taken: true, current: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s there: %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
}
