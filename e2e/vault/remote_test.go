package vaulte2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/sandbox/docker/dockertest"
)

// TestVaultRemoteLoop: a remote loop (the local engine told
// sandbox.placement = remote: its files in volumes, no host path bound)
// gets its vault's home files in its $HOME on the engine, with the ssh
// modes and GIT_SSH_COMMAND a local loop gets, through new's seed (a tar
// stream on an exec's stdin): never in the container's stored config,
// new's output, or the loop's files on this host.
func TestVaultRemoteLoop(t *testing.T) {
	dockertest.Engine(t)
	repo, e := newRepo(t, cmdtest.DockerDriver)
	gittest.Git(t, repo, "config", "loop.sandbox.placement", "remote")
	fillVaults(t, repo, e)
	r := e.OK("new", "x", "--vault", "work", "--driver", "docker", "--detach")
	if strings.Contains(r.Stderr, "home files are not given") {
		t.Errorf("new still says the vault's home files are not given:\n%s", r.Stderr)
	}
	script := `
echo "token=$API_TOKEN"
echo "other=${OTHER_TOKEN:-absent}"
cat "$HOME/.ssh/id_ed25519"
stat -c 'modes=%a' "$HOME/.ssh" "$HOME/.ssh/id_ed25519"
cat "$HOME/.netrc"
if [ -e "$HOME/.othercfg" ]; then echo othercfg=visible; else echo othercfg=absent; fi
case "$GIT_SSH_COMMAND" in *"$HOME/.ssh/id_ed25519"*IdentitiesOnly=yes*) echo sshcmd=ok;; *) echo "sshcmd=$GIT_SSH_COMMAND";; esac
`
	x := e.OK("exec", "x", "--", "sh", "-c", script)
	for _, want := range []string{"token=" + token, "other=absent", keyBody, "modes=700", "modes=600", "password " + token, "othercfg=absent", "sshcmd=ok"} {
		if !strings.Contains(x.Stdout, want+"\n") {
			t.Errorf("sandbox output lacks %q:\n%s\nstderr:\n%s", want, x.Stdout, x.Stderr)
		}
	}
	for _, v := range []string{token, otherToken, keyBody} {
		if strings.Contains(r.Stdout+r.Stderr, v) {
			t.Errorf("new's output holds a vault value %.12s…", v)
		}
	}
	ws, _ := os.ReadFile(filepath.Join(repo, ".git", "loop", "id"))
	ctr := "gitloop-" + strings.TrimSpace(string(ws)) + "-x"
	out, err := exec.Command("docker", "inspect", ctr).Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), `"Type": "bind"`); n != 0 {
		t.Errorf("the remote loop binds %d host paths", n)
	}
	for _, v := range []string{token, otherToken, keyBody} {
		if strings.Contains(string(out), v) {
			t.Errorf("docker inspect holds a vault value %.12s…", v)
		}
	}
	for _, dir := range []string{filepath.Join(repo, ".git", "loop", "loops", "x"), filepath.Join(repo, ".git", "loop", "host", "x")} {
		filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
			if err == nil && de.Type().IsRegular() {
				b, _ := os.ReadFile(p)
				for _, v := range []string{token, otherToken, keyBody} {
					if strings.Contains(string(b), v) {
						t.Errorf("%s holds a vault value %.12s…", p, v)
					}
				}
			}
			return nil
		})
	}
	e.OK("rm", "x", "--force")
}
