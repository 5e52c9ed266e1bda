package workspace_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// TestOwnAllAsAttacker: giving a sandbox's dir to its user changes what
// is in it, links as links: a symlink to a host file and a hard link of
// one leave the host file root's.
func TestOwnAllAsAttacker(t *testing.T) {
	var err error
	if os.Getuid() != 0 {
		err = errors.New("not root")
	}
	sandboxtest.Require(t, err, "root", "run the tests as root (as CI does): only root gives files away")
	host := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(host, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(host), "sandbox")
	for _, p := range []string{dir, filepath.Join(dir, "sub")} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "mine"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(host), filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(host, filepath.Join(dir, "hard")); err != nil {
		t.Fatal(err)
	}
	const uid = workspace.SandboxFallbackUID
	// A setuid file the sandbox's user made (its own already) loses the
	// bit: every entry is given again.
	suid := filepath.Join(dir, "sub", "suid")
	if err := os.WriteFile(suid, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(suid, uid, uid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, 0o4755); err != nil {
		t.Fatal(err)
	}
	if err := workspace.OwnAll(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(suid); err != nil || fi.Mode()&os.ModeSetuid != 0 {
		t.Errorf("%s: %v, %v: want the setuid bit cleared", suid, fi.Mode(), err)
	}
	owner := func(p string) int {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return int(fi.Sys().(*syscall.Stat_t).Uid)
	}
	for _, p := range []string{dir, filepath.Join(dir, "sub"), filepath.Join(dir, "sub", "mine"), filepath.Join(dir, "link")} {
		if got := owner(p); got != uid {
			t.Errorf("%s is uid %d's, want %d", p, got, uid)
		}
	}
	for _, p := range []string{host, filepath.Dir(host)} {
		if got := owner(p); got != 0 {
			t.Errorf("the host's %s was given to uid %d", p, got)
		}
	}
	// Own stops at a top already given.
	if err := os.WriteFile(filepath.Join(dir, "later"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := workspace.Own(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	if got := owner(filepath.Join(dir, "later")); got != 0 {
		t.Errorf("Own walked a dir whose top was given already")
	}
}
