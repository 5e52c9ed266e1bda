package sandboxtest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// unprivilegedEnv marks the copy of a test binary that Unprivileged runs
// as another user.
const unprivilegedEnv = "GIT_LOOP_TEST_UNPRIVILEGED"

// UnprivilegedUID is the user Unprivileged runs tests as: nobody.
const UnprivilegedUID = 65534

// Unprivileged lets a test that means nothing as root (root reads every
// file) run in CI, which runs as root. Not as root, or in the copy it
// started, it returns true: go on with the test. As root it runs this one
// test again in a copy of the test binary as UnprivilegedUID, with a HOME
// and TMPDIR of that user's, reports the copy's result as this test's, and
// returns false: the caller returns at once.
//
//	if !sandboxtest.Unprivileged(t) {
//		return
//	}
func Unprivileged(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 || os.Getenv(unprivilegedEnv) != "" {
		return true
	}
	out, err := runUnprivileged(t)
	Require(t, err, "unprivileged-user", "as root, the tests need to run a copy of themselves as uid "+fmt.Sprint(UnprivilegedUID))
	name := t.Name()
	switch {
	case strings.Contains(out, "--- PASS: "+name+" "):
		t.Logf("ran as uid %d:\n%s", UnprivilegedUID, out)
	case strings.Contains(out, "--- SKIP: "+name+" "):
		stop(t, "unprivileged-user", fmt.Sprintf("as uid %d, it skipped:\n%s", UnprivilegedUID, out))
	default:
		t.Fatalf("as uid %d:\n%s", UnprivilegedUID, out)
	}
	return false
}

// runUnprivileged runs t's test in a copy of the test binary as
// UnprivilegedUID and returns its verbose output. err is for what stopped
// it from running at all, not for the test failing.
func runUnprivileged(t *testing.T) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	// The test binary sits in a directory only root may enter (so does
	// t.TempDir); the other user gets a copy in a directory it can enter.
	dir, err := os.MkdirTemp("", "gitloop-unprivileged-")
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, filepath.Base(self))
	if err := copyExecutable(self, bin); err != nil {
		return "", err
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return "", err
	}
	if err := os.Chown(home, UnprivilegedUID, UnprivilegedUID); err != nil {
		return "", err
	}
	var run []string
	for _, part := range strings.Split(t.Name(), "/") {
		run = append(run, "^"+regexp.QuoteMeta(part)+"$")
	}
	cmd := exec.Command(bin, "-test.run="+strings.Join(run, "/"), "-test.count=1", "-test.v", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), unprivilegedEnv+"=1", "HOME="+home, "TMPDIR="+home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: UnprivilegedUID, Gid: UnprivilegedUID, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), nil // it ran; the output says how it went
	}
	if err != nil {
		return "", fmt.Errorf("run %s as uid %d: %w", bin, UnprivilegedUID, err)
	}
	return string(out), nil
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
