package dockertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox/docker"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// SecondEngine is a second, real Docker engine for tests of remote
// placement: dockerd in a container of the first engine, reached over
// tcp on the host's loopback. It sees none of the host's paths, as an
// engine on another machine would not.
type SecondEngine struct {
	// Host is its DOCKER_HOST (tcp://127.0.0.1:PORT).
	Host string
	// SSHAddr is its sshd's address on the host's loopback (root logs
	// in with a key Engine2SSH installs).
	SSHAddr string
	// outer is the DOCKER_HOST of the first engine, which runs it.
	outer string
}

// engineInclude are the packages of the engine image: dockerd and what it
// runs, git for the sandbox images loaded into it.
const engineInclude = "git,ca-certificates,docker.io,iptables,procps,openssh-server"

// engineContainer is the name of the second engine's container, kept
// between test runs (as its /var/lib/docker volume is) so that only the
// first run pays for the image build and the loads.
const engineContainer = "gitloop-test-engine2"

var engineChanges = []string{
	"LABEL " + TestLabel + "=1",
	"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"ENV LANG=C.UTF-8",
	// No iptables rules: the outer host's firewall is not this engine's
	// to change, and the tests need no published ports inside.
	// sshd beside it, for ssh:// (keys are put in by Engine2SSH).
	`CMD ["sh", "-c", "mkdir -p /run/sshd && ssh-keygen -A && /usr/sbin/sshd && exec dockerd -H tcp://0.0.0.0:2375 -H unix:///var/run/docker.sock --iptables=false --ip6tables=false"]`,
}

func engineRecipe() string {
	sum := sha256.Sum256([]byte(strings.Join(append([]string{"1", debianSuite, runtime.GOARCH, engineInclude}, engineChanges...), "\n")))
	return hex.EncodeToString(sum[:6])
}

const runEngineFlags = `--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined -v /sys/fs/cgroup:/sys/fs/cgroup`

// Engine2 starts (or finds running) the second engine on the first one
// (the environment's), loads the given images of the first engine into it
// when it lacks them, and returns it. Its image is debootstrapped once
// (Debian plus docker.io, cached as DebianImage's is). The docker CLI
// drives the first engine, as a user setting one up would.
func Engine2(t testing.TB, e *docker.Engine, images ...string) SecondEngine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cli, err := exec.LookPath("docker")
	sandboxtest.Require(t, err, "docker", `install the docker CLI ("sudo apt-get install docker.io")`)
	tag := "gitloop-test/dockerd:" + engineRecipe()
	if err := ensureEngineImage(ctx, e, tag, t.Logf); err != nil {
		if IsMissing(err) {
			sandboxtest.Require(t, err, "debootstrap", installDebootstrap)
		}
		t.Fatal(err)
	}
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, cli, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("docker %s: %w\n%s", strings.Join(args, " "), err, tail(out, 2000))
		}
		return strings.TrimSpace(string(out)), nil
	}
	state, _ := run(nil, "inspect", "-f", "{{.State.Running}} {{.Config.Image}}", engineContainer)
	if state != "true "+tag {
		_, _ = run(nil, "rm", "-f", engineContainer)
		args := append([]string{"run", "-d", "--name", engineContainer, "--label", TestLabel + "=1",
			"-p", "127.0.0.1::2375", "-p", "127.0.0.1::22", "-v", engineContainer + "-lib:/var/lib/docker"}, strings.Fields(runEngineFlags)...)
		if _, err := run(nil, append(args, tag)...); err != nil {
			t.Fatal(err)
		}
	}
	port, err := run(nil, "port", engineContainer, "2375/tcp")
	if err != nil {
		t.Fatal(err)
	}
	host := "tcp://" + strings.TrimSpace(strings.Split(port, "\n")[0])
	env := []string{"DOCKER_HOST=" + host, "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY="}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := run(env, "version", "--format", "{{.Server.Version}}")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := run(nil, "logs", "--tail", "30", engineContainer)
			t.Fatalf("second engine at %s did not answer: %v\n%s", host, err, logs)
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, img := range images {
		want, err := run(nil, "image", "inspect", "-f", "{{.ID}}", img)
		if err != nil {
			t.Fatal(err)
		}
		if have, _ := run(env, "image", "inspect", "-f", "{{.ID}}", img); have == want {
			continue
		}
		start := time.Now()
		// docker save | docker -H second load
		cmd := exec.CommandContext(ctx, "sh", "-c", `"$0" save "$1" | DOCKER_HOST="$2" "$0" load -q`, cli, img, host)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("load %s into %s: %v\n%s", img, host, err, out)
		}
		t.Logf("loaded %s into the second engine in %s", img, time.Since(start).Round(time.Millisecond))
	}
	sshAddr, err := run(nil, "port", engineContainer, "22/tcp")
	if err != nil {
		t.Fatal(err)
	}
	return SecondEngine{Host: host, outer: os.Getenv("DOCKER_HOST"), SSHAddr: strings.TrimSpace(strings.Split(sshAddr, "\n")[0])}
}

func ensureEngineImage(ctx context.Context, e *docker.Engine, tag string, logf func(string, ...any)) error {
	if ok, err := e.ImageExists(ctx, tag); err != nil || ok {
		return err
	}
	dir, err := cacheDir()
	if err != nil {
		return fmt.Errorf("test image cache: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, "debian.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if ok, err := e.ImageExists(ctx, tag); err != nil || ok {
		return err
	}
	start := time.Now()
	tarball, err := debianRootfs(ctx, dir, debianSuite, "dockerd-"+engineRecipe(), engineInclude)
	if err != nil {
		return fmt.Errorf("build %s: %w", tag, err)
	}
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := e.ImportImage(ctx, f, tag, engineChanges); err != nil {
		return fmt.Errorf("import %s: %w", tag, err)
	}
	logf("built %s in %s (root filesystem %s)", tag, time.Since(start).Round(time.Second), tarball)
	return nil
}
