// Package bwrap is the sandbox driver on bubblewrap. There is no daemon
// and nothing long-lived: every exec builds a fresh set of namespaces over
// a read-only view of the host's system dirs plus the loop's mount table,
// at identical paths, with every capability dropped (as root too). A
// loop's "sandbox" therefore exists exactly when its workdir does; stop
// and remove have nothing to do.
//
// The network follows spec.Network: by default a namespace of its own
// connected outward by pasta or slirp4netns, started for the exec and
// stopped with it, with the host's loopback out of reach (network.go).
//
// Process limits (spec.Limits) go through a cgroup per loop that git loop
// makes where the host lets it (cgroup.go); a seccomp filter keeps the
// process from leaving setuid or setgid files (seccomp.go).
//
// What differs from the docker driver: the process runs the host's
// binaries (there is no image); ports are not published; the limits
// need a cgroup git loop may write (root, or a delegated one), else only
// the pids limit holds, as RLIMIT_NPROC; spec.User only changes the ids
// the process sees (with a user namespace), files written to binds always
// belong to the invoking user; the caller's terminal is handed to the
// process as is, so there is no resize to forward.
package bwrap

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
	"os/user"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// DriverName is what Name returns and what Status.Driver carries.
const DriverName = "bwrap"

// install says how to get bubblewrap, for error messages.
const install = "install bubblewrap (\"sudo apt-get install bubblewrap\", \"sudo dnf install bubblewrap\") or choose another driver (--driver docker|none)"

// Engine is the bwrap driver.
type Engine struct {
	// Path is the bwrap binary.
	Path string
	// NetTool ("pasta" or "slirp4netns") at NetPath connects sandboxes
	// with the isolated network; empty when neither is installed, which
	// only that policy needs.
	NetTool, NetPath string
	// Warn, when set, is told once per process which of spec.Limits
	// this host cannot enforce (no cgroup git loop may write).
	Warn func(msg string)

	warned sync.Map // message -> true
}

var _ sandbox.Engine = (*Engine)(nil)

// New finds bwrap on PATH. Its error wraps sandbox.ErrEngineUnreachable.
func New() (*Engine, error) {
	p, err := exec.LookPath("bwrap")
	if err != nil {
		return nil, fmt.Errorf("bwrap: %w: %v; %s", sandbox.ErrEngineUnreachable, err, install)
	}
	e := &Engine{Path: p}
	e.NetTool, e.NetPath = findNetTool()
	return e, nil
}

