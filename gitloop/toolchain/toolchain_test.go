package toolchain

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKey: the key changes with each of its inputs and nothing else.
func TestKey(t *testing.T) {
	mise := filepath.Join(t.TempDir(), "mise")
	if err := os.WriteFile(mise, []byte("mise"), 0o755); err != nil {
		t.Fatal(err)
	}
	toml := []byte("[tools]\nx = \"1\"\n")
	k, err := Key("docker", "sha256:a", toml, mise)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := Key("docker", "sha256:a", toml, mise); again != k {
		t.Errorf("same inputs, keys %s and %s", k, again)
	}
	for name, other := range map[string]func() (string, error){
		"driver":    func() (string, error) { return Key("bwrap", "sha256:a", toml, mise) },
		"image":     func() (string, error) { return Key("docker", "sha256:b", toml, mise) },
		"mise.toml": func() (string, error) { return Key("docker", "sha256:a", []byte("[tools]\nx = \"2\"\n"), mise) },
		"mise": func() (string, error) {
			if err := os.WriteFile(mise, []byte("mise 2"), 0o755); err != nil {
				t.Fatal(err)
			}
			return Key("docker", "sha256:a", toml, mise)
		},
	} {
		if o, err := other(); err != nil || o == k {
			t.Errorf("another %s, same key %s (%v)", name, o, err)
		}
	}
}

// TestDeclared: no mise.toml, or an empty one, declares nothing.
func TestDeclared(t *testing.T) {
	dir := t.TempDir()
	if data, err := Declared(dir); data != nil || err != nil {
		t.Errorf("no file: %q, %v", data, err)
	}
	_ = os.WriteFile(filepath.Join(dir, File), []byte("\n  \n"), 0o644)
	if data, err := Declared(dir); data != nil || err != nil {
		t.Errorf("empty file: %q, %v", data, err)
	}
	_ = os.WriteFile(filepath.Join(dir, File), []byte("[tools]\n"), 0o644)
	if data, err := Declared(dir); data == nil || err != nil {
		t.Errorf("a toolchain: %q, %v", data, err)
	}
}

// TestLineWriter: each line is a step, the PATH line is taken out, and
// the error keeps mise's error lines without its footer.
func TestLineWriter(t *testing.T) {
	var steps []string
	w := &lineWriter{step: func(s string) { steps = append(steps, s) }}
	for _, part := range []string{"mise installing 1 tool\nmise ERROR Failed to ins", "tall http:x@1: 404\nmise ERROR Version: 2026\n", pathMark + "/usr/bin:/bin\n", envMark + `{  "PATH": "/t/bin:/usr/bin",  "GOROOT": "/t/go", "GIT_LOOP_CODE_GATE": "direct", "MISE_X": "1"}` + "\n", "last"} {
		_, _ = w.Write([]byte(part))
	}
	w.flush()
	if w.path != "/usr/bin:/bin" {
		t.Errorf("path %q", w.path)
	}
	if env := sandboxEnv(w.env); len(env) != 1 || env["GOROOT"] != "/t/go" {
		t.Errorf("env %q from %q", env, w.env)
	}
	if len(steps) != 4 || strings.Contains(strings.Join(steps, "\n"), pathMark) || strings.Contains(strings.Join(steps, "\n"), envMark) {
		t.Errorf("steps %q", steps)
	}
	e := &Error{Output: w.tail(), Code: 1, Sources: []string{"/team/.claude/mise.toml"}}
	if msg := e.Error(); !strings.Contains(msg, "Failed to install http:x@1: 404") || strings.Contains(msg, "Version") || !strings.Contains(msg, "/team/.claude/mise.toml") {
		t.Errorf("error: %s", msg)
	}
}
