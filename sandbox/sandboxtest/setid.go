package sandboxtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// SetIDAttack tries, in every directory given, each way a process can leave
// a file that runs with its uid (or group) for whoever starts it, or a
// device node, or a file capability. Every line it prints but the last ("done") is a success. It needs
// sh, cp and chmod; python3, perl, mknod and setcap where they exist.
const SetIDAttack = `for d; do
  cp /bin/sh "$d/u" && chmod u+s "$d/u" 2>/dev/null && [ -u "$d/u" ] && echo "chmod u+s in $d"
  cp /bin/sh "$d/g" && chmod g+s "$d/g" 2>/dev/null && [ -g "$d/g" ] && echo "chmod g+s in $d"
  cp /bin/sh "$d/n" && chmod 4755 "$d/n" 2>/dev/null && [ -u "$d/n" ] && echo "chmod 4755 in $d"
  if command -v python3 >/dev/null; then
    python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_CREAT|os.O_WRONLY, 0o6755); os.close(fd)" "$d/c" 2>/dev/null && [ -u "$d/c" ] && echo "open O_CREAT 06755 in $d"
    python3 -c "import os,sys,stat; os.mknod(sys.argv[1], stat.S_IFREG|0o4755)" "$d/m" 2>/dev/null && [ -u "$d/m" ] && echo "mknod S_IFREG|04755 in $d"
  fi
  perl -e 'use Fcntl; sysopen(F, $ARGV[0], O_CREAT|O_WRONLY, 06755) or exit 1' "$d/p" 2>/dev/null && [ -u "$d/p" ] && echo "sysopen O_CREAT 06755 in $d"
  mknod "$d/null" c 1 3 2>/dev/null && echo "mknod c 1 3 in $d"
  mknod "$d/sda" b 8 0 2>/dev/null && echo "mknod b 8 0 in $d"
  cp /bin/sh "$d/cap" && setcap cap_setuid+ep "$d/cap" 2>/dev/null && echo "setcap in $d"
  mkdir -p "$d/sgid" && chmod g+s "$d/sgid" 2>/dev/null && [ -g "$d/sgid" ] && echo "setgid dir in $d"
done
echo done`

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