// Open is New followed by a trial sandbox, since bwrap may be installed
// where it cannot create namespaces (a container without privileges, a
// kernel or AppArmor policy forbidding user namespaces). It fits
// sandbox.Candidate.Open.
func Open(ctx context.Context) (sandbox.Engine, error) {
	e, err := New()
	if err != nil {
		return nil, err
	}
	if err := e.Probe(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Candidate is the bwrap entry for sandbox.Auto.
func Candidate() sandbox.Candidate {
	return sandbox.Candidate{Name: DriverName, Open: Open}
}

// Probe runs "true" in a sandbox shaped like the real ones and reports
// why it failed, wrapping sandbox.ErrEngineUnreachable.
func (e *Engine) Probe(ctx context.Context) error {
	truePath, err := exec.LookPath("true")
	if err != nil {
		return fmt.Errorf("bwrap probe: %w", err)
	}
	var stderr bytes.Buffer
	// The system mounts a real sandbox has, not "/": a recursive bind of
	// the whole tree also binds every mount under it, and one that another
	// process is making at that moment (a container's overlay) fails the
	// remount with EINVAL, which read as "bwrap cannot work here".
	args := append([]string{"--unshare-all", "--cap-drop", "ALL", "--die-with-parent"}, systemMounts()...)
	cmd := exec.CommandContext(ctx, e.Path, append(args, "--", truePath)...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("bwrap probe: %w: %s cannot create a sandbox here: %s", sandbox.ErrEngineUnreachable, e.Path, msg)
	}
	return nil
}

func (*Engine) Name() string { return DriverName }

// Ensure checks that bwrap and the loop's workdir exist; there is nothing
// to start.
func (e *Engine) Ensure(ctx context.Context, spec sandbox.Spec) (sandbox.Status, error) {
	if _, err := os.Stat(e.Path); err != nil {
		return sandbox.Status{Driver: DriverName}, fmt.Errorf("bwrap: %w: %v; %s", sandbox.ErrEngineUnreachable, err, install)
	}
	st, err := e.Status(ctx, spec)
	if err != nil {
		return st, fmt.Errorf("bwrap ensure %s: workdir %s: %w", spec.Name(), spec.Workdir, err)
	}
	return st, nil
}

// Status reports a loop's sandbox as running whenever its workdir exists,
// and as missing, with an error wrapping sandbox.ErrNotFound, otherwise.
func (*Engine) Status(_ context.Context, spec sandbox.Spec) (sandbox.Status, error) {
	st := sandbox.Status{
		Driver:     DriverName,
		ID:         spec.Name(),
		State:      sandbox.StateRunning,
		ConfigHash: spec.ConfigHash(),
		Labels:     spec.Labels(),
		Ports:      spec.Ports,
	}
	if fi, err := os.Stat(spec.Workdir); err != nil || !fi.IsDir() || spec.Workdir == "" {
		return sandbox.Status{Driver: DriverName, State: sandbox.StateMissing}, sandbox.ErrNotFound
	}
	return st, nil
}

// Stop has nothing to stop: each exec's namespaces die with its process.
func (*Engine) Stop(context.Context, sandbox.Spec) error { return nil }

// Remove removes the loop's cgroups (cgroup.go); the workdir and $HOME
// are the caller's.
func (*Engine) Remove(_ context.Context, spec sandbox.Spec) error {
	cgroupRemove(spec.Name())
	return nil
}

func (e *Engine) warn(msg string) {
	if e.Warn == nil {
		return
	}
	if _, seen := e.warned.LoadOrStore(msg, true); !seen {
		e.Warn(msg)
	}
}

// List finds nothing: no sandbox outlives its exec, so none carries labels.
func (*Engine) List(context.Context, map[string]string) ([]sandbox.Status, error) {
	return nil, nil
}

// Exec runs one process in a new sandbox and returns its exit code (127
// with an error when bwrap could not set the sandbox up).
//
// The environment is built from scratch: PATH, TERM, TZ, COLORTERM, LANG
// and LC_* of the caller, then HOME (spec.Home), USER and LOGNAME, then
// spec.Env, then x.Env. Nothing else of the caller's environment leaks in.
// It reaches bwrap through its process environment, which bwrap hands on
// to the child; --setenv would put the values in argv, readable by every
// user through /proc.
//
// Without a TTY the process gets its own session (--new-session), so it
// cannot push input into the caller's terminal; with one it keeps the
// caller's, and the caller handles raw mode and signals.
func (e *Engine) Exec(ctx context.Context, spec sandbox.Spec, x sandbox.Exec) (int, error) {
	if len(x.Cmd) == 0 {
		return 127, errors.New("bwrap exec: no command given")
	}
	if _, err := e.Ensure(ctx, spec); err != nil {
		return 127, err
	}
	if x.Resize != nil {
		// The process has the caller's terminal itself; drain the sizes
		// so a sender that blocks anyway is not stuck.
		stop := make(chan struct{})
		defer close(stop)
		go drain(x.Resize, stop)
	}
	what := fmt.Sprintf("bwrap exec %s in %s", x.Cmd[0], spec.Name())
	if x.Offline {
		spec.Network = sandbox.NetworkNone
	}
	isolated := spec.Network.Or() == sandbox.NetworkIsolated
	if isolated && e.NetPath == "" {
		return 127, fmt.Errorf("%s: the isolated network needs a user-mode network stack: %w; %s", what, ErrNoNetworkTool, installNet)
	}
	args, err := buildArgs(spec, x)
	if err != nil {
		return 127, fmt.Errorf("%s: %w", what, err)
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return 127, fmt.Errorf("%s: %w", what, err)
	}
	defer statusR.Close()
	// fd 3: the exit status; with the isolated network also fd 4, where
	// bwrap reports the sandbox's pid, and the gate's fds 5 and 6 (see
	// gateScript).
	extra := []*os.File{statusW}
	var infoR, gateW, readyR *os.File
	if isolated {
		var infoW, gateR, readyW *os.File
		infoR, infoW, err = os.Pipe()
		if err == nil {
			gateR, gateW, err = os.Pipe()
		}
		if err == nil {
			readyR, readyW, err = os.Pipe()
		}
		if err != nil {
			return 127, fmt.Errorf("%s: %w", what, err)
		}
		defer infoR.Close()
		defer gateW.Close()
		defer readyR.Close()
		extra = append(extra, infoW, gateR, readyW)
	}
	filter, err := seccompPipe()
	if err != nil {
		for _, f := range extra {
			f.Close()
		}
		return 127, fmt.Errorf("%s: %w", what, err)
	}
	extra = append(extra, filter)

	argv, unenforced := limitedCommand(spec.Name(), spec.Limits, e.Path, args)
	if len(unenforced) > 0 {
		e.warn(fmt.Sprintf("bwrap cannot enforce %s here: no cgroup git loop may write (run as root, or in a delegated cgroup; see docs/security.md), or use docker", strings.Join(unenforced, ", ")))
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = environ(spec, x)
	cmd.Stdout = x.Stdout
	var stdin io.WriteCloser
	switch in := x.Stdin.(type) {
	case nil:
	case *os.File:
		cmd.Stdin = in
	default:
		// Copy it ourselves: exec.Cmd's own copy would hold Wait until the
		// reader ends, which for an interactive reader is never.
		if stdin, err = cmd.StdinPipe(); err != nil {
			return 127, fmt.Errorf("%s: %w", what, err)
		}
	}
	// bwrap reports its own setup errors on stderr; keep the last of them
	// for the returned error unless stderr is a file we must hand on as is.
	tail := &tailWriter{max: 2048}
	cmd.Stderr = x.Stderr
	if _, isFile := x.Stderr.(*os.File); !isFile {
		cmd.Stderr = io.MultiWriter(orDiscard(x.Stderr), tail)
		if sameWriter(x.Stdout, x.Stderr) {
			// One writer for both: exec.Cmd then writes it from a single
			// goroutine, which a bytes.Buffer needs.
			cmd.Stdout = cmd.Stderr
		}
	}
	cmd.ExtraFiles = extra
	cmd.WaitDelay = 2 * time.Second

	err = cmd.Start()
	for _, f := range extra {
		f.Close() // the child's ends
	}
	if err != nil {
		return 127, fmt.Errorf("%s: %w", what, err)
	}
	if isolated {
		pid, err := childPid(infoR)
		if err == nil {
			// The gate says the sandbox is set up: bwrap has brought its
			// loopback up, which must not race the network tool's setup.
			_, err = readyR.Read(make([]byte, 1))
		}
		if err != nil {
			// bwrap failed in its own setup (a mount source missing, say)
			// and ends by itself; its message is the one to show.
			_ = cmd.Wait()
			msg := strings.TrimSpace(tail.String())
			if msg == "" {
				msg = "see its message above"
			}
			return 127, fmt.Errorf("%s: sandbox setup failed: %s", what, msg)
		}
		net, err := connect(ctx, e.NetTool, e.NetPath, pid)
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 127, fmt.Errorf("%s: connect the sandbox's network: %w; or set sandbox.network = none", what, err)
		}
		defer net.stop()
		if _, err := gateW.Write([]byte("go\n")); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 127, fmt.Errorf("%s: start the command: %w", what, err)
		}
		gateW.Close()
	}
	if stdin != nil {
		go func() {
			_, _ = io.Copy(stdin, x.Stdin)
			_ = stdin.Close()
		}()
	}
	status := make(chan bwrapStatus, 1)
	go func() { status <- readStatus(statusR) }()
	runErr := cmd.Wait()
	st := <-status

	switch {
	case st.ExitCode != nil:
		if code := *st.ExitCode; code == 126 || code == 127 {
			// The shell that starts the command (the network gate) says
			// 127 for a program it cannot find, as the program itself
			// may: only a program the sandbox's PATH lacks is an error.
			if pe := missingProgram(x.Cmd[0], cmd.Env); pe != nil {
				return pe.Code(), pe
			}
		}
		return *st.ExitCode, nil
	case ctx.Err() != nil:
		return 130, fmt.Errorf("%s: %w", what, ctx.Err())
	}
	// bwrap reports the exit code of every child that ran, so without one
	// it failed while setting up (a mount source missing, say) or died,
	// or could not start the program.
	msg := strings.TrimSpace(tail.String())
	if pe := programError(x.Cmd[0], msg, cmd.Env); pe != nil {
		return pe.Code(), pe
	}
	if msg == "" {
		msg = "see its message above"
		if runErr != nil {
			msg = runErr.Error() + "; " + msg
		}
	}
	return 127, fmt.Errorf("%s: sandbox setup failed: %s", what, msg)
}

// seccompPipe is the read end of a pipe holding the seccomp filter, the
// whole of it (far below a pipe's buffer), its write end closed.
func seccompPipe() (*os.File, error) {
	prog, err := seccompProgram()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	_, err = w.Write(prog)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// programError recognises bwrap's own report that the program could not
// be started ("bwrap: execvp go: No such file or directory"). When that
// went to a terminal unseen (stderr handed on as is), a program that is
// on no directory of the sandbox's PATH is taken as the cause: the
// sandbox sees the host's system directories and its mounts at their host
// paths, so what the host lacks there, the sandbox lacks too.
func programError(cmd0, msg string, env []string) *sandbox.ProgramError {
	if i := strings.LastIndex(msg, "bwrap: execvp "); i >= 0 {
		rest := strings.TrimSpace(msg[i+len("bwrap: execvp "):])
		if _, reason, ok := strings.Cut(rest, ": "); ok {
			return &sandbox.ProgramError{Program: cmd0, Reason: reason}
		}
	}
	if msg != "" {
		return nil
	}
	return missingProgram(cmd0, env)
}

// MissingProgram is what Exec reports for x's program after a 126 or 127
// exit (sandbox.ProgramChecker): a wrapped exec (a sealed loop's) asks it
// for the command inside the wrapper.
func (e *Engine) MissingProgram(spec sandbox.Spec, x sandbox.Exec) *sandbox.ProgramError {
	if len(x.Cmd) == 0 {
		return nil
	}
	return missingProgram(x.Cmd[0], environ(spec, x))
}

// missingProgram is a ProgramError when cmd0 is on no directory of the
// PATH in env (or, with a slash, does not exist), as the host sees them.
func missingProgram(cmd0 string, env []string) *sandbox.ProgramError {
	if strings.Contains(cmd0, "/") {
		if _, err := os.Stat(cmd0); os.IsNotExist(err) {
			return &sandbox.ProgramError{Program: cmd0, Reason: "No such file or directory"}
		}
		return nil
	}
	path := "/usr/bin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if fi, err := os.Stat(filepath.Join(dir, cmd0)); err == nil && !fi.IsDir() {
			return nil
		}
	}
	return &sandbox.ProgramError{Program: cmd0, Reason: "executable file not found in $PATH"}
}

