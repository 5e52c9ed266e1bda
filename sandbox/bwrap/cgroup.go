package bwrap

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// bwrap makes no cgroup, so spec.Limits (sandbox.pids, .memory, .cpus)
// are enforced by one git loop makes: a cgroup per loop, named after the
// sandbox (gitloop-WORKSPACE-LOOP), shared by its concurrent execs as a
// container is, removed by Remove. Every exec's bwrap starts inside it (a
// shell writes its own pid into the cgroup, then becomes bwrap), so no
// process of the sandbox is ever outside, and everything it forks is
// counted.
//
// Where it goes: in each hierarchy that has the controller (cgroup v2, or
// v1's per-controller ones), under the deepest ancestor of git loop's own
// cgroup that this user may write and that holds no process of its own
// (v2's rule for a parent of limited children): as root, the hierarchy
// or the slice above our scope; as a user, a cgroup delegated to them
// (systemd's user@UID.service, "systemd-run --user --scope -p
// Delegate=yes"). Where none is writable the limit cannot be enforced:
// the pids limit then falls back to RLIMIT_NPROC, which counts all of the
// sandbox uid's processes and binds only a uid other than root, and the
// others are reported (Engine.Warn, git loop doctor).

const procMountinfo = "/proc/self/mountinfo"

// controllers git loop uses, by the limit they carry.
const (
	ctlPids   = "pids"
	ctlMemory = "memory"
	ctlCPU    = "cpu"
)

// hierarchy is one mounted cgroup filesystem.
type hierarchy struct {
	mount string          // where it is mounted
	v2    bool            // cgroup2
	ctls  map[string]bool // the controllers it holds (v2: those the root offers)
	own   string          // our cgroup in it, relative to mount
}

// cgroupPlan is where a loop's limits go: the loop's cgroup dir for each
// controller needed.
type cgroupPlan struct {
	dirs    map[string]string // controller -> the loop's cgroup dir
	missing []string          // limits that cannot be enforced, as settings
}

// hierarchies lists the cgroup filesystems from mountinfo and our cgroup
// in each (from /proc/self/cgroup).
func hierarchies() ([]hierarchy, error) {
	f, err := os.Open(procMountinfo)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	var out []hierarchy
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint opts ... - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 || pf[3] != "/" {
			continue // a bind of a sub-cgroup: not a hierarchy's root
		}
		mount := unescapeMount(pf[4])
		switch qf[0] {
		case "cgroup2":
			h := hierarchy{mount: mount, v2: true, ctls: map[string]bool{}, own: own[""]}
			if b, err := os.ReadFile(filepath.Join(mount, "cgroup.controllers")); err == nil {
				for _, c := range strings.Fields(string(b)) {
					h.ctls[c] = true
				}
			}
			out = append(out, h)
		case "cgroup":
			h := hierarchy{mount: mount, ctls: map[string]bool{}}
			for _, o := range strings.Split(qf[2], ",") {
				if o == ctlPids || o == ctlMemory || o == ctlCPU {
					h.ctls[o] = true
					h.own = own[o]
				}
			}
			if len(h.ctls) > 0 {
				out = append(out, h)
			}
		}
	}
	return out, sc.Err()
}

// ownCgroups is /proc/self/cgroup: our cgroup path by controller ("" for
// v2's unified hierarchy).
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			m[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			m[c] = parts[2]
		}
	}
	return m, nil
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// needed are the controllers lim asks for, with the setting each serves.
func needed(lim sandbox.Limits) map[string]string {
	m := map[string]string{}
	if lim.Pids > 0 {
		m[ctlPids] = "sandbox.pids"
	}
	if lim.Memory > 0 {
		m[ctlMemory] = "sandbox.memory"
	}
	if lim.NanoCPUs > 0 {
		m[ctlCPU] = "sandbox.cpus"
	}
	return m
}

