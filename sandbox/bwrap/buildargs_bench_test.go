package bwrap

import (
	"testing"

	"github.com/gitloop-dev/git-loop/sandbox"
)

func BenchmarkBuildArgs(b *testing.B) {
	spec := sandbox.Spec{Workspace: "w", Loop: "l", Workdir: "/tmp", Home: "/tmp", Network: sandbox.NetworkNone}
	for b.Loop() {
		if _, err := buildArgs(spec, sandbox.Exec{Cmd: []string{"true"}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCgroupJoin(b *testing.B) {
	for b.Loop() {
		if _, _, err := cgroupJoin("gitloop-bench", sandbox.Limits{Pids: 4096}); err != nil {
			b.Fatal(err)
		}
	}
}