// statusFD is the fd number the child of exec.Cmd sees its first
// ExtraFiles entry as.
const statusFD = "3"

// seccompFD is the fd bwrap reads the seccomp filter from: after the
// status fd and, with the isolated network, the three of network.go.
func seccompFD(n sandbox.Network) string {
	if n.Or() == sandbox.NetworkIsolated {
		return "7"
	}
	return "4"
}

// buildArgs is bwrap's argv. It must never hold a secret: argv is world-
// readable in /proc, which is why env travels in the process environment.
func buildArgs(spec sandbox.Spec, x sandbox.Exec) ([]string, error) {
	dir := x.Dir
	if dir == "" {
		dir = spec.Workdir
	}
	// Every capability goes, also when git loop runs as root: with them
	// the process could unmount the tmpfs hiding other loops' state, or
	// remount the read-only binds.
	drop, err := dropTo(spec.User)
	if err != nil {
		return nil, err
	}
	unshare := []string{"--unshare-all"}
	if drop != nil {
		// Not the user namespace: root's would map uid 0 alone, and
		// setpriv could not become the user. Its capabilities are
		// dropped all the same.
		unshare = []string{"--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"}
	}
	a := append(unshare,
		"--cap-drop", "ALL", "--die-with-parent",
		"--json-status-fd", statusFD,
		"--hostname", hostname(spec.Loop),
		// No setuid or setgid file (seccomp.go): the last of the fds
		// Exec hands bwrap.
		"--seccomp", seccompFD(spec.Network),
	)
	net, err := netArgs(spec.Network)
	if err != nil {
		return nil, err
	}
	a = append(a, net...)
	if !x.TTY {
		a = append(a, "--new-session")
	}
	if drop != nil {
		// As root, with the capabilities setpriv needs to become the
		// sandbox's user and empty the bounding set; it loses them in
		// doing so (a uid other than 0 keeps none), before anything of
		// the loop's runs.
		a = append(a, "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP")
	} else if spec.User != "" && spec.User != invokingUser() {
		uid, gid, _ := strings.Cut(spec.User, ":")
		if _, err := strconv.Atoi(uid); err != nil {
			return nil, fmt.Errorf("user %q: bwrap needs numeric uid:gid", spec.User)
		}
		a = append(a, "--unshare-user", "--uid", uid)
		if gid != "" {
			if _, err := strconv.Atoi(gid); err != nil {
				return nil, fmt.Errorf("user %q: bwrap needs numeric uid:gid", spec.User)
			}
			a = append(a, "--gid", gid)
		}
	}
	a = append(a, systemMounts()...)
	if drop != nil {
		a = append(a, userEtc(spec.User, spec.Home)...)
	}
	mounts, err := mountArgs(spec)
	if err != nil {
		return nil, err
	}
	a = append(a, mounts...)
	a = append(a, "--chdir", dir, "--")
	a = append(a, drop...)
	if spec.Network.Or() == sandbox.NetworkIsolated {
		a = append(a, "/bin/sh", "-c", gateScript, "sh")
	}
	return append(a, x.Cmd...), nil
}

