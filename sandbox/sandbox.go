// Package sandbox defines the small interface every sandbox driver implements
// and the Spec that describes one loop's sandbox. Drivers live in
// subpackages (none, docker, bwrap); nothing here talks to an engine.
package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Labels put on every container, image and network git loop creates, so
// that list, prune and uninstall can find exactly what belongs to a
// workspace and never touch anything else.
const (
	LabelWorkspace  = "dev.gitloop.workspace"
	LabelLoop       = "dev.gitloop.loop"
	LabelConfigHash = "dev.gitloop.config-hash"
)

// Hardening is the version of what drivers do to every sandbox beyond its
// spec (docker: no-new-privileges, the dropped capabilities, the seccomp
// profile refusing setuid and setgid modes). It is part of the config
// hash: raise it when that changes, so existing sandboxes are recreated
// with the new rules. 3: docker's isolated policy on a network of its
// own, with no traffic between containers.
const Hardening = 3

// ErrEngineUnreachable is wrapped by drivers when their engine (daemon,
// binary) cannot be reached; the command line maps it to exit code 3.
var ErrEngineUnreachable = errors.New("sandbox engine unreachable")

// ErrNotFound is returned by Status when the loop has no sandbox yet.
var ErrNotFound = errors.New("sandbox not found")

// Mount binds Source on the host at Target in the sandbox. git loop uses
// identical paths inside and out, so Target is usually Source.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	// Tmpfs mounts an empty, private tmpfs at Target (Source is ignored);
	// used to hide a directory, e.g. other loops' state.
	Tmpfs bool `json:"tmpfs,omitempty"`
	// Volume keeps a dir of the engine's own at Target (a named volume, a
	// sub-path of the loop's claim), labelled with the sandbox, kept across
	// Stop and recreation and removed by Remove (Source is ignored): where
	// a loop's files live on an engine that cannot see this host.
	Volume bool `json:"volume,omitempty"`
}

// Port publishes a sandbox port on the host's loopback.
type Port struct {
	Host      int `json:"host"`
	Container int `json:"container"`
}

// Spec is everything a driver needs to create (or find) one loop's sandbox.
// Its ConfigHash covers what requires a new sandbox when it changes; Env is
// deliberately excluded, since env reaches each exec, not the stored config.
type Spec struct {
	Workspace string  `json:"workspace"` // workspace id, e.g. "3fa2c9d1"
	Loop      string  `json:"loop"`      // loop name
	Image     string  `json:"image,omitempty"`
	Workdir   string  `json:"workdir"` // the loop's worktree; default cwd of every exec
	Home      string  `json:"home,omitempty"`
	User      string  `json:"user,omitempty"` // "uid:gid"; empty means the invoking user
	Mounts    []Mount `json:"mounts,omitempty"`
	Ports     []Port  `json:"ports,omitempty"`
	Vault     string  `json:"vault,omitempty"`
	// Network is what the sandbox's processes can reach (see Network);
	// empty means NetworkIsolated.
	Network Network `json:"network,omitempty"`
	// Limits bound its processes, where the driver can (docker).
	Limits Limits `json:"limits,omitzero"`
	// Placement is the host's policy on binding host paths (see
	// Placement); empty means PlacementAuto. Not hashed: it decides
	// whether a sandbox may be made, not what it is made of.
	Placement Placement `json:"-"`
	// Path are dirs put first on every exec's PATH, before the image's
	// (or the host's) own and a loop's toolchain: where the loop's agent
	// is linked or wrapped, so it runs by name in a shell as its sessions
	// run it. The docker driver stores it in the container's config, so
	// it is hashed.
	Path []string          `json:"path,omitempty"`
	Env  map[string]string `json:"-"` // per-exec env every exec gets (not hashed, not stored)
}

// Network is a sandbox's network policy (setting sandbox.network).
type Network string

