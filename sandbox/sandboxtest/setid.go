package sandboxtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// AssertNoSetIDFiles walks dirs on the host (never following a link) and
// fails the test for every file there that a local user could run with
// someone else's privileges or use to reach hardware: setuid, setgid, a
// device node, or one carrying a file capability (security.capability).
func AssertNoSetIDFiles(t testing.TB, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			m := fi.Mode()
			switch {
			case m&os.ModeSetuid != 0:
				t.Errorf("setuid file on the host: %s (%v, uid %d)", p, m, fi.Sys().(*syscall.Stat_t).Uid)
			case m&os.ModeSetgid != 0:
				t.Errorf("setgid file on the host: %s (%v, gid %d)", p, m, fi.Sys().(*syscall.Stat_t).Gid)
			case m&os.ModeDevice != 0:
				t.Errorf("device node on the host: %s (%v)", p, m)
			}
			if m.IsRegular() {
				if n, err := syscall.Getxattr(p, "security.capability", nil); err == nil && n > 0 {
					t.Errorf("file with capabilities on the host: %s", p)
				}
			}
			return nil
		})
	}
}