// systemMounts is the read-only host system the process runs on: /usr and
// the top-level dirs that merged-/usr hosts make symlinks into it, the
// parts of /etc in etcAllow, a private /dev, /proc and /tmp.
func systemMounts() []string {
	a := []string{"--ro-bind", "/usr", "/usr"}
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(d); err == nil {
				a = append(a, "--symlink", target, d)
			}
		case fi.IsDir():
			a = append(a, "--ro-bind", d, d)
		}
	}
	a = append(a, hostEtc()...)
	// 1777 as on the host: a sandbox run as a user writes its temp files.
	return append(a, "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp")
}

// userEtc gives a sandbox that root runs as another user (dropTo) a
// passwd and group entry for it when the host has none (the fallback
// uid): git, ssh and whoami look the user up. The files are the host's
// with the entry added, written once per content to a root-owned dir
// of the host's temp dir and bound read-only over the host's.
func userEtc(userSpec, home string) []string {
	uid, gid, _ := strings.Cut(userSpec, ":")
	if _, err := user.LookupId(uid); err == nil {
		return nil
	}
	passwd, err1 := os.ReadFile("/etc/passwd")
	group, err2 := os.ReadFile("/etc/group")
	if err1 != nil || err2 != nil {
		return nil
	}
	if home == "" {
		home = "/"
	}
	add := func(data []byte, line string) []byte {
		if len(data) > 0 && data[len(data)-1] != '\n' {
			data = append(data, '\n')
		}
		return append(data, line+"\n"...)
	}
	passwd = add(passwd, "loop:x:"+uid+":"+gid+":git loop:"+home+":/bin/sh")
	if _, err := user.LookupGroupId(gid); err != nil {
		group = add(group, "loop:x:"+gid+":")
	}
	var a []string
	for _, f := range []struct {
		name string
		data []byte
	}{{"passwd", passwd}, {"group", group}} {
		sum := sha256.Sum256(f.data)
		dir := filepath.Join(os.TempDir(), "git-loop-0-etc")
		path := filepath.Join(dir, f.name+"-"+hex.EncodeToString(sum[:8]))
		if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil
			}
			if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || fi.Sys().(*syscall.Stat_t).Uid != 0 {
				return nil // not ours: a planted dir is not trusted
			}
			tmp, err := os.CreateTemp(dir, ".tmp-*")
			if err != nil {
				return nil
			}
			_, werr := tmp.Write(f.data)
			cerr := tmp.Close()
			if werr != nil || cerr != nil || os.Chmod(tmp.Name(), 0o644) != nil || os.Rename(tmp.Name(), path) != nil {
				_ = os.Remove(tmp.Name())
				return nil
			}
		}
		a = append(a, "--ro-bind", path, "/etc/"+f.name)
	}
	return a
}

