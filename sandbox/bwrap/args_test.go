package bwrap

import (
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