const (
	// NetworkIsolated is the default: a network namespace of its own with
	// outbound traffic (the internet, where the host has it) but none of
	// the host's loopback services (git loop web, a Docker API on tcp,
	// databases): docker's bridge network; on bwrap, pasta or
	// slirp4netns with the host's loopback unmapped.
	NetworkIsolated Network = "isolated"
	// NetworkNone is loopback only: no traffic leaves the sandbox.
	NetworkNone Network = "none"
	// NetworkHost shares the host's network, loopback included: an
	// explicit opt-in that lets the agent reach every local service.
	NetworkHost Network = "host"
)

// Networks are the policies, in the order they are documented.
var Networks = []Network{NetworkIsolated, NetworkNone, NetworkHost}

// Or returns n, or NetworkIsolated when n is empty.
func (n Network) Or() Network {
	if n == "" {
		return NetworkIsolated
	}
	return n
}

// Limits bound a sandbox's processes; zero leaves the engine's default.
type Limits struct {
	// Pids is the most processes (and threads) alive at once: a fork bomb
	// stops there instead of taking the host down.
	Pids int64 `json:"pids,omitempty"`
	// Memory is in bytes.
	Memory int64 `json:"memory,omitempty"`
	// NanoCPUs is CPUs in billionths (1.5 CPUs = 1500000000).
	NanoCPUs int64 `json:"nanoCpus,omitempty"`
}

// Name is the sandbox's name on engines that name things:
// gitloop-<workspace>-<loop>.
func (s Spec) Name() string {
	return "gitloop-" + s.Workspace + "-" + s.Loop
}

// Labels are the labels (or equivalent tags) of this sandbox.
func (s Spec) Labels() map[string]string {
	return map[string]string{
		LabelWorkspace:  s.Workspace,
		LabelLoop:       s.Loop,
		LabelConfigHash: s.ConfigHash(),
	}
}

