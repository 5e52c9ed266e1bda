// Package sandboxtest holds what tests of sandbox drivers and of their
// callers share: the behaviour suite every driver must pass against its real
// engine (Run), a fake engine for error paths no real engine produces
// (Fake), and Require, the one place that decides whether a missing test
// dependency skips a test or fails it.
package sandboxtest

import (
	"os"
	"strings"
	"testing"
)

// RequireEnv names the variable that turns missing test dependencies from
// skips into failures: "all", or a comma-separated list of the names given
// to Require ("docker,bwrap,busybox"). CI sets it to "all", so that a
// runner without an engine cannot pass by skipping.
const RequireEnv = "GIT_LOOP_TEST_REQUIRE"

// Require stops the test when err says a dependency is missing: it skips,
// or fails when RequireEnv asks for that dependency. what names it
// ("docker", "bwrap", "busybox"); install says how to get it. A nil err
// returns at once.
func Require(t testing.TB, err error, what, install string) {
	t.Helper()
	if err == nil {
		return
	}
	stop(t, what, what+" is not available ("+err.Error()+"); "+install)
}

// Long stops a long test in -short mode the way Require stops a test
// without its dependency: under RequireEnv ("all" or "long") it fails, so
// that a CI run cannot pass by being short. why says what makes it long.
func Long(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		stop(t, "long", "a long test ("+why+") in -short mode; run it without -short")
	}
}

// OptIn stops a test that needs what a CI run does not have (a cluster
// built for an hour, say) unless env is "1". Unlike Require, RequireEnv's
// "all" does not make it a failure; naming what in RequireEnv does.
func OptIn(t testing.TB, env, what, how string) {
	t.Helper()
	if os.Getenv(env) == "1" {
		return
	}
	msg := "opt-in test: " + env + "=1 runs it (" + how + ")"
	for _, w := range strings.Split(os.Getenv(RequireEnv), ",") {
		if strings.TrimSpace(w) == what {
			t.Fatalf("%s [%s=%s]", msg, RequireEnv, os.Getenv(RequireEnv))
		}
	}
	t.Skip(msg)
}

func stop(t testing.TB, what, msg string) {
	t.Helper()
	if required(what) {
		t.Fatalf("%s [%s=%s]", msg, RequireEnv, os.Getenv(RequireEnv))
	}
	t.Skipf("%s; set %s=all to make this a failure", msg, RequireEnv)
}

func required(what string) bool {
	for _, w := range strings.Split(os.Getenv(RequireEnv), ",") {
		if w = strings.TrimSpace(w); w == "all" || w == what {
			return true
		}
	}
	return false
}
