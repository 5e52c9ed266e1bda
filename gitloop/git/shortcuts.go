package git

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// A Shortcut is a place where git loop does itself, for speed, what one of
// git's public commands would do. Each relies on behaviour git does not
// promise (file layouts, parsing rules, internal heuristics), which a new
// git may change; the public command beside it is always right. Every
// shortcut is listed here with what it relies on, and a caller takes one
// only when Shortcuts.Use says so: GIT_LOOP_PLAIN_GIT (or the plainGit
// setting) turns them off, for a git that no longer behaves as they
// assume, and so tests can run both ways (scripts/test-git-versions.sh
// runs them both ways against two gits). Each is kept only while it saves
// at least 10 % of the commands it serves (bench/shortcuts.sh measures
// them; docs/config.md has the figures).
type Shortcut string

const (
	// RepoDiscovery: every command finds its repository by reading the
	// ".git" directory or file and the git dir's "commondir" itself. It
	// relies on git's repository layout and discovery rules (it leaves
	// to git anything unusual: GIT_DIR and friends, ceiling directories,
	// bare repositories). Public: git rev-parse --git-common-dir
	// --git-dir --is-bare-repository, then --show-toplevel. The in-process
	// config reading (ConfigRead) starts from it, so turning it off turns
	// that off too. Tested against git by TestDiscoverMatchesGit.
	RepoDiscovery Shortcut = "discover"

	// WorktreeAdd: "new" writes a worktree's admin files
	// ($GIT_COMMON_DIR/worktrees/ID/{HEAD,commondir,gitdir,locked} and
	// the worktree's .git file) and runs one "git checkout -b" there
	// (Runner.StartWorktree). It relies on the layout git has read since
	// 2.5, and on a checkout from that unborn branch making what "worktree
	// add" makes with its "branch", "symbolic-ref" and "reset --hard".
	// Public: git worktree add --no-track -b BRANCH PATH START. It needs
	// ConfigRead to judge whether the repository is one where git's add
	// writes nothing more; without it git does the add. Tested against
	// git by TestStartWorktreeMatchesGit.
	WorktreeAdd Shortcut = "worktree"

	// ConfigRead: settings (loop.*, user.name/email) are read from git's
	// config files in-process (ReadConfig). It relies on git's syntax of
	// config files, its order of files and scopes, how "git -c" passes
	// config down (GIT_CONFIG_PARAMETERS, GIT_CONFIG_COUNT), the path of
	// the system file (asked of git once per binary), and its
	// safe.directory ownership rule. Public: git config --show-scope
	// --show-origin --get-regexp. Tested against git by
	// TestReadConfigMatchesGit, FuzzReadConfig and
	// TestGitConfigInProcessMatchesGit.
	ConfigRead Shortcut = "config"

	// StatusCache: "ls" and "status" answer a loop's change count from a
	// cached fingerprint of what git status reads (StatusFingerprint). It
	// relies on which files git status reads (index, HEAD and its ref,
	// config and exclude files, the worktree's lstat data) and on git's
	// racy-timestamp rule: a file modified in the same clock tick as the
	// last look may look unchanged. Public: git status every time.
	// Tested against git by TestStatusFingerprintRandom (seeded),
	// FuzzStatusFingerprint and TestRacyRecordRefused.
	StatusCache Shortcut = "status"
)

// AllShortcuts are every shortcut, in the order they are documented.
var AllShortcuts = []Shortcut{RepoDiscovery, WorktreeAdd, ConfigRead, StatusCache}

// PlainEnv forces git's public commands: a boolean (true: every shortcut
// off), or a comma-separated list of the shortcuts to turn off. It is read
// before settings are (finding the repository and reading the settings
// are shortcuts); the plainGit setting, which takes the same values,
// governs what comes after (WorktreeAdd, StatusCache).
const PlainEnv = "GIT_LOOP_PLAIN_GIT"

// Shortcuts is the decision which shortcuts may be taken. The zero value
// takes every one.
type Shortcuts struct {
	off map[Shortcut]bool
}

// Use reports whether sc may be taken.
func (s Shortcuts) Use(sc Shortcut) bool { return !s.off[sc] }

// Plain reports whether every shortcut is off.
func (s Shortcuts) Plain() bool {
	for _, sc := range AllShortcuts {
		if s.Use(sc) {
			return false
		}
	}
	return true
}

// ParsePlain reads a value of GIT_LOOP_PLAIN_GIT or plainGit: a boolean as
// git reads one ("" is false), or shortcut names separated by commas.
func ParsePlain(v string) (Shortcuts, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "false", "no", "off", "0":
		return Shortcuts{}, nil
	case "true", "yes", "on", "1":
		return only(AllShortcuts...), nil
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if n == 0 {
			return Shortcuts{}, nil
		}
		return only(AllShortcuts...), nil
	}
	var off []Shortcut
	for _, name := range strings.Split(v, ",") {
		sc := Shortcut(strings.ToLower(strings.TrimSpace(name)))
		if !known(sc) {
			return Shortcuts{}, fmt.Errorf("%q is neither a boolean nor a list of %s", v, strings.Join(names(), ", "))
		}
		off = append(off, sc)
	}
	return only(off...), nil
}

// Decide is the decision for the value of the plainGit setting (which
// holds GIT_LOOP_PLAIN_GIT's when that is set) together with the
// process's own GIT_LOOP_PLAIN_GIT, which also reaches callers built
// without the environment's settings (tests). A value that does not parse
// turns every shortcut off: git's commands are never wrong.
func Decide(setting string) Shortcuts {
	s, err := ParsePlain(setting)
	if err != nil {
		return only(AllShortcuts...)
	}
	env := FromEnv(os.LookupEnv)
	for sc := range env.off {
		if s.off == nil {
			s.off = map[Shortcut]bool{}
		}
		s.off[sc] = true
	}
	return s
}

// FromEnv is the decision of GIT_LOOP_PLAIN_GIT alone: all that may be
// known before settings are read.
func FromEnv(lookupEnv func(string) (string, bool)) Shortcuts {
	v, _ := lookupEnv(PlainEnv)
	s, err := ParsePlain(v)
	if err != nil {
		return only(AllShortcuts...)
	}
	return s
}

func only(scs ...Shortcut) Shortcuts {
	s := Shortcuts{off: map[Shortcut]bool{}}
	for _, sc := range scs {
		s.off[sc] = true
	}
	return s
}

func known(sc Shortcut) bool {
	for _, k := range AllShortcuts {
		if k == sc {
			return true
		}
	}
	return false
}

func names() []string {
	var out []string
	for _, sc := range AllShortcuts {
		out = append(out, string(sc))
	}
	return out
}