// ConfigHash is a short stable hash of the parts of the spec whose change
// means the sandbox must be recreated: image, mounts, ports, vault, user,
// home, workdir, network and limits. Env is not part of it.
func (s Spec) ConfigHash() string {
	h := sha256.New()
	fmt.Fprintf(h, "image=%s\nworkdir=%s\nhome=%s\nuser=%s\nvault=%s\n", s.Image, s.Workdir, s.Home, s.User, s.Vault)
	// Always written, defaults included, so sandboxes made before the
	// hardening (no-new-privileges, dropped capabilities, limits) carry
	// another hash and are recreated with it on their next use.
	fmt.Fprintf(h, "hardening=%d\nnetwork=%s\npids=%d\nmemory=%d\ncpus=%d\n",
		Hardening, s.Network.Or(), s.Limits.Pids, s.Limits.Memory, s.Limits.NanoCPUs)
	mounts := append([]Mount(nil), s.Mounts...)
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].Target < mounts[j].Target })
	for _, m := range mounts {
		fmt.Fprintf(h, "mount=%s:%s:%t:%t\n", m.Source, m.Target, m.ReadOnly, m.Tmpfs)
		if m.Volume {
			// Only when set, so that the hash of every other mount (and
			// of the sandboxes made before volumes) stays as it was.
			fmt.Fprintf(h, "volume=%s\n", m.Target)
		}
	}
	ports := append([]Port(nil), s.Ports...)
	sort.Slice(ports, func(i, j int) bool { return ports[i].Container < ports[j].Container })
	for _, p := range ports {
		fmt.Fprintf(h, "port=%d:%d\n", p.Host, p.Container)
	}
	for _, p := range s.Path {
		fmt.Fprintf(h, "path-first=%s\n", p) // before the image's PATH since 2026-12
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Exec is one process to run in a sandbox.
//
// Without TTY every driver carries Stdin, Stdout and Stderr as separate,
// binary-safe byte streams, so that git's pack protocol can run over an
// exec: Stdin is copied until it ends, and its end closes the process's
// stdin (the half-close: the process sees EOF while its output keeps
// flowing back); Exec returns once the process has ended and its output is
// drained, whether or not Stdin has ended by then. StartStream wraps this
// as a connection.
type Exec struct {
	Cmd []string
	// Env is added to the spec's Env for this exec only (vault secrets go
	// here: never into a stored container config, never into argv).
	Env map[string]string
	Dir string // defaults to Spec.Workdir
	TTY bool
	// Offline says the process needs no network (git's protocol over the
	// exec's own streams, a check): drivers that connect a network per
	// exec (bwrap's isolated one costs a pasta start, tens of
	// milliseconds) give it loopback only instead. The spec's network
	// still applies to every other exec.
	Offline bool
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// Resize matters only with TTY on drivers that allocate the terminal
	// themselves (docker): a size already waiting when Exec starts is the
	// initial size, each later one resizes. Drivers that hand the caller's
	// terminal straight to the process (bwrap, none) may never read it, so
	// send without blocking (a buffered channel and select with default).
	Resize <-chan TermSize
}

// TermSize is a terminal's size in character cells.
type TermSize struct{ Height, Width uint }

// State of a sandbox.
type State string

const (
	StateRunning State = "running"
	StateStopped State = "stopped"
	StateMissing State = "missing"
	// StateUnreachable: its engine did not answer, so nothing is known
	// of it (never taken for clean or stopped).
	StateUnreachable State = "unreachable"
)

// Status describes one sandbox as its engine sees it.
type Status struct {
	Driver     string            `json:"driver"`
	ID         string            `json:"id,omitempty"`
	State      State             `json:"state"`
	Image      string            `json:"image,omitempty"`
	ConfigHash string            `json:"configHash,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Ports      []Port            `json:"ports,omitempty"`
}

// Engine is a sandbox driver. Every method is idempotent: Ensure on a
// running sandbox with the same config hash does nothing, Stop on a stopped
// one and Remove on a missing one succeed.
type Engine interface {
	// Name is the driver's name: "docker", "bwrap", "none".
	Name() string
	// Ensure makes the sandbox exist and run with this spec, recreating it
	// when its config hash differs, and returns its status.
	Ensure(ctx context.Context, spec Spec) (Status, error)
	// Exec runs one process, ensuring the sandbox first (a stopped or
	// vanished sandbox comes back). It returns the process's exit code.
	Exec(ctx context.Context, spec Spec, e Exec) (int, error)
	Stop(ctx context.Context, spec Spec) error
	Remove(ctx context.Context, spec Spec) error
	Status(ctx context.Context, spec Spec) (Status, error)
	// List returns the sandboxes carrying all the given labels.
	List(ctx context.Context, labels map[string]string) ([]Status, error)
	// Capabilities say what this engine offers beyond the common contract.
	Capabilities() Capabilities
}

// Capabilities are what a caller may choose a sandbox's layout by, known
// without creating anything.
type Capabilities struct {
	// HostPaths: the engine sees this host's filesystem, so a host path
	// can be bind-mounted (bwrap, none, a docker engine on a local socket).
	HostPaths bool `json:"hostPaths"`
	// Volumes: the engine keeps named volumes that outlive a sandbox
	// (docker).
	Volumes bool `json:"volumes"`
	// Isolated: the process reaches nothing of the host beyond its mounts
	// (docker, bwrap). The none driver runs as the user, trusted.
	Isolated bool `json:"isolated"`
}

// Preflighter is implemented by drivers that can tell, before anything is
// created, that Ensure would fail (a missing image).
type Preflighter interface {
	Preflight(ctx context.Context, spec Spec) error
}

// MergeEnv returns KEY=VALUE pairs of base overlaid with extra, sorted so
// that the result is stable.
func MergeEnv(base, extra map[string]string) []string {
	m := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// ExitError reports a non-zero exit of the process run by Exec when the
// caller wants an error rather than a code.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ShellQuote quotes args for display only (never for execution).
func ShellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '=' || r == '@' || r == ',' || r == '+' ||
				(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// Resources are what a driver keeps on its engine beyond one exec, by
// kind, named as the engine names them.
type Resources struct {
	Containers []string `json:"containers"`
	Images     []string `json:"images"`
	Networks   []string `json:"networks"`
	// Volumes hold remote loops' clones and homes (docker).
	Volumes []string `json:"volumes,omitempty"`
}

// Empty reports whether there is nothing.
func (r Resources) Empty() bool {
	return len(r.Containers) == 0 && len(r.Images) == 0 && len(r.Networks) == 0 && len(r.Volumes) == 0
}

// Purger is implemented by drivers that keep resources: uninstall lists
// them first, then removes exactly those carrying the labels.
type Purger interface {
	Resources(ctx context.Context, labels map[string]string) (Resources, error)
	Purge(ctx context.Context, labels map[string]string) (Resources, error)
}

// TerminalOwner is implemented by drivers whose engine allocates the TTY
// (docker): the caller must put its own terminal in raw mode and forward
// size changes. Drivers that run a local process share the caller's
// terminal as it is.
type TerminalOwner interface {
	AllocatesTTY() bool
}

// Placement says where a loop's files live relative to its engine
// (setting sandbox.placement).
type Placement string

const (
	// PlacementAuto asks the engine once whether it sees this host's
	// paths (a nonce file in a host dir looked for from inside) and binds
	// them only when it does.
	PlacementAuto Placement = "auto"
	// PlacementLocal trusts that the engine sees this host's paths (a
	// local socket, a forwarded one): no probe.
	PlacementLocal Placement = "local"
	// PlacementRemote never binds a host path: the loop's clone and
	// $HOME live on the engine.
	PlacementRemote Placement = "remote"
)

// Placements are the settings, in the order they are documented.
var Placements = []Placement{PlacementAuto, PlacementLocal, PlacementRemote}

// Or returns p, or PlacementAuto when p is empty.
func (p Placement) Or() Placement {
	if p == "" {
		return PlacementAuto
	}
	return p
}

// ErrHostPathsUnseen is wrapped when a sandbox would bind host paths on an
// engine that cannot see them: on a remote engine a host path silently
// becomes an empty directory of the engine's machine, so git loop refuses
// instead.
var ErrHostPathsUnseen = errors.New("the sandbox engine cannot see this host's files")

// ProgramError is a command that never started in the sandbox: its program
// is not there, or cannot be executed (the shell's 127 and 126). Drivers
// return it with the code instead of passing on the engine's raw message
// (docker's "OCI runtime exec failed …", bwrap's "execvp …"), so the
// caller can say what would put the program there.
type ProgramError struct {
	Program string
	// Reason is the engine's own words, e.g. "executable file not found
	// in $PATH".
	Reason string
}

func (e *ProgramError) Error() string {
	return fmt.Sprintf("%q cannot be run in the sandbox: %s", e.Program, e.Reason)
}

// Code is the shell's exit code for the failure: 126 when the program is
// there but cannot be executed, else 127.
func (e *ProgramError) Code() int {
	if strings.Contains(e.Reason, "permission denied") || strings.Contains(e.Reason, "Permission denied") {
		return 126
	}
	return 127
}

// ProgramChecker is implemented by drivers that can tell from the host
// whether an exec's program is there (bwrap: the sandbox sees the host's
// system dirs): the ProgramError they give for a 126 or 127 exit of x, nil
// when the program is there.
type ProgramChecker interface {
	MissingProgram(spec Spec, x Exec) *ProgramError
}

// ImageResolver is implemented by drivers whose sandboxes run an image
// (docker): the id of the image a reference names now, which changes when
// the tag is rebuilt.
type ImageResolver interface {
	ImageID(ctx context.Context, ref string) (string, error)
}

// GitProber is implemented by drivers whose images may lack git (docker):
// a sealed loop's sandbox runs git in a clone of its own, so its image
// must have it. ImageID keys a cache of the answer (an id's content never
// changes).
type GitProber interface {
	ImageID(ctx context.Context, ref string) (string, error)
	// ImageHasGit says whether ref has git on the usual paths, without
	// starting anything from it.
	ImageHasGit(ctx context.Context, ref string) (bool, error)
}