// etcAllow is what a sandbox sees of the host's /etc: what the dynamic
// linker, the shells, user and name lookups, TLS roots, git, ssh, curl
// and the common language runtimes read to start. It is an allow-list,
// not a list of secrets to hide, because /etc is where the host keeps
// root-only secrets (shadow, ssh host keys, the Docker daemon's key,
// TLS private keys, whatever the next package installs), and git loop
// running as root makes the sandbox uid 0: a file nobody listed stays
// out. Globs are filepath.Match patterns, relative to /etc.
var etcAllow = []string{
	// users, groups, names, time
	"passwd", "group", "nsswitch.conf", "hosts", "host.conf", "resolv.conf", "gai.conf",
	"services", "protocols", "networks", "localtime", "timezone", "mtab",
	// the dynamic linker, binaries switched by alternatives
	"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives",
	// shells and terminals
	"profile", "profile.d", "bash.bashrc", "inputrc", "shells", "terminfo", "environment",
	"locale.alias", "locale.conf", "default/locale", "os-release", "lsb-release", "debian_version",
	"vim", "nanorc", "magic", "magic.mime", "mime.types", "mailcap",
	// TLS roots (Debian, Fedora), never their private keys
	"ssl/certs", "ssl/openssl.cnf", "ca-certificates", "ca-certificates.conf", "gnutls",
	"pki/tls/certs", "pki/tls/cert.pem", "pki/tls/openssl.cnf", "pki/ca-trust", "crypto-policies",
	// tools' system-wide config
	"gitconfig", "gitattributes", "ssh/ssh_config", "ssh/ssh_config.d", "ssh/ssh_known_hosts",
	"krb5.conf", "wgetrc", "curlrc", "npmrc", "pip.conf", "xml", "sgml", "fonts",
	"chromium", "chromium.d",
	// runtimes whose files under /usr link back into /etc (Debian)
	"python3", "python3.*", "perl", "java-*",
}

