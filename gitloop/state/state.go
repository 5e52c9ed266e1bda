// Package state keeps git loop's records under $GIT_COMMON_DIR/loop/: each
// loop's meta.json, the lock that serialises state changes, and intents
// (journal entries) that let the next command finish or undo an operation
// a crash or a kill interrupted.
//
// The state dir has two parts (docs/loops.md). host/NAME/ holds what the
// host trusts (the record, run logs, locks, caches) and no sandbox ever
// mounts it. loops/NAME/ is the sandbox part (agent dir, $HOME, context
// worktrees, the default worktree): the loop's sandbox writes there, so
// the host reads it only as hostile data and never takes a record from it.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// SchemaVersion of meta.json. Readers refuse a newer schema rather than
// misread it.
const SchemaVersion = 1

// SandboxMeta records the loop's sandbox.
type SandboxMeta struct {
	Driver     string `json:"driver"`
	ID         string `json:"id,omitempty"`
	Image      string `json:"image,omitempty"`
	ConfigHash string `json:"configHash,omitempty"`
	// Ports are "HOST:CONTAINER" pairs published on 127.0.0.1.
	Ports [][2]int `json:"ports,omitempty"`
	// Sealed: the loop's sandbox owns its clone (transport.ClonePath),
	// mounted at the worktree's path inside; the host never runs git in
	// it, and commits come back only through the transport.
	Sealed bool `json:"sealed,omitempty"`
	// Placement is "remote" for a loop whose files live on its engine (a
	// remote docker engine's volumes, a Kubernetes claim): sealed, seeded
	// by a push, with no host path mounted. Empty is this host.
	Placement string `json:"placement,omitempty"`
	// Toolchain is the host dir of the loop's toolchain (gitloop/toolchain),
	// mounted read-only at its path, and ToolchainPath the PATH that puts
	// its tools first; empty when the tiers declare none.
	Toolchain     string `json:"toolchain,omitempty"`
	ToolchainPath string `json:"toolchainPath,omitempty"`
	// ToolchainEnv is mise's environment beside PATH ([env], GOROOT…).
	ToolchainEnv map[string]string `json:"toolchainEnv,omitempty"`
}

// PlacementRemote is SandboxMeta.Placement of a loop kept on its engine.
const PlacementRemote = "remote"

// Remote reports whether the loop's files live on its engine, not here.
func (sm SandboxMeta) Remote() bool { return sm.Placement == PlacementRemote }

// Meta is a loop's record.
type Meta struct {
	Schema   int       `json:"schema"`
	Name     string    `json:"name"`
	Branch   string    `json:"branch"`  // full ref name, refs/heads/loop/NAME
	Base     string    `json:"base"`    // what the user asked for: a branch, tag or sha
	BaseRef  string    `json:"baseRef"` // full ref the base resolved to; empty for a bare sha
	BaseSHA  string    `json:"baseSha"` // commit the loop started from
	Created  time.Time `json:"created"`
	Worktree string    `json:"worktree"`
	Agent    string    `json:"agent"`
	Vault    string    `json:"vault,omitempty"`
	Profiles []string  `json:"profiles,omitempty"`
	// Versions are the commits each context layer started from.
	Versions map[string]string `json:"versions,omitempty"`
	// VersionsAt is when sync last recorded Versions (zero: at Created).
	VersionsAt time.Time `json:"versionsAt,omitzero"`
	// Contexts are the loop's worktrees of context layers.
	Contexts []ContextWorktree `json:"contexts,omitempty"`
	// Repos are roster repositories mounted read-only: name → clone.
	Repos   map[string]string `json:"repos,omitempty"`
	Sandbox SandboxMeta       `json:"sandbox"`
}

// ShortBranch is the branch name without refs/heads/.
func (m *Meta) ShortBranch() string { return strings.TrimPrefix(m.Branch, "refs/heads/") }

// ContextWorktree is a loop's worktree of a context layer's main clone,
// on its own branch.
type ContextWorktree struct {
	Layer         string `json:"layer"`
	Clone         string `json:"clone"`
	Dir           string `json:"dir"`
	Branch        string `json:"branch"` // full ref in the clone
	SHA           string `json:"sha"`    // where it started
	BranchCreated bool   `json:"branchCreated,omitempty"`
	// Own: Dir is the loop's own clone of the layer (docker and bwrap
	// loops), a repository only its sandbox works in, borrowing Clone's
	// objects read-only; Branch is then a branch of that clone, not of
	// Clone. Without it, Dir is a linked worktree of Clone (none-driver
	// loops, and loops made before own clones).
	Own bool `json:"own,omitempty"`
}