// planCgroup says where the loop named name (spec.Name()) gets its
// cgroups for lim; a v2 hierarchy is preferred for a controller it offers.
func planCgroup(hs []hierarchy, name string, lim sandbox.Limits) cgroupPlan {
	plan := cgroupPlan{dirs: map[string]string{}}
	for ctl, setting := range needed(lim) {
		dir := ""
		for _, v2 := range []bool{true, false} {
			for _, h := range hs {
				if h.v2 != v2 || !h.ctls[ctl] || dir != "" {
					continue
				}
				if parent := writableParent(h); parent != "" {
					dir = filepath.Join(parent, name)
				}
			}
		}
		if dir == "" {
			plan.missing = append(plan.missing, setting)
			continue
		}
		plan.dirs[ctl] = dir
	}
	return plan
}

// writableParent is the deepest ancestor of our cgroup in h (our own
// included on v1, where a cgroup may hold both processes and children)
// that we may make a cgroup in and that, on v2, holds no process: our own
// cgroup there always does. "" when there is none.
func writableParent(h hierarchy) string {
	own := filepath.Clean("/" + h.own)
	for rel := own; ; rel = filepath.Dir(rel) {
		dir := filepath.Join(h.mount, rel)
		ok := unix.Access(dir, unix.W_OK|unix.X_OK) == nil
		if ok && h.v2 && rel != "/" {
			// A v2 parent with processes cannot enable controllers for
			// its children; the root is exempt.
			b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			ok = err == nil && len(strings.TrimSpace(string(b))) == 0 &&
				unix.Access(filepath.Join(dir, "cgroup.subtree_control"), unix.W_OK) == nil
		}
		if ok {
			return filepath.Join(dir, "gitloop")
		}
		if rel == "/" {
			return ""
		}
	}
}

// cgroupJoin makes the loop's cgroups with lim's values and returns the
// cgroup.procs files an exec's first process must write its pid to, and
// the limits that cannot be enforced here (as their settings).
func cgroupJoin(name string, lim sandbox.Limits) (procs, missing []string, err error) {
	if len(needed(lim)) == 0 {
		return nil, nil, nil
	}
	hs, err := hierarchies()
	if err != nil {
		return nil, nil, fmt.Errorf("cgroups: %w", err)
	}
	plan := planCgroup(hs, name, lim)
	seen := map[string]bool{}
	for _, ctl := range []string{ctlPids, ctlMemory, ctlCPU} {
		dir, ok := plan.dirs[ctl]
		if !ok {
			continue
		}
		v2 := isV2(hs, dir)
		if err := makeCgroup(dir, v2, ctl); err != nil {
			return nil, nil, err
		}
		if err := setLimit(dir, v2, ctl, lim); err != nil {
			return nil, nil, err
		}
		if p := filepath.Join(dir, "cgroup.procs"); !seen[p] {
			seen[p] = true
			procs = append(procs, p)
		}
	}
	return procs, plan.missing, nil
}

func isV2(hs []hierarchy, dir string) bool {
	for _, h := range hs {
		if h.v2 && strings.HasPrefix(dir, h.mount+"/") {
			return true
		}
	}
	return false
}

// makeCgroup makes dir and its "gitloop" parent; on v2 it enables ctl for
// the children of each level it makes a child in.
func makeCgroup(dir string, v2 bool, ctl string) error {
	parent := filepath.Dir(dir)
	for _, d := range []string{parent, dir} {
		if v2 {
			if err := enable(filepath.Dir(d), ctl); err != nil {
				return err
			}
		}
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("cgroup %s: %w", d, err)
		}
	}
	return nil
}

