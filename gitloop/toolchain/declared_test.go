package toolchain

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDeclaredReadsAsData: the agent dir is the sandbox's to write. A
// mise.toml it replaced by a link to a host file, a FIFO or an endless
// device is refused, not followed, hung on or read whole.
func TestDeclaredReadsAsData(t *testing.T) {
	loop := t.TempDir()
	agent := filepath.Join(loop, "agent")
	if err := os.Mkdir(agent, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(agent, File)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("[tools]\nHOST-SECRET = \"1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, plant := range map[string]func() error{
		"link to a host file": func() error { return os.Symlink(secret, path) },
		"fifo":                func() error { return syscall.Mkfifo(path, 0o644) },
		"link to /dev/zero":   func() error { return os.Symlink("/dev/zero", path) },
	} {
		_ = os.Remove(path)
		if err := plant(); err != nil {
			t.Fatal(err)
		}
		if data, err := Declared(agent); err == nil {
			t.Errorf("%s: read %q, want a refusal", name, data)
		}
	}
	_ = os.Remove(path)
	if err := os.WriteFile(path, []byte("[tools]\ngo = \"1.22\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := Declared(agent); err != nil || len(data) == 0 {
		t.Errorf("a plain mise.toml: %q, %v", data, err)
	}
}