// Store is the loop state directory of one repository.
type Store struct {
	Root string // $GIT_COMMON_DIR/loop
}

// LoopsDir holds every loop's sandbox part.
func (s Store) LoopsDir() string { return filepath.Join(s.Root, "loops") }

// LoopDir is a loop's sandbox part: what its sandbox mounts read-write
// (agent dir, $HOME, context worktrees, the default worktree).
func (s Store) LoopDir(name string) string { return filepath.Join(s.Root, "loops", name) }

// HostsDir holds every loop's host-only part.
func (s Store) HostsDir() string { return filepath.Join(s.Root, "host") }

// HostDir is a loop's host-only part: its record, run logs, locks and
// caches. No sandbox mounts it.
func (s Store) HostDir(name string) string { return filepath.Join(s.Root, "host", name) }

// MetaPath is a loop's record.
func (s Store) MetaPath(name string) string { return filepath.Join(s.HostDir(name), "meta.json") }

// LegacyMetaPath is where a loop's record was kept before the host-only
// part existed: in the sandbox part, where the sandbox could edit it.
func (s Store) LegacyMetaPath(name string) string {
	return filepath.Join(s.LoopDir(name), "meta.json")
}

func (s Store) intentsDir() string { return filepath.Join(s.Root, "intents") }

// ErrNoLoop is returned when a loop has no record.
var ErrNoLoop = errors.New("no such loop")

// ReadMeta reads one loop's record.
func (s Store) ReadMeta(name string) (*Meta, error) {
	data, err := os.ReadFile(s.MetaPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("loop %q: %w", name, ErrNoLoop)
	}
	if err != nil {
		return nil, fmt.Errorf("read loop %q: %w", name, err)
	}
	return decodeMeta(s.MetaPath(name), data)
}

func decodeMeta(path string, data []byte) (*Meta, error) {
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w (run \"git loop doctor --fix\")", path, err)
	}
	if m.Schema > SchemaVersion {
		return nil, fmt.Errorf("read %s: schema %d is newer than this git loop understands (%d); upgrade git loop", path, m.Schema, SchemaVersion)
	}
	return &m, nil
}

// WriteMeta writes a loop's record atomically: readers see the old record
// or the new one, never a torn file.
func (s Store) WriteMeta(m *Meta) error {
	m.Schema = SchemaVersion
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.HostDir(m.Name), 0o755); err != nil {
		return fmt.Errorf("write loop %q: %w", m.Name, err)
	}
	return WriteFileAtomic(s.MetaPath(m.Name), append(data, '\n'), 0o644)
}

// List reads every loop's record, sorted by name. Records that cannot be
// read are returned as errors alongside the good ones, so one bad file
// does not hide every other loop.
func (s Store) List() ([]*Meta, []error) {
	entries, err := os.ReadDir(s.HostsDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{fmt.Errorf("list loops: %w", err)}
	}
	var metas []*Meta
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := s.MetaPath(e.Name())
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // an intent's leftovers; recovery handles it
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m, err := decodeMeta(path, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		metas = append(metas, m)
	}
	sort.Slice(metas, func(i, j int) bool { return metas[i].Name < metas[j].Name })
	return metas, errs
}

// RemoveLoopDir deletes a loop's state: its sandbox part and its
// host-only part. (os.RemoveAll never follows a symlink the sandbox
// planted: it unlinks the link.)
func (s Store) RemoveLoopDir(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return fmt.Errorf("refusing to remove state of loop %q", name)
	}
	if err := os.RemoveAll(s.LoopDir(name)); err != nil {
		return err
	}
	return os.RemoveAll(s.HostDir(name))
}

// Intent is a journal entry written before a multi-step operation starts
// and removed when it ends. One left behind means the operation was cut
// short: the next command holding the lock undoes ("new") or finishes
// ("rm") it.
type Intent struct {
	Op            string `json:"op"` // "new", "adopt", "rm" or "seal"
	Loop          string `json:"loop"`
	Branch        string `json:"branch"`
	BranchCreated bool   `json:"branchCreated"` // "new" created the branch, so undo may delete it
	BaseSHA       string `json:"baseSha,omitempty"`
	Worktree      string `json:"worktree"`
	Driver        string `json:"driver,omitempty"` // sandbox driver, so undo can remove the sandbox
	// Contexts are the per-loop context worktrees the operation makes or
	// removes.
	Contexts []ContextWorktree `json:"contexts,omitempty"`
	PID      int               `json:"pid"`
	Started  time.Time         `json:"started"`
}

func (s Store) intentPath(loop string) string { return filepath.Join(s.intentsDir(), loop+".json") }

