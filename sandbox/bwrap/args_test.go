package bwrap

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
