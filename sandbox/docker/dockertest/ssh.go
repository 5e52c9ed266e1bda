package dockertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

const installSSH = `install OpenSSH ("sudo apt-get install openssh-client openssh-server") and run the tests as root (sshd needs it)`

// SSHHost starts a real sshd on the host's loopback, for this test only,
// that lets the current user in with a key made for it, and puts an "ssh"
// first on PATH that is the real ssh with a config of the test's (the key,
// the port, no known_hosts), so that DOCKER_HOST=ssh://… reaches this
// machine's docker CLI and through it the engine it talks to. It returns
// the ssh:// address.
func SSHHost(t *testing.T) string {
	t.Helper()
	sshd, err := lookSbin("sshd")
	if err == nil && os.Geteuid() != 0 {
		err = fmt.Errorf("sshd needs root")
	}
	sandboxtest.Require(t, err, "sshd", installSSH)
	keygen, err := exec.LookPath("ssh-keygen")
	sandboxtest.Require(t, err, "ssh-keygen", installSSH)
	docker, err := exec.LookPath("docker")
	sandboxtest.Require(t, err, "docker", `install the docker CLI ("sudo apt-get install docker.io")`)
	dir := t.TempDir()
	for _, k := range []string{"host", "user"} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "user.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	_ = os.MkdirAll("/run/sshd", 0o755)
	// The remote side's PATH must find the docker CLI, as on a real host.
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\nStrictModes no\nPidFile %s\nSetEnv PATH=%s:/usr/local/bin:/usr/bin:/bin\n",
		port, filepath.Join(dir, "host"), filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid"), filepath.Dir(docker))
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	// A file, not a pipe: sessions inherit it, and Wait would wait for
	// them to let go of a pipe.
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	log := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshd: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %d: %s", port, log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return sshClient(t, dir, "127.0.0.1", strconv.Itoa(port), filepath.Join(dir, "user"))
}

// sshClient puts an "ssh" first on PATH that is the real ssh with a config
// of the test's: host alias gitloop-test-ssh is addr:port, logged in with
// key, no known_hosts. It returns the ssh:// address of root there.
func sshClient(t *testing.T, dir, addr, port, key string) string {
	t.Helper()
	ssh, err := exec.LookPath("ssh")
	sandboxtest.Require(t, err, "ssh", installSSH)
	client := fmt.Sprintf("Host gitloop-test-ssh\n  HostName %s\n  Port %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  BatchMode yes\n",
		addr, port, key)
	if err := os.WriteFile(filepath.Join(dir, "ssh_config"), []byte(client), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", ssh, filepath.Join(dir, "ssh_config"))
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return "ssh://root@gitloop-test-ssh"
}

// Engine2SSH lets the test in to the second engine's sshd as root with a
// key of its own, and returns its ssh:// address (through the "ssh" that
// sshClient puts on PATH): an engine on another machine reached as the
// docker CLI reaches one.
func Engine2SSH(t *testing.T, e2 SecondEngine) string {
	t.Helper()
	keygen, err := exec.LookPath("ssh-keygen")
	sandboxtest.Require(t, err, "ssh-keygen", installSSH)
	dir := t.TempDir()
	key := filepath.Join(dir, "user")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	add := exec.Command("docker", "exec", "-i", engineContainer, "sh", "-c", "mkdir -p -m 700 /root/.ssh && cat >> /root/.ssh/authorized_keys")
	add.Stdin = strings.NewReader(string(pub))
	// The first engine runs it, whatever DOCKER_HOST says by now.
	add.Env = append(os.Environ(), "DOCKER_HOST="+e2.outer, "DOCKER_CONTEXT=")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("authorize the test's key on the second engine: %v\n%s", err, out)
	}
	addr, port, err := net.SplitHostPort(e2.SSHAddr)
	if err != nil {
		t.Fatalf("second engine's ssh address %q: %v", e2.SSHAddr, err)
	}
	return sshClient(t, dir, addr, port, key)
}