// etcMounts is the host's etc dir as the sandbox sees it: a read-only
// tmpfs holding the allow-listed entries that every user may read (a
// file readable only by root or a group is left out even when listed),
// with anything inside an allowed directory that not everyone may read
// masked. A symlink is kept as a symlink; one pointing out of the dirs
// the sandbox sees (resolv.conf under systemd-resolved) gets its target
// bound too, or name resolution breaks.
func etcMounts(etc string) []string {
	// bwrap makes the dirs it creates 0700; a sandbox running as a user
	// other than root must still reach /etc/ssl/certs.
	a := []string{"--perms", "0755", "--tmpfs", etc}
	made := map[string]bool{etc: true}
	parents := func(p string) {
		var todo []string
		for d := filepath.Dir(p); !made[d] && strings.HasPrefix(d, etc+"/"); d = filepath.Dir(d) {
			todo = append(todo, d)
		}
		for i := len(todo) - 1; i >= 0; i-- {
			a = append(a, "--perms", "0755", "--dir", todo[i])
			made[todo[i]] = true
		}
	}
	for _, pat := range etcAllow {
		matches, _ := filepath.Glob(filepath.Join(etc, pat))
		for _, p := range matches {
			fi, err := os.Lstat(p)
			if err != nil {
				continue
			}
			parents(p)
			if fi.Mode()&os.ModeSymlink != 0 {
				a = append(a, etcSymlink(p)...)
				continue
			}
			if !worldReadable(fi) {
				continue
			}
			a = append(a, "--ro-bind", p, p)
			if fi.IsDir() {
				a = append(a, maskUnreadable(p)...)
			}
		}
	}
	return append(a, "--remount-ro", etc)
}

