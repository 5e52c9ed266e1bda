package docker

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"syscall"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A container's bind mounts are host directories (the loop's worktree or
// clone, $HOME, its dir): a file it leaves there outlives it, and with the
// setuid or setgid bit any local user who can reach it runs it as the
// container's uid, root when git loop ran as root. nosuid on the binds
// only helps inside. So the container may not set those bits at all: its
// seccomp profile is the engine's default with chmod, file creation and
// mknod allowed only for modes without S_ISUID and S_ISGID (EPERM
// otherwise, as for any syscall the default refuses), and openat2, whose
// mode a filter cannot read, failing with ENOSYS (libc and Go then use
// openat). Device nodes and file capabilities need MKNOD and SETFCAP,
// which droppedCaps takes away.
//
// The cost: inside a loop, root cannot install a package that ships a
// setuid binary (dpkg fails to set its mode); install it in the image.
//
// The x32 ABI is left out of the profile, as bwrap's filter refuses it:
// the engine compiles the profile for each exec, and with x32 in it that
// took ~9 ms of CPU per exec here, more than the whole exec of a command
// in a container with the engine's own default. x32 programs are rare,
// and most kernels (Debian's, Ubuntu's, this one) disable the ABI, where
// such a syscall failed anyway: it now ends the process (SIGSYS) instead.
// The 32-bit x86 ABI stays.

// modeArg is the index of the mode argument of each syscall that takes one.
var modeArg = map[string]uint{
	"chmod": 1, "fchmod": 1, "fchmodat": 2, "fchmodat2": 2,
	"open": 2, "openat": 3, "creat": 1,
	"mknod": 1, "mknodat": 2,
}

// setIDBits are S_ISUID and S_ISGID.
const setIDBits = 0o6000

// seccompProfile is the profile as the engine's API takes it
// (SecurityOpt "seccomp=<json>").
func seccompProfile() (string, error) {
	p := seccomp.DefaultProfile()
	for i := range p.ArchMap {
		p.ArchMap[i].SubArches = slices.DeleteFunc(p.ArchMap[i].SubArches, func(a specs.Arch) bool { return a == specs.ArchX32 })
	}
	for _, rule := range p.Syscalls {
		if rule.Action != specs.ActAllow || len(rule.Args) > 0 {
			continue
		}
		names := rule.Names[:0:0]
		for _, n := range rule.Names {
			if _, ok := modeArg[n]; !ok && n != "openat2" {
				names = append(names, n)
			}
		}
		rule.Names = names
	}
	for _, name := range slices.Sorted(maps.Keys(modeArg)) {
		idx := modeArg[name]
		p.Syscalls = append(p.Syscalls, &seccomp.Syscall{LinuxSyscall: specs.LinuxSyscall{
			Names:  []string{name},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: idx, Value: setIDBits, ValueTwo: 0, Op: specs.OpMaskedEqual}},
		}, Comment: "git loop: no setuid or setgid mode"})
	}
	nosys := uint(syscall.ENOSYS)
	p.Syscalls = append(p.Syscalls, &seccomp.Syscall{LinuxSyscall: specs.LinuxSyscall{
		Names:    []string{"openat2"},
		Action:   specs.ActErrno,
		ErrnoRet: &nosys,
	}, Comment: "git loop: its mode cannot be checked; callers fall back to openat"})
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("docker: seccomp profile: %w", err)
	}
	return string(b), nil
}
