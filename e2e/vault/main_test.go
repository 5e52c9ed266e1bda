// Package vaulte2e_test runs the vault end to end: real git-crypt, the
// personal repo's real bare origin, loops made by "git loop new --vault"
// in docker and bwrap sandboxes, and an ssh server on loopback for the
// loop's own git access.
//
// Tests needing an engine, git-crypt or sshd skip without them (and fail
// under GIT_LOOP_TEST_REQUIRE=all).
package vaulte2e_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
)

func TestMain(m *testing.M) {
	cmdtest.Main(m, nil)
}
