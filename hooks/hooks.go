// Package hooks writes, checks and removes the git hook shims of git loop.
//
// A shim is a small POSIX sh script in the hooks directory git uses. It
// runs the hook it replaced (kept beside it as EVENT.git-loop-orig) first,
// then "git-loop hook EVENT ARGS…". It never blocks git because git loop is
// gone: a missing binary is a one-line warning and exit 0. Installing is
// idempotent and uninstalling restores the replaced hook byte for byte.
package hooks

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Events git loop hooks into.
const (
	PostCheckout = "post-checkout" // a new worktree on a loop branch becomes a loop
	PrePush      = "pre-push"      // loop work never goes straight to a gated main
	PreCommit    = "pre-commit"    // the personal repo's vault guard
	PostMerge    = "post-merge"    // a context clone moved
	PostRewrite  = "post-rewrite"  // a context clone moved
)

// Events is every event, in install order.
var Events = []string{PostCheckout, PrePush, PreCommit, PostMerge, PostRewrite}

// marker identifies a shim; the number is the shim format, so a newer git
// loop can tell an outdated shim and rewrite it.
const marker = "# git-loop hook shim v1"

// origSuffix names the user's hook a shim replaced and runs first.
const origSuffix = ".git-loop-orig"

// stdinEvents read their input from stdin: the shim keeps a copy so both
// the chained hook and git loop see it.
var stdinEvents = map[string]bool{PrePush: true, PostRewrite: true}

// Shim returns the script for event that runs bin.
func Shim(event, bin string) []byte {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString(marker + "\n")
	fmt.Fprintf(&b, "# Runs %s%s (the hook it replaced, if any), then \"git loop hook %s\".\n", event, origSuffix, event)
	b.WriteString("# Written by \"git loop hooks install\"; \"git loop hooks uninstall\" removes it.\n")
	fmt.Fprintf(&b, "bin=%s\n", shQuote(bin))
	fmt.Fprintf(&b, "case $0 in */*) orig=\"${0%%/*}/%s%s\" ;; *) orig=\"./%s%s\" ;; esac\n", event, origSuffix, event, origSuffix)
	if stdinEvents[event] {
		// $(…) drops trailing newlines; the sentinel keeps them.
		b.WriteString("input=$(cat; echo x); input=${input%x}\n")
		b.WriteString("if [ -x \"$orig\" ]; then printf '%s' \"$input\" | \"$orig\" \"$@\" || exit $?; fi\n")
	} else {
		b.WriteString("if [ -x \"$orig\" ]; then \"$orig\" \"$@\" || exit $?; fi\n")
	}
	// git loop's own git commands do their own checks; their hooks must
	// not re-enter git loop (new holds the state lock while git runs).
	b.WriteString("[ -n \"$GIT_LOOP_INTERNAL\" ] && exit 0\n")
	if event == PostCheckout {
		// Only a checkout from nothing (a new worktree) concerns git loop;
		// every other checkout costs one sh.
		b.WriteString("[ \"$3\" = 1 ] || exit 0\n")
		b.WriteString("case \"$1\" in *[!0]*) exit 0 ;; esac\n")
	}
	b.WriteString("if [ ! -x \"$bin\" ]; then\n")
	fmt.Fprintf(&b, "  bin=$(command -v git-loop 2>/dev/null) || { echo \"git loop: git-loop is not installed; its %s hook did nothing (reinstall git loop, or delete $0)\" >&2; exit 0; }\n", event)
	b.WriteString("fi\n")
	if stdinEvents[event] {
		fmt.Fprintf(&b, "printf '%%s' \"$input\" | \"$bin\" hook %s \"$@\"\n", event)
	} else {
		fmt.Fprintf(&b, "exec \"$bin\" hook %s \"$@\"\n", event)
	}
	return []byte(b.String())
}

func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// IsShim reports whether data is a git loop shim (of any version).
func IsShim(data []byte) bool {
	return bytes.Contains(data, []byte("# git-loop hook shim"))
}

