package bwrap

import (
	"encoding/binary"
	"fmt"
	"maps"
	"runtime"
	"slices"
)

// The sandbox's writable mounts are host directories (its worktree or
// clone, $HOME, the loop's dir): a file it leaves there outlives it, and
// with the setuid or setgid bit any local user who can reach the file
// runs it as the sandbox's uid, root when git loop ran as root. bwrap
// mounts its binds nosuid, which only helps inside. So the sandbox may
// not set those bits at all: a seccomp filter fails chmod and file
// creation with mode 04000 or 02000 (EPERM), whatever the uid. Device
// nodes and file capabilities need CAP_MKNOD and CAP_SETFCAP, which no
// sandbox holds (--cap-drop ALL).
//
// The filter is classic BPF over struct seccomp_data: nr at offset 0,
// arch at 4, args[i] at 16+8i (the low 32 bits first on the little-endian
// architectures built here; a mode is 32 bits).

const (
	bpfLdW  = 0x00 | 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfAluK = 0x04 | 0x50 // BPF_ALU | BPF_AND | BPF_K
	bpfJeqK = 0x05 | 0x10 // BPF_JMP | BPF_JEQ | BPF_K
	bpfJgeK = 0x05 | 0x30 // BPF_JMP | BPF_JGE | BPF_K
	bpfRetK = 0x06        // BPF_RET | BPF_K

	retAllow = 0x7fff0000
	retErrno = 0x00050000
	ePERM    = 1
	eNOSYS   = 38

	// setIDBits are S_ISUID and S_ISGID.
	setIDBits = 0o6000
)

// modeArgs is, per architecture, its audit arch, the syscalls that take a
// mode which may carry S_ISUID/S_ISGID (number to the index of the mode
// argument), and the ones whose mode is behind a pointer the filter
// cannot read (openat2: ENOSYS, and libc and Go fall back to openat).
type modeArgs struct {
	audit uint32
	x32   bool // the x32 ABI shares the audit arch: numbers >= 1<<30 are refused
	mode  map[uint32]uint32
	nosys []uint32
}

var seccompArchs = map[string]modeArgs{
	"amd64": {
		audit: 0xC000003E, x32: true,
		// open 2, creat 85, chmod 90, fchmod 91, openat 257, fchmodat 268,
		// fchmodat2 452; mknod 133 and mknodat 259 for a setuid fifo or
		// regular file made by mknod.
		mode:  map[uint32]uint32{2: 2, 85: 1, 90: 1, 91: 1, 133: 1, 257: 3, 259: 2, 268: 2, 452: 2},
		nosys: []uint32{437},
	},
	"arm64": {
		audit: 0xC00000B7,
		// fchmod 52, fchmodat 53, openat 56, mknodat 33, fchmodat2 452.
		mode:  map[uint32]uint32{52: 1, 53: 2, 56: 3, 33: 2, 452: 2},
		nosys: []uint32{437},
	},
}

type sockFilter struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

// seccompProgram is the filter for this architecture, as bwrap's
// --seccomp reads it (an array of struct sock_filter), or an error where
// git loop has no table (the sandbox is then refused, not left without).
func seccompProgram() ([]byte, error) {
	a, ok := seccompArchs[runtime.GOARCH]
	if !ok {
		return nil, fmt.Errorf("no seccomp filter for %s: the sandbox could leave setuid files on the host", runtime.GOARCH)
	}
	// Layout: the arch check, the dispatch (one jeq per syscall), one
	// mode check per syscall, the returns. BPF jumps are relative and
	// forward only: they are patched once every offset is known.
	nrs := slices.Sorted(maps.Keys(a.mode))
	var prog []sockFilter
	// 0: arch; another architecture (i386 through int 0x80) is refused.
	prog = append(prog, sockFilter{code: bpfLdW, k: 4})
	denyArch := len(prog)
	prog = append(prog, sockFilter{code: bpfJeqK, k: a.audit}) // jt 0, jf → deny, patched below
	prog = append(prog, sockFilter{code: bpfLdW, k: 0})
	x32 := -1
	if a.x32 {
		x32 = len(prog)
		prog = append(prog, sockFilter{code: bpfJgeK, k: 1 << 30}) // jt → deny, patched
	}
	dispatch := len(prog)
	for _, nr := range nrs {
		prog = append(prog, sockFilter{code: bpfJeqK, k: nr}) // jt → its check, patched
	}
	nosys := len(prog)
	for _, nr := range a.nosys {
		prog = append(prog, sockFilter{code: bpfJeqK, k: nr}) // jt → ENOSYS, patched
	}
	prog = append(prog, sockFilter{code: bpfRetK, k: retAllow}) // any other syscall
	checks := make([]int, len(nrs))
	for i, nr := range nrs {
		checks[i] = len(prog)
		prog = append(prog,
			sockFilter{code: bpfLdW, k: 16 + 8*a.mode[nr]},
			sockFilter{code: bpfAluK, k: setIDBits},
			sockFilter{code: bpfJeqK}, // jt → allow, jf → deny (the next two)
		)
	}
	allow := len(prog)
	prog = append(prog, sockFilter{code: bpfRetK, k: retAllow})
	deny := len(prog)
	prog = append(prog, sockFilter{code: bpfRetK, k: retErrno | ePERM})
	enosys := len(prog)
	prog = append(prog, sockFilter{code: bpfRetK, k: retErrno | eNOSYS})

	jump := func(from, to int) uint8 {
		d := to - from - 1
		if d < 0 || d > 255 {
			panic("seccomp: jump out of range")
		}
		return uint8(d)
	}
	prog[denyArch].jf = jump(denyArch, deny)
	if x32 >= 0 {
		prog[x32].jt = jump(x32, deny)
	}
	for i := range nrs {
		prog[dispatch+i].jt = jump(dispatch+i, checks[i])
	}
	for i := range a.nosys {
		prog[nosys+i].jt = jump(nosys+i, enosys)
	}
	for _, c := range checks {
		j := c + 2
		prog[j].jt = jump(j, allow)
		prog[j].jf = jump(j, deny)
	}
	out := make([]byte, 0, 8*len(prog))
	for _, f := range prog {
		out = binary.LittleEndian.AppendUint16(out, f.code)
		out = append(out, f.jt, f.jf)
		out = binary.LittleEndian.AppendUint32(out, f.k)
	}
	return out, nil
}
