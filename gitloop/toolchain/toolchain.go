// Package toolchain puts the team's tools into a loop's sandbox: the
// composed mise.toml is installed by the host's mise, run inside a
// throwaway sandbox of the loop's driver, into a directory of the user's
// cache named by a content hash, and every loop with the same toolchain
// mounts that directory read-only with its tools on PATH.
//
// One cache dir for docker and bwrap alike: the docker engine binds host
// paths already (every loop's worktree), so a bind of the cache costs a
// new loop nothing, where a derived image would copy mise (150 MB) into
// every build's context and commit the installed tools as a layer.
package toolchain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// File is the composed toolchain's name in a loop's agent dir.
const File = "mise.toml"

// Version is raised when the layout of a toolchain dir changes, so dirs
// built before are not reused.
const Version = 1

// Toolchain is a built toolchain, as a loop's record keeps it.
type Toolchain struct {
	// Dir is the toolchain's directory on the host, mounted read-only at
	// the same path in the loop's sandbox.
	Dir string `json:"dir"`
	// Path is the PATH of the loop's processes: the toolchain's bin/
	// first, then the PATH the sandbox had (the image's, or the host's
	// for bwrap).
	Path string `json:"path"`
	// Env is what mise's environment adds beside PATH: the tiers' [env]
	// and the tools' own variables (GOROOT, JAVA_HOME).
	Env map[string]string `json:"env,omitempty"`
}

// ErrNoMise is returned when a loop declares a toolchain and the host has
// no mise to install it with.
var ErrNoMise = errors.New("no mise on this host")

// Error is a toolchain that could not be built: the loop is not made.
type Error struct {
	// Output is the end of mise's output, where it names the tool that
	// failed.
	Output string
	Code   int
	Dir    string
	// Sources are the tiers' mise.toml files the toolchain was composed
	// from, where the fix goes.
	Sources []string
}

func (e *Error) Error() string {
	failed := failedLines(e.Output)
	if failed == "" {
		failed = strings.TrimSpace(e.Output)
	}
	where := "the mise.toml of the tier that declares it"
	if len(e.Sources) > 0 {
		where = strings.Join(e.Sources, " or ")
	}
	return fmt.Sprintf("toolchain: mise install failed (exit %d): %s; fix that tool's entry in %s, or remove it", e.Code, failed, where)
}