func etcSymlink(p string) []string {
	target, err := os.Readlink(p)
	if err != nil {
		return nil
	}
	a := []string{"--symlink", target, p}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return a
	}
	for _, seen := range []string{"/usr/", "/proc/", "/etc/"} {
		if strings.HasPrefix(real, seen) {
			return a
		}
	}
	if fi, err := os.Stat(real); err == nil && fi.Mode().IsRegular() && worldReadable(fi) {
		a = append(a, "--ro-bind", real, real)
	}
	return a
}

// maskUnreadable hides what in dir not everyone may read: an empty tmpfs
// over a directory, /dev/null over a file.
func maskUnreadable(dir string) []string {
	var a []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir || d.Type()&os.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil || worldReadable(fi) {
			return nil
		}
		if d.IsDir() {
			a = append(a, "--tmpfs", p)
			return filepath.SkipDir
		}
		a = append(a, "--ro-bind", os.DevNull, p)
		return nil
	})
	return a
}

// worldReadable: everyone may read it (and, for a directory, list and
// enter it).
func worldReadable(fi os.FileInfo) bool {
	if fi.IsDir() {
		return fi.Mode().Perm()&0o005 == 0o005
	}
	return fi.Mode().Perm()&0o004 != 0
}

// mountArgs is the loop's mount table, plus the workdir and $HOME as
// read-write binds when the spec mounts nothing at exactly their paths,
// parents before children so a tmpfs hiding a dir comes before the binds
// reopening parts of it.
func mountArgs(spec sandbox.Spec) ([]string, error) {
	ms := append([]sandbox.Mount(nil), spec.Mounts...)
	for _, p := range []string{spec.Workdir, spec.Home} {
		if p == "" {
			continue
		}
		found := false
		for _, m := range ms {
			found = found || filepath.Clean(m.Target) == filepath.Clean(p)
		}
		if !found {
			ms = append(ms, sandbox.Mount{Source: p, Target: p})
		}
	}
	sort.SliceStable(ms, func(i, j int) bool {
		return strings.Count(filepath.Clean(ms[i].Target), "/") < strings.Count(filepath.Clean(ms[j].Target), "/")
	})
	var a []string
	// The system's binds (systemMounts) and the dirs it makes. /dev is
	// no bind but a tmpfs of bwrap's (--dev), which hides the host's:
	// a loop whose paths are under it (a repository in /dev/shm) gets
	// its dirs made there, reachable, and its binds on top.
	binds := []string{"/usr", "/etc", "/proc"}
	made := map[string]bool{"/tmp": true, "/dev": true, "/dev/shm": true}
	for _, m := range ms {
		if !filepath.IsAbs(m.Target) {
			return nil, fmt.Errorf("mount target %q is not an absolute path", m.Target)
		}
		target := filepath.Clean(m.Target)
		if underBind([]string{"/proc", "/dev/pts"}, target) || target == "/dev" {
			// The sandbox's own /proc and devices: a path there cannot be
			// served (bwrap would fail or hide them).
			return nil, fmt.Errorf("mount target %s: bwrap cannot serve a path in the sandbox's own /proc or /dev/pts; move the repository elsewhere", target)
		}
		// The dirs bwrap makes for a mount's target are 0700 (root's, as
		// root): made 0755 first, so a sandbox run as a user reaches its
		// mounts. Not below a bind, whose dirs are the host's.
		var dirs []string
		for d := filepath.Dir(target); d != "/" && !made[d] && !underBind(binds, d); d = filepath.Dir(d) {
			dirs = append(dirs, d)
		}
		for i := len(dirs) - 1; i >= 0; i-- {
			made[dirs[i]] = true
			a = append(a, "--perms", "0755", "--dir", dirs[i])
		}
		if !m.Tmpfs {
			binds = append(binds, target)
		}
		switch {
		case m.Tmpfs:
			a = append(a, "--tmpfs", target)
		case !filepath.IsAbs(m.Source):
			return nil, fmt.Errorf("mount source %q is not an absolute path", m.Source)
		case m.ReadOnly:
			a = append(a, "--ro-bind", filepath.Clean(m.Source), target)
		default:
			a = append(a, "--bind", filepath.Clean(m.Source), target)
		}
	}
	return a, nil
}

// underBind says d is a bind target of binds or below one.
func underBind(binds []string, d string) bool {
	for _, b := range binds {
		if d == b || strings.HasPrefix(d, b+"/") {
			return true
		}
	}
	return false
}

