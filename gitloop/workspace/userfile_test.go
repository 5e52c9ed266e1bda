package workspace

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/config"
)

// TestSetUserFileDefault: the key lands where TOML allows it (under an
// existing [vault] table, else as a dotted key on top), everything else
// in the file stays, and the settings read it back.
func TestSetUserFileDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, before, after string
	}{
		{"no file", "", "vault.default = \"default\"\n"},
		{"other settings", "agent = \"codex\"\n\n[sandbox]\ndriver = \"bwrap\"\n",
			"vault.default = \"default\"\nagent = \"codex\"\n\n[sandbox]\ndriver = \"bwrap\"\n"},
		{"a vault table", "[sandbox]\ndriver = \"bwrap\"\n[vault] # mine\n",
			"[sandbox]\ndriver = \"bwrap\"\n[vault] # mine\ndefault = \"default\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := UserDirs{Config: t.TempDir()}
			if tc.before != "" {
				if err := os.WriteFile(d.ConfigFile(), []byte(tc.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := SetUserFileDefault(d, "vault.default", "default"); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(d.ConfigFile())
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.after {
				t.Errorf("file:\n%s\nwant:\n%s", b, tc.after)
			}
			cfg, err := config.Load(config.Sources{Files: []config.File{{Kind: "user", Path: filepath.Join(d.Config, "config.toml")}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.VaultDefault(); got != "default" {
				t.Errorf("vault.default read back as %q", got)
			}
		})
	}
}
