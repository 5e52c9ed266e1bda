package dockertest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox/docker"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// DebianTag is the test image DebianImage builds once per engine: a
// minimal Debian with git, for tests that run git inside the sandbox.
const DebianTag = "gitloop-test/debian:1"

// debianSuite is the Debian release of DebianTag.
const debianSuite = "bookworm"

// MirrorEnv overrides the Debian mirror DebianImage reads from the
// machine's apt configuration.
const MirrorEnv = "GIT_LOOP_TEST_DEBIAN_MIRROR"

// CacheEnv names the directory where test images' inputs are kept between
// runs (the Debian root filesystem tarball). Default: /var/cache/gitloop-test
// when writable, else the user's cache dir.
const CacheEnv = "GIT_LOOP_TEST_CACHE"

const installDebootstrap = `install debootstrap ("sudo apt-get install debootstrap") and run the tests as root (debootstrap needs it), with a Debian mirror in the apt configuration or in ` + MirrorEnv

// missingError marks what makes DebianImage skip (or fail under
// GIT_LOOP_TEST_REQUIRE) rather than fail outright: a missing prerequisite.
type missingError struct{ error }

func missing(format string, args ...any) error { return missingError{fmt.Errorf(format, args...)} }

// DebianImage returns DebianTag, building it first when the engine lacks
// it: debootstrap --variant=minbase --include=git,ca-certificates from the
// machine's Debian mirror, imported through the Engine API with
// LABEL dev.gitloop.test=1. The root filesystem tarball is cached (see
// CacheEnv), so an engine without the image costs one import, not another
// debootstrap. Test binaries building it at the same time take turns.
func DebianImage(t testing.TB, e *docker.Engine) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	err := ensureDebian(ctx, e, debianSuite, DebianTag, t.Logf)
	if errors.As(err, new(missingError)) {
		sandboxtest.Require(t, err, "debootstrap", installDebootstrap)
	}
	if err != nil {
		t.Fatal(err)
	}
	return DebianTag
}

// DebianSuiteImage returns a test image like DebianImage's of another
// Debian release (suite, e.g. "trixie"), building it when the engine
// lacks it. Its tag names the recipe it is built by, so an unchanged
// recipe finds the image at once. IsMissing tells a missing prerequisite
// from a failure.
func DebianSuiteImage(ctx context.Context, e *docker.Engine, suite string, logf func(string, ...any)) (string, error) {
	tag := "gitloop-test/debian-" + suite + ":" + debianRecipe(suite)
	return tag, ensureDebian(ctx, e, suite, tag, logf)
}

// IsMissing reports whether err is a missing prerequisite (debootstrap,
// root, a mirror) rather than a failure.
func IsMissing(err error) bool { return errors.As(err, new(missingError)) }

// debianImageChanges are the image settings every Debian test image gets.
var debianImageChanges = []string{
	"LABEL " + TestLabel + "=1",
	"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"ENV LANG=C.UTF-8",
	`CMD ["sleep", "infinity"]`,
}

// debianInclude are the packages debootstrap adds to minbase.
const debianInclude = "git,ca-certificates"

// debianRecipe is a short hash of everything a Debian test image is made
// of but the mirror's current packages.
func debianRecipe(suite string) string {
	sum := sha256.Sum256([]byte(strings.Join(append([]string{"1", suite, runtime.GOARCH, debianInclude}, debianImageChanges...), "\n")))
	return hex.EncodeToString(sum[:6])
}

// ensureDebian makes sure the engine has tag, a Debian image of suite.
func ensureDebian(ctx context.Context, e *docker.Engine, suite, tag string, logf func(string, ...any)) error {
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
		return err // another test binary built it meanwhile
	}
	start := time.Now()
	tarball, err := debianRootfs(ctx, dir, suite, "git", debianInclude)
	if err != nil {
		return fmt.Errorf("build %s: %w", tag, err)
	}
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := e.ImportImage(ctx, f, tag, debianImageChanges); err != nil {
		return fmt.Errorf("import %s: %w", tag, err)
	}
	logf("built %s in %s (root filesystem %s)", tag, time.Since(start).Round(time.Second), tarball)
	return nil
}