// failedLines are mise's error lines, which name the tool.
func failedLines(out string) string {
	var lines []string
	for l := range strings.SplitSeq(out, "\n") {
		l = strings.TrimSpace(l)
		if !strings.Contains(l, "ERROR") {
			continue
		}
		l = strings.TrimSpace(strings.TrimPrefix(l, "mise ERROR"))
		// mise's own footer: its version and how to see more.
		if strings.HasPrefix(l, "Version:") || strings.Contains(l, "Run with --verbose") || strings.Contains(l, "MISE_VERBOSE") {
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "; ")
}

// Declared returns the composed mise.toml of a loop's agent dir, nil
// when the tiers declare no toolchain (a stat: no cost for loops without).
func Declared(agentDir string) ([]byte, error) {
	data, err := readAgentFile(agentDir, File)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("toolchain: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	return data, nil
}

// maxDeclared bounds the mise.toml read: a composed one is a few lines.
const maxDeclared = 1 << 20

// readAgentFile reads name in the agent dir as hostile data: the sandbox
// writes there. It is opened under an os.Root on the loop dir (the
// sandbox's mount point, which it cannot replace), so a link anywhere on
// the way leads nowhere outside; only a regular file is read (a FIFO
// cannot hang the open), up to maxDeclared.
func readAgentFile(agentDir, name string) ([]byte, error) {
	root, err := os.OpenRoot(filepath.Dir(agentDir))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(filepath.Join(filepath.Base(agentDir), name), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s in %s is not a regular file", name, agentDir)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDeclared+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxDeclared {
		return nil, fmt.Errorf("%s in %s is over %d bytes", name, agentDir, maxDeclared)
	}
	return data, nil
}

// Options say where and with what a toolchain is built.
type Options struct {
	// Mise is the host's mise binary ("" looks for "mise" on PATH). It is
	// mounted read-only into the build, never downloaded.
	Mise string
	// Cache is the root of the toolchain dirs (the user's cache).
	Cache string
	// Base is the build's sandbox: image, user, network and limits of the
	// loop's own (its mounts are not used).
	Base sandbox.Spec
	// Progress gets one step per line mise prints.
	Progress workspace.Progress
	// User is the record of the loop given the toolchain (AddUser), so
	// Collect knows it is used; "" records none.
	User string
}

// Ensure returns the toolchain for mise.toml on eng, building it when no
// loop has built it before: a second loop with the same toolchain, image
// and mise finds it by its hash and mounts it (no build, no download).
func Ensure(ctx context.Context, eng sandbox.Engine, miseToml []byte, o Options) (Toolchain, error) {
	if !eng.Capabilities().HostPaths {
		return Toolchain{}, fmt.Errorf("toolchain: the %s engine cannot bind host paths, where toolchains are kept", eng.Name())
	}
	mise, err := findMise(o.Mise)
	if err != nil {
		return Toolchain{}, err
	}
	base := "host"
	if r, ok := eng.(sandbox.ImageResolver); ok {
		if base, err = r.ImageID(ctx, o.Base.Image); err != nil {
			return Toolchain{}, fmt.Errorf("toolchain: %w", err)
		}
	}
	key, err := Key(eng.Name(), base, miseToml, mise)
	if err != nil {
		return Toolchain{}, err
	}
	dir := filepath.Join(o.Cache, key)
	record := dir + ".json"
	if tc, ok := read(record, dir); ok && o.User == "" {
		return tc, nil
	}
	if err := os.MkdirAll(o.Cache, 0o755); err != nil {
		return Toolchain{}, fmt.Errorf("toolchain: %w", err)
	}
	// Under the lock Collect takes too: a toolchain is never removed
	// between being found and its user being recorded.
	unlock, err := lock(dir + ".lock")
	if err != nil {
		return Toolchain{}, err
	}
	defer unlock()
	// Another command may have built it while this one waited.
	if tc, ok := read(record, dir); ok {
		return tc, addUser(dir, o.User)
	}
	tc, err := build(ctx, eng, miseToml, mise, dir, o)
	if err != nil {
		return Toolchain{}, err
	}
	data, _ := json.Marshal(tc)
	// The record is beside the dir, never in it: the build wrote the dir,
	// and the host writes nothing where it could have planted a link.
	if err := os.WriteFile(record, data, 0o644); err != nil {
		return Toolchain{}, fmt.Errorf("toolchain: %w", err)
	}
	return tc, addUser(dir, o.User)
}

// Key names a toolchain by what decides its content: the driver and the
// image (the tools are built for its libc), the mise.toml, and the mise
// binary (path, size and modification time: a new install is a new key,
// without running it).
func Key(driver, base string, miseToml []byte, mise string) (string, error) {
	fi, err := os.Stat(mise)
	if err != nil {
		return "", fmt.Errorf("toolchain: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "gitloop-toolchain %d\ndriver=%s\nbase=%s\nmise=%s %d %d\n", Version, driver, base, mise, fi.Size(), fi.ModTime().UnixNano())
	h.Write(miseToml)
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

func findMise(p string) (string, error) {
	if p == "" {
		var err error
		if p, err = exec.LookPath("mise"); err != nil {
			return "", fmt.Errorf("toolchain: the loop's tiers declare tools (mise.toml), but %w: install mise (https://mise.jdx.dev) or set sandbox.mise to its path", ErrNoMise)
		}
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("toolchain: sandbox.mise %s: %w", p, ErrNoMise)
	}
	abs, err := filepath.Abs(real)
	if err != nil {
		return "", fmt.Errorf("toolchain: %w", err)
	}
	return abs, nil
}

// read returns the recorded toolchain when its dir is there.
func read(record, dir string) (Toolchain, bool) {
	data, err := os.ReadFile(record)
	if err != nil {
		return Toolchain{}, false
	}
	var tc Toolchain
	if json.Unmarshal(data, &tc) != nil || tc.Dir != dir || !workspace.Exists(dir) {
		return Toolchain{}, false
	}
	return tc, true
}

func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("toolchain: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("toolchain: lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// pathMark starts the line of the build's output that carries the PATH the
// sandbox had.
const pathMark = "gitloop-toolchain-path="

// envMark starts the line with mise's environment, as JSON.
const envMark = "gitloop-toolchain-env="

// script installs the tools, links every tool's executables into bin/ (one
// directory on PATH for all), drops mise's download cache, and prints the
// sandbox's PATH.
const script = `set -e
"$GITLOOP_MISE" install
mkdir -p bin
for d in $("$GITLOOP_MISE" bin-paths); do
	for f in "$d"/*; do
		if [ -f "$f" ] && [ -x "$f" ]; then ln -sf "$f" bin/; fi
	done
done
printf '` + envMark + `'
"$GITLOOP_MISE" env --json | tr -d '\n'
echo
rm -rf "$MISE_CACHE_DIR" "$MISE_DATA_DIR/downloads"
printf '` + pathMark + `%s\n' "$PATH"
`

func build(ctx context.Context, eng sandbox.Engine, miseToml []byte, mise, dir string, o Options) (Toolchain, error) {
	p := o.Progress
	if p == nil {
		p = workspace.NoProgress{}
	}
	// A dir without its record is what an interrupted build left.
	if err := os.RemoveAll(dir); err != nil {
		return Toolchain{}, fmt.Errorf("toolchain: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "home"), 0o755); err != nil {
		return Toolchain{}, fmt.Errorf("toolchain: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, File), miseToml, 0o644); err != nil {
		return Toolchain{}, fmt.Errorf("toolchain: %w", err)
	}
	spec := o.Base
	if uid, gid, ok := workspace.ParseUser(spec.User); ok {
		// Built by the sandbox's user (not root, when git loop is root).
		if err := workspace.OwnAll(dir, uid, gid); err != nil {
			return Toolchain{}, fmt.Errorf("toolchain: %w", err)
		}
	}
	// Named as no loop can be (a loop's name never starts with '-'), so
	// removing it never touches a loop's sandbox; labelled with the
	// workspace, so uninstall finds one a killed build left.
	spec.Loop = "-toolchain-" + filepath.Base(dir)[:12]
	spec.Workdir, spec.Home = dir, filepath.Join(dir, "home")
	spec.Mounts = []sandbox.Mount{
		{Source: dir, Target: dir},
		{Source: mise, Target: mise, ReadOnly: true},
	}
	spec.Ports, spec.Vault = nil, ""
	spec.Env = map[string]string{
		"GITLOOP_MISE":              mise,
		"MISE_DATA_DIR":             filepath.Join(dir, "data"),
		"MISE_CACHE_DIR":            filepath.Join(dir, "cache"),
		"MISE_STATE_DIR":            filepath.Join(dir, "state"),
		"MISE_CONFIG_DIR":           filepath.Join(dir, "config"),
		"MISE_GLOBAL_CONFIG_FILE":   filepath.Join(dir, File),
		"MISE_TRUSTED_CONFIG_PATHS": dir,
		"MISE_YES":                  "1",
	}
	p.Step(fmt.Sprintf("building toolchain %s (mise install, %s)", filepath.Base(dir)[:12], eng.Name()))
	lines := &lineWriter{step: func(l string) { p.Step("toolchain: " + l) }}
	code, err := eng.Exec(ctx, spec, sandbox.Exec{Cmd: []string{"sh", "-c", script}, Stdout: lines, Stderr: lines})
	lines.flush()
	// The build's sandbox is not a loop's: it goes whatever happened.
	if rerr := eng.Remove(context.WithoutCancel(ctx), spec); rerr != nil && err == nil {
		err = rerr
	}
	if err == nil && code != 0 {
		err = &Error{Output: lines.tail(), Code: code, Dir: dir}
	}
	if err == nil && lines.path == "" {
		err = fmt.Errorf("toolchain: the build printed no PATH; its output: %s", lines.tail())
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		var te *Error
		if errors.As(err, &te) {
			return Toolchain{}, err
		}
		return Toolchain{}, fmt.Errorf("toolchain: %w", err)
	}
	return Toolchain{Dir: dir, Path: filepath.Join(dir, "bin") + ":" + lines.path, Env: sandboxEnv(lines.env)}, nil
}

// sandboxEnv is mise's environment for the loops: what the build printed,
// read as data, without PATH (the loop's own, above) and without what git
// loop sets itself (the user, $HOME, GIT_LOOP_*: the sandbox's settings).
func sandboxEnv(data string) map[string]string {
	var all map[string]string
	if json.Unmarshal([]byte(data), &all) != nil {
		return nil
	}
	env := map[string]string{}
	for k, v := range all {
		switch {
		case k == "PATH", k == "HOME", k == "USER", k == "LOGNAME", strings.HasPrefix(k, "GIT_LOOP_"), strings.HasPrefix(k, "MISE_"):
		case k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0):
		default:
			env[k] = v
		}
	}
	if len(env) == 0 {
		return nil
	}
	return env
}

// lineWriter reports each line the build prints as a step, keeps the last
// lines for an error, and takes the PATH line out.
type lineWriter struct {
	step func(string)
	part []byte
	last []string
	path string
	env  string
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.part = append(w.part, b...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.part[:i]))
		w.part = w.part[i+1:]
	}
	return len(b), nil
}

func (w *lineWriter) line(l string) {
	l = strings.TrimRight(l, "\r")
	if v, ok := strings.CutPrefix(l, pathMark); ok {
		// Data from the build, used only as the sandbox's PATH: one line,
		// bounded.
		if len(v) <= 4096 {
			w.path = v
		}
		return
	}
	if v, ok := strings.CutPrefix(l, envMark); ok {
		if len(v) <= 64<<10 {
			w.env = v
		}
		return
	}
	if strings.TrimSpace(l) == "" {
		return
	}
	w.step(strings.TrimSpace(l))
	w.last = append(w.last, l)
	if len(w.last) > 20 {
		w.last = w.last[1:]
	}
}

func (w *lineWriter) flush() {
	if len(w.part) > 0 {
		w.line(string(w.part))
		w.part = nil
	}
}

func (w *lineWriter) tail() string {
	return strings.Join(w.last, "\n")
}

var _ io.Writer = (*lineWriter)(nil)