// BeginIntent records an operation before its first step.
func (s Store) BeginIntent(in Intent) error {
	if err := os.MkdirAll(s.intentsDir(), 0o755); err != nil {
		return fmt.Errorf("record %s %s: %w", in.Op, in.Loop, err)
	}
	in.PID = os.Getpid()
	in.Started = time.Now().UTC()
	data, _ := json.Marshal(in)
	return WriteFileAtomic(s.intentPath(in.Loop), data, 0o644)
}

// EndIntent marks the operation done.
func (s Store) EndIntent(loop string) error {
	err := os.Remove(s.intentPath(loop))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Intents lists unfinished operations.
func (s Store) Intents() ([]Intent, error) {
	entries, err := os.ReadDir(s.intentsDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Intent
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			// A temp file from an interrupted atomic write.
			_ = os.Remove(filepath.Join(s.intentsDir(), e.Name()))
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.intentsDir(), e.Name()))
		if err != nil {
			return nil, err
		}
		var in Intent
		if err := json.Unmarshal(data, &in); err != nil || in.Loop == "" {
			// Torn or empty: written atomically, so this can only be
			// tampering; drop it rather than act on garbage.
			_ = os.Remove(filepath.Join(s.intentsDir(), e.Name()))
			continue
		}
		out = append(out, in)
	}
	return out, nil
}

// WriteFileAtomic writes data to a temp file beside path and renames it
// into place.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, perm)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// RemoveLoopDirKeeping deletes a loop's state directory but keeps keep (a
// worktree inside it that still holds work) by moving it out beside the
// loops directory first.
func (s Store) RemoveLoopDirKeeping(name, keep string) error {
	dir := s.LoopDir(name)
	if rel, err := filepath.Rel(dir, keep); err == nil && !strings.HasPrefix(rel, "..") && rel != "." {
		if _, err := os.Lstat(keep); err == nil {
			kept := filepath.Join(s.Root, "kept", name+"-"+time.Now().UTC().Format("20060102T150405"))
			if err := os.MkdirAll(filepath.Dir(kept), 0o755); err != nil {
				return err
			}
			if err := os.Rename(keep, kept); err != nil {
				return fmt.Errorf("keep %s: %w", keep, err)
			}
		}
	}
	return s.RemoveLoopDir(name)
}

// maxLegacyMeta bounds how much of an old-layout record is read: the file
// sat where the sandbox could write, so it may be anything.
const maxLegacyMeta = 1 << 20

// LegacyLoops are the loops whose record is still in the old place (the
// sandbox part) and not yet in the host-only part, sorted.
func (s Store) LegacyLoops() []string {
	entries, err := os.ReadDir(s.LoopsDir())
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Lstat(s.LegacyMetaPath(e.Name())); err != nil {
			continue
		}
		if _, err := os.Lstat(s.MetaPath(e.Name())); err == nil {
			continue
		}
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// ReadLegacyMeta reads an old-layout record as the hostile data it is: no
// symlink followed (the open goes through an os.Root on the loops dir and
// O_NOFOLLOW), a regular file only (a FIFO would hang the host), at most
// maxLegacyMeta bytes. The caller must still check every path, vault and
// driver in it against what the host knows before trusting any.
func (s Store) ReadLegacyMeta(name string) (*Meta, error) {
	root, err := os.OpenRoot(s.LoopsDir())
	if err != nil {
		return nil, err
	}
	defer root.Close()
	data, err := ReadUntrusted(root, filepath.Join(name, "meta.json"), maxLegacyMeta)
	if err != nil {
		return nil, err
	}
	return decodeMeta(s.LegacyMetaPath(name), data)
}

// ErrTooLarge is returned by ReadUntrusted for a file over its cap.
var ErrTooLarge = errors.New("file too large")

// ReadUntrusted reads a small file the sandbox can write, under root: the
// last component must not be a symlink, the file must be regular, and at
// most max bytes are read (ErrTooLarge beyond).
func ReadUntrusted(root *os.Root, rel string, max int64) ([]byte, error) {
	f, err := OpenUntrusted(root, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: %w (over %d bytes)", rel, ErrTooLarge, max)
	}
	return data, nil
}

// OpenUntrusted opens a file the sandbox can write for reading, under
// root (which keeps every symlink inside it), refusing a symlink as the
// last component and anything but a regular file. O_NONBLOCK keeps a
// planted FIFO from blocking the open; it changes nothing for a regular
// file.
func OpenUntrusted(root *os.Root, rel string) (*os.File, error) {
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", rel)
	}
	return f, nil
}