func cacheDir() (string, error) {
	if d := os.Getenv(CacheEnv); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	if err := os.MkdirAll("/var/cache/gitloop-test", 0o755); err == nil && syscall.Access("/var/cache/gitloop-test", 2) == nil {
		return "/var/cache/gitloop-test", nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	d = filepath.Join(d, "gitloop-test")
	return d, os.MkdirAll(d, 0o755)
}

// lockFile takes an exclusive lock on name, shared by every process.
func lockFile(name string) (func(), error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}

// debianRootfs returns the cached root filesystem tarball, making it with
// debootstrap when it is not there yet. A missingError says a prerequisite
// is missing. flavour names the include set in the tarball's name.
func debianRootfs(ctx context.Context, cache, suite, flavour, include string) (string, error) {
	tarball := filepath.Join(cache, fmt.Sprintf("debian-%s-minbase-%s-%s.tar", suite, flavour, runtime.GOARCH))
	if _, err := os.Stat(tarball); err == nil {
		return tarball, nil
	}
	bin, err := lookSbin("debootstrap")
	if err != nil {
		return "", missing("%v", err)
	}
	if os.Geteuid() != 0 {
		return "", missing("debootstrap needs root, and %s is not cached yet", tarball)
	}
	mirror, err := debianMirror(suite)
	if err != nil {
		return "", missing("%v", err)
	}
	work, err := os.MkdirTemp(cache, "rootfs-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "root")
	path := os.Getenv("PATH") + ":/usr/local/sbin:/usr/sbin:/sbin"
	run := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(os.Environ(), "PATH="+path, "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(out, 4000))
		}
		return nil
	}
	if err := run(bin, "--variant=minbase", "--include="+include, suite, root, mirror); err != nil {
		return "", err
	}
	// What apt downloaded is of no use in a test image; git run by any
	// uid must accept the host user's repositories, as in the bundled
	// Dockerfile.
	for _, g := range []string{"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*"} {
		matches, _ := filepath.Glob(filepath.Join(root, g))
		for _, m := range matches {
			_ = os.Remove(m)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "gitconfig"), []byte("[safe]\n\tdirectory = *\n"), 0o644); err != nil {
		return "", err
	}
	tmp := filepath.Join(work, "rootfs.tar")
	if err := run("tar", "--numeric-owner", "-C", root, "-cf", tmp, "."); err != nil {
		return "", err
	}
	return tarball, os.Rename(tmp, tarball)
}

func lookSbin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/sbin, /sbin", name)
}

// debianMirror is MirrorEnv, else the machine's Debian mirror from its apt
// sources: one serving suite, else one whose path ends in /debian.
func debianMirror(suite string) (string, error) {
	if m := os.Getenv(MirrorEnv); m != "" {
		return m, nil
	}
	files := []string{"/etc/apt/sources.list"}
	for _, pat := range []string{"/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	var sources []aptSource
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if strings.HasSuffix(f, ".sources") {
			sources = append(sources, parseDeb822(string(data))...)
		} else {
			sources = append(sources, parseOneLine(string(data))...)
		}
	}
	return pickMirror(sources, suite)
}

type aptSource struct {
	uri    string
	suites []string
}

func pickMirror(sources []aptSource, suite string) (string, error) {
	usable := func(s aptSource) bool {
		u, err := url.Parse(s.uri)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "file")
	}
	for _, s := range sources {
		if usable(s) && slices.Contains(s.suites, suite) {
			return s.uri, nil
		}
	}
	for _, s := range sources {
		if usable(s) && strings.HasSuffix(strings.TrimSuffix(s.uri, "/"), "/debian") {
			return s.uri, nil
		}
	}
	return "", fmt.Errorf("no Debian mirror for %s in /etc/apt/sources.list or /etc/apt/sources.list.d (set %s)", suite, MirrorEnv)
}

// parseOneLine reads "deb [options] URI SUITE [COMPONENT...]" lines.
func parseOneLine(data string) []aptSource {
	var out []aptSource
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) > 0 {
				f = f[1:]
			}
		}
		if len(f) >= 2 {
			out = append(out, aptSource{uri: f[0], suites: []string{f[1]}})
		}
	}
	return out
}

// parseDeb822 reads the stanzas of a .sources file.
func parseDeb822(data string) []aptSource {
	var out []aptSource
	for _, stanza := range strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n\n") {
		fields := map[string]string{}
		last := ""
		for _, line := range strings.Split(stanza, "\n") {
			switch {
			case strings.HasPrefix(line, "#"), strings.TrimSpace(line) == "":
			case line[0] == ' ' || line[0] == '\t':
				if last != "" {
					fields[last] += " " + strings.TrimSpace(line)
				}
			default:
				k, v, ok := strings.Cut(line, ":")
				if !ok {
					continue
				}
				last = strings.ToLower(strings.TrimSpace(k))
				fields[last] = strings.TrimSpace(v)
			}
		}
		if !slices.Contains(strings.Fields(fields["types"]), "deb") || strings.EqualFold(fields["enabled"], "no") {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			out = append(out, aptSource{uri: uri, suites: strings.Fields(fields["suites"])})
		}
	}
	return out
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