// enable turns ctl on for dir's children (v2), unless it is on already.
func enable(dir, ctl string) error {
	p := filepath.Join(dir, "cgroup.subtree_control")
	if b, err := os.ReadFile(p); err == nil && contains(strings.Fields(string(b)), ctl) {
		return nil
	}
	if err := os.WriteFile(p, []byte("+"+ctl), 0); err != nil {
		return fmt.Errorf("cgroup %s: enable %s: %w", dir, ctl, err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// setLimit writes lim's value for ctl in dir (rewritten on every exec, so
// a changed setting applies at the next one).
func setLimit(dir string, v2 bool, ctl string, lim sandbox.Limits) error {
	type kv struct{ file, value string }
	var w []kv
	switch {
	case ctl == ctlPids:
		w = []kv{{"pids.max", strconv.FormatInt(lim.Pids, 10)}}
	case ctl == ctlMemory && v2:
		// No swap beyond the limit, as on docker.
		w = []kv{{"memory.max", strconv.FormatInt(lim.Memory, 10)}, {"memory.swap.max", "0"}}
	case ctl == ctlMemory:
		w = []kv{{"memory.limit_in_bytes", strconv.FormatInt(lim.Memory, 10)}}
		if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err == nil {
			// memsw bounds memory plus swap; it may not go below the
			// memory limit, so it comes second (and first, lowering).
			w = append([]kv{{"memory.memsw.limit_in_bytes", "-1"}}, append(w,
				kv{"memory.memsw.limit_in_bytes", strconv.FormatInt(lim.Memory, 10)})...)
		}
	case ctl == ctlCPU:
		const period = 100000
		quota := lim.NanoCPUs * period / 1e9
		if quota < 1000 {
			quota = 1000
		}
		if v2 {
			w = []kv{{"cpu.max", fmt.Sprintf("%d %d", quota, period)}}
		} else {
			w = []kv{{"cpu.cfs_period_us", strconv.Itoa(period)}, {"cpu.cfs_quota_us", strconv.FormatInt(quota, 10)}}
		}
	}
	for _, x := range w {
		if err := os.WriteFile(filepath.Join(dir, x.file), []byte(x.value), 0); err != nil {
			return fmt.Errorf("cgroup %s: %s = %s: %w", dir, x.file, x.value, err)
		}
	}
	return nil
}

// cgroupRemove removes the loop's cgroups, once no process is left in
// them (Remove runs after the loop's execs).
func cgroupRemove(name string) {
	hs, err := hierarchies()
	if err != nil {
		return
	}
	for _, h := range hs {
		parent := writableParent(h)
		if parent == "" {
			continue
		}
		// The last exec's processes may still be on their way out (a pid
		// namespace is torn down after its init ends): wait a little.
		for range 20 {
			err := os.Remove(filepath.Join(parent, name))
			if err == nil || !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// joinScript is the exec's first process: it writes its pid into each of
// the loop's cgroups, sets RLIMIT_NPROC when asked ("0": not), and becomes
// bwrap. dash spells the process limit -p, bash and busybox -u.
const joinScript = `n=$1; shift
while [ "$1" != -- ]; do echo $$ > "$1" || exit 127; shift; done; shift
if [ "$n" != 0 ]; then ulimit -u "$n" 2>/dev/null || ulimit -p "$n" || exit 127; fi
exec "$@"`

// Unenforced lists the settings of lim this host cannot enforce for a
// bwrap sandbox (no cgroup git loop may write, and for pids not even
// RLIMIT_NPROC, as root), without making anything.
func (*Engine) Unenforced(lim sandbox.Limits) []string {
	hs, err := hierarchies()
	missing := planCgroup(hs, "probe", lim).missing
	if err != nil {
		missing = slices.Collect(maps.Values(needed(lim)))
	}
	var out []string
	for _, m := range missing {
		if m != "sandbox.pids" || os.Getuid() == 0 {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// limitedCommand is the argv that runs bwrap (at path, with args) under
// lim: in the loop's cgroups, else with RLIMIT_NPROC for pids where that
// means something (a uid other than root: root is exempt). unenforced
// lists the settings it cannot enforce.
func limitedCommand(name string, lim sandbox.Limits, path string, args []string) (argv, unenforced []string) {
	procs, missing, err := cgroupJoin(name, lim)
	if err != nil {
		procs, missing = nil, slices.Collect(maps.Values(needed(lim)))
	}
	nproc := "0"
	var still []string
	for _, m := range missing {
		if m == "sandbox.pids" && os.Getuid() != 0 {
			nproc = strconv.FormatInt(lim.Pids, 10)
			continue
		}
		still = append(still, m)
	}
	sort.Strings(still)
	if len(procs) == 0 && nproc == "0" {
		return append([]string{path}, args...), still
	}
	argv = append([]string{"/bin/sh", "-c", joinScript, "sh", nproc}, procs...)
	argv = append(append(argv, "--", path), args...)
	return argv, still
}