func environ(spec sandbox.Spec, x sandbox.Exec) []string {
	base := map[string]string{}
	// Of the caller's variables, the sandbox gets what terminals and
	// locales need and the PATH that finds the host binaries it shows.
	// Anything else (tokens in the user's shell above all) stays out.
	for _, k := range []string{"PATH", "TERM", "COLORTERM", "TZ", "LANG", "LANGUAGE"} {
		if v, ok := os.LookupEnv(k); ok {
			base[k] = v
		}
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LC_") {
			k, v, _ := strings.Cut(kv, "=")
			base[k] = v
		}
	}
	if _, ok := base["PATH"]; !ok {
		base["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	name := userName(spec.User)
	base["USER"], base["LOGNAME"] = name, name
	if spec.Home != "" {
		base["HOME"] = spec.Home
	}
	for k, v := range spec.Env {
		base[k] = v
	}
	// After spec.Env, whose PATH (a loop's toolchain first) it goes
	// before.
	if len(spec.Path) > 0 {
		base["PATH"] = strings.Join(spec.Path, ":") + ":" + base["PATH"]
	}
	return sandbox.MergeEnv(base, x.Env)
}

// dropTo is the command that makes a sandbox started by root run as
// userSpec ("uid:gid") instead: setpriv, from the host's /usr, which the
// sandbox sees read-only. Nil when not root, or when the user is root.
// The host's mounts stay bound by root, so sources it alone may reach
// (the state dir, 0700) still bind; what the sandbox writes in them is
// given to the user beforehand (gitloop/workspace.Own).
func dropTo(userSpec string) ([]string, error) {
	if os.Getuid() != 0 || userSpec == "" {
		return nil, nil
	}
	uid, gid, ok := strings.Cut(userSpec, ":")
	u, err1 := strconv.Atoi(uid)
	_, err2 := strconv.Atoi(gid)
	if !ok || err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %q: bwrap needs numeric uid:gid", userSpec)
	}
	if u == 0 {
		return nil, nil
	}
	setpriv := ""
	for _, p := range []string{"/usr/bin/setpriv", "/usr/sbin/setpriv"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			setpriv = p
			break
		}
	}
	if setpriv == "" {
		return nil, fmt.Errorf("bwrap run as root needs setpriv in /usr (Debian's util-linux) to run the sandbox as user %s, not root", userSpec)
	}
	return []string{setpriv, "--reuid", uid, "--regid", gid, "--clear-groups", "--inh-caps", "-all", "--bounding-set", "-all", "--"}, nil
}

func invokingUser() string {
	return strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
}

// userName names the uid of userSpec ("" is the invoking user) after the
// host's passwd entry, or after its number when the host has none.
func userName(userSpec string) string {
	if userSpec == "" {
		userSpec = invokingUser()
	}
	uid, _, _ := strings.Cut(userSpec, ":")
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return "uid" + uid
}

func hostname(loop string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(loop) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	h := strings.Trim(b.String(), "-")
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-")
	}
	if h == "" {
		return "loop"
	}
	return h
}

// bwrapStatus is the part of --json-status-fd's reports we need: the
// child's exit code, reported once it ends.
type bwrapStatus struct {
	ExitCode *int `json:"exit-code"`
}

func readStatus(r io.Reader) bwrapStatus {
	var st bwrapStatus
	dec := json.NewDecoder(r)
	for {
		var m bwrapStatus
		if err := dec.Decode(&m); err != nil {
			return st
		}
		if m.ExitCode != nil {
			st.ExitCode = m.ExitCode
		}
	}
}

func drain(c <-chan sandbox.TermSize, stop <-chan struct{}) {
	for {
		select {
		case _, ok := <-c:
			if !ok {
				return
			}
		case <-stop:
			return
		}
	}
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = append([]byte(nil), w.buf[len(w.buf)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

// sameWriter is a == b without the panic == has for uncomparable types.
func sameWriter(a, b io.Writer) bool {
	if a == nil || b == nil {
		return false
	}
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Capabilities: binds of host paths, nothing kept between execs.
func (*Engine) Capabilities() sandbox.Capabilities {
	return sandbox.Capabilities{HostPaths: true, Isolated: true}
}