// Action is what Install or Uninstall did to one hook.
type Action string

const (
	Installed Action = "installed" // a shim where there was no hook
	Chained   Action = "chained"   // a shim in front of the user's hook
	Updated   Action = "updated"   // an outdated shim rewritten
	Unchanged Action = "unchanged"
	Removed   Action = "removed"  // a shim deleted, nothing to restore
	Restored  Action = "restored" // a shim deleted, the user's hook back
	Missing   Action = "missing"  // (Check) no shim
	Outdated  Action = "outdated" // (Check) a shim for another binary or format
)

// Change is one hook's outcome.
type Change struct {
	Event  string `json:"event"`
	Path   string `json:"path"`
	Action Action `json:"action"`
}

// Install writes the shims of events into dir, chaining any hook already
// there. Running it again changes nothing.
func Install(dir string, events []string, bin string) ([]Change, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("hooks dir %s: %w", dir, err)
	}
	var out []Change
	for _, ev := range events {
		path := filepath.Join(dir, ev)
		want := Shim(ev, bin)
		have, err := os.ReadFile(path)
		action := Installed
		switch {
		case err == nil && bytes.Equal(have, want):
			if fi, err := os.Stat(path); err == nil && fi.Mode()&0o111 != 0 {
				out = append(out, Change{ev, path, Unchanged})
				continue
			}
			action = Updated
		case err == nil && IsShim(have):
			action = Updated
		case err == nil || isDanglingLink(path):
			// The user's hook: keep it, run it first.
			orig := path + origSuffix
			if _, err := os.Lstat(orig); err == nil {
				return out, fmt.Errorf("hook %s: both %s and %s exist; move one away, then install again", ev, path, orig)
			}
			if err := os.Rename(path, orig); err != nil {
				return out, fmt.Errorf("hook %s: %w", ev, err)
			}
			action = Chained
		case !errors.Is(err, fs.ErrNotExist):
			return out, fmt.Errorf("hook %s: %w", ev, err)
		}
		if err := writeExec(path, want); err != nil {
			return out, fmt.Errorf("hook %s: %w", ev, err)
		}
		out = append(out, Change{ev, path, action})
	}
	return out, nil
}

// Uninstall removes the shims of events from dir and puts back the hooks
// they replaced. A hook that is not a shim is left alone.
func Uninstall(dir string, events []string) ([]Change, error) {
	var out []Change
	for _, ev := range events {
		path := filepath.Join(dir, ev)
		orig := path + origSuffix
		have, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return out, fmt.Errorf("hook %s: %w", ev, err)
		}
		if err == nil && !IsShim(have) {
			continue // the user's own: not ours to touch
		}
		_, oerr := os.Lstat(orig)
		switch {
		case oerr == nil:
			// Rename over the shim: the user's hook is back in one step.
			if err := os.Rename(orig, path); err != nil {
				return out, fmt.Errorf("hook %s: %w", ev, err)
			}
			out = append(out, Change{ev, path, Restored})
		case err == nil:
			if err := os.Remove(path); err != nil {
				return out, fmt.Errorf("hook %s: %w", ev, err)
			}
			out = append(out, Change{ev, path, Removed})
		}
	}
	return out, nil
}

// Check reports the events of dir whose shim is missing or not the one
// Install would write for bin; an empty result means all are current.
func Check(dir string, events []string, bin string) []Change {
	var out []Change
	for _, ev := range events {
		path := filepath.Join(dir, ev)
		have, err := os.ReadFile(path)
		switch {
		case err != nil || !IsShim(have):
			out = append(out, Change{ev, path, Missing})
		case !bytes.Equal(have, Shim(ev, bin)):
			out = append(out, Change{ev, path, Outdated})
		default:
			if fi, err := os.Stat(path); err != nil || fi.Mode()&0o111 == 0 {
				out = append(out, Change{ev, path, Outdated})
			}
		}
	}
	return out
}

func isDanglingLink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

// writeExec replaces path atomically with an executable file.
func writeExec(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
