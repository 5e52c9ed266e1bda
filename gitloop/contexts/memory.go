package contexts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// A sealed loop's personal memory is its own: a copy of the user's
// memory/ as of new (workspace.MemoryDir), which its sandbox sees at the
// user's memory path. Sharing the user's dir would let one loop read what
// any other loop, of any repository, wrote there, and leave instructions
// for every later agent; and the sandbox would write a host repository
// the user runs git in. What the loop writes reaches the user's clone
// only through promote, read as data: regular files only, no link, no
// git repository, bounded, checked for vault values.

// Bounds of a loop's memory as promote reads it: past them nothing lands.
const (
	maxMemoryFile  = 1 << 20
	maxMemoryTotal = 16 << 20
	maxMemoryFiles = 10000
)

// Memory is a memory dir read as data: its regular files by slash path
// under it, and what was left out (links, git repositories, other
// kinds), by path.
type Memory struct {
	Files   map[string][]byte
	Skipped []string
}

// ReadMemory reads the memory dir rel under base as data, through an
// os.Root at base (a dir the sandbox cannot replace, such as the loop
// dir it is mounted at): no link on the way to rel or inside it leads
// out of base, and a link inside is skipped, not followed. A missing dir
// is an empty memory.
func ReadMemory(base, rel string) (Memory, error) {
	mem := Memory{Files: map[string][]byte{}}
	dir := filepath.Join(base, rel)
	top, err := os.OpenRoot(base)
	if errors.Is(err, fs.ErrNotExist) {
		return mem, nil
	}
	if err != nil {
		return mem, err
	}
	defer top.Close()
	root, err := top.OpenRoot(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return mem, nil
	}
	if err != nil {
		return mem, fmt.Errorf("reading memory %s: %w", dir, err)
	}
	defer root.Close()
	total := 0
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if strings.HasPrefix(strings.ToLower(d.Name()), ".git") {
			// A repository (or a .git file) planted in memory would be
			// a submodule in the user's clone, and .gitattributes would
			// choose the filters and drivers git runs on its files
			// there (git-crypt's is configured): never landed.
			mem.Skipped = append(mem.Skipped, p)
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			mem.Skipped = append(mem.Skipped, p)
			return nil
		}
		if len(mem.Files) >= maxMemoryFiles {
			return fmt.Errorf("more than %d files", maxMemoryFiles)
		}
		// A file swapped for something else since the walk saw it is
		// refused.
		b, err := state.ReadUntrusted(root, filepath.FromSlash(p), maxMemoryFile)
		if err != nil {
			return err
		}
		if total += len(b); total > maxMemoryTotal {
			return fmt.Errorf("more than %d MiB", maxMemoryTotal>>20)
		}
		mem.Files[p] = b
		return nil
	})
	if err != nil {
		return mem, fmt.Errorf("reading memory %s: %w", dir, err)
	}
	sort.Strings(mem.Skipped)
	return mem, nil
}

// WriteMemory makes rel (a dir under base) hold exactly files, through an
// os.Root at base: a link the sandbox planted on the way (base may be its
// loop dir) cannot aim the host's writes elsewhere.
func WriteMemory(base, rel string, files map[string][]byte) error {
	root, err := os.OpenRoot(base)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.RemoveAll(rel); err != nil {
		return err
	}
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return err
	}
	for p, b := range files {
		f := filepath.Join(rel, filepath.FromSlash(p))
		if err := root.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		if err := root.WriteFile(f, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// SeedMemory gives a sealed loop its own copy of the user's memory/, and
// the host-only base promote compares it with. Other loops do nothing.
func SeedMemory(s *workspace.Workspace, m *state.Meta) error {
	if !sandboxspec.OwnMemory(m) {
		return nil
	}
	clone, err := s.LayerClone(workspace.Personal)
	if errors.Is(err, workspace.ErrNoContext) {
		return nil
	}
	if err != nil {
		return err
	}
	mem, err := ReadMemory(clone, "memory")
	if err != nil {
		return fmt.Errorf("personal: %w", err)
	}
	for _, d := range []struct{ base, dir string }{
		{s.Store().HostDir(m.Name), s.MemoryBaseDir(m.Name)},
		{s.Store().LoopDir(m.Name), s.MemoryDir(m.Name)},
	} {
		rel, err := filepath.Rel(d.base, d.dir)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(d.base, 0o755); err != nil {
			return err
		}
		if err := WriteMemory(d.base, rel, mem.Files); err != nil {
			return fmt.Errorf("personal: seeding loop %s's memory: %w", m.Name, err)
		}
	}
	return nil
}

// ensureMemory seeds the own memory of a sealed loop made before loops
// had one (it shared the user's memory/), and says so. It returns whether
// the loop dir changed.
func ensureMemory(s *workspace.Workspace, m *state.Meta) (bool, error) {
	if !sandboxspec.OwnMemory(m) || workspace.Exists(s.MemoryDir(m.Name)) {
		return false, nil
	}
	if _, err := s.LayerClone(workspace.Personal); err != nil {
		return false, nil
	}
	if err := SeedMemory(s, m); err != nil {
		return false, err
	}
	s.Reporter().Warn(fmt.Sprintf("loop %s: its personal memory is now a copy of its own, out of reach of other loops (\"git loop promote %s --layer personal\" lands it in yours)", m.Name, m.Name))
	return true, nil
}

// ReadLoopMemory reads loop name's own memory, rooted at its loop dir.
func ReadLoopMemory(s *workspace.Workspace, name string) (Memory, error) {
	return readUnder(s.Store().LoopDir(name), s.MemoryDir(name))
}

// ReadMemoryBase reads the host-only base of loop name's memory.
func ReadMemoryBase(s *workspace.Workspace, name string) (Memory, error) {
	return readUnder(s.Store().HostDir(name), s.MemoryBaseDir(name))
}

func readUnder(base, dir string) (Memory, error) {
	rel, err := filepath.Rel(base, dir)
	if err != nil {
		return Memory{}, err
	}
	return ReadMemory(base, rel)
}

// MemoryChanged lists the files of loop m's own memory that differ from
// its base (what promote would land), sorted. A memory that cannot be
// read as data lands nothing, and so has nothing at risk.
func MemoryChanged(s *workspace.Workspace, m *state.Meta) []string {
	if !sandboxspec.OwnMemory(m) {
		return nil
	}
	loop, err := ReadLoopMemory(s, m.Name)
	if err != nil {
		return nil
	}
	base, err := ReadMemoryBase(s, m.Name)
	if err != nil {
		return nil
	}
	var out []string
	for p, b := range loop.Files {
		if old, ok := base.Files[p]; !ok || string(old) != string(b) {
			out = append(out, p)
		}
	}
	for p := range base.Files {
		if _, ok := loop.Files[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// MemoryChangedSeen is MemoryChanged for ls, which asks it of every loop
// each time: the answer is kept in host-only state with a stamp of both
// dirs (each entry's name, kind, size, inode and change times, read with
// lstat, nothing opened), and given again while the stamp holds. The
// kernel sets a file's ctime on every write, rename or chmod and no
// process in the sandbox can set it back, so a changed memory always
// changes the stamp; a stamp with an entry changed in the last
// memoryRacy is not kept (what changes again within the clock's tick
// could keep it), as git does with racy index entries.
func MemoryChangedSeen(s *workspace.Workspace, m *state.Meta) []string {
	if !sandboxspec.OwnMemory(m) {
		return nil
	}
	stamp, racy := memoryStamp(s, m.Name)
	rec := filepath.Join(s.Store().HostDir(m.Name), "personal", "memory.seen")
	if data, err := os.ReadFile(rec); err == nil {
		var r memorySeen
		if json.Unmarshal(data, &r) == nil && r.Stamp == stamp {
			return r.Changed
		}
	}
	changed := MemoryChanged(s, m)
	if !racy {
		if data, err := json.Marshal(memorySeen{Stamp: stamp, Changed: changed}); err == nil {
			if os.MkdirAll(filepath.Dir(rec), 0o755) == nil {
				_ = state.WriteFileAtomic(rec, data, 0o644) // only a cache
			}
		}
	}
	return changed
}

// memorySeen is MemoryChangedSeen's record.
type memorySeen struct {
	Stamp   string   `json:"stamp"`
	Changed []string `json:"changed,omitempty"`
}

// memoryRacy is how recent a change keeps a stamp from being recorded.
const memoryRacy = 2 * time.Second

// memoryStamp sums what lstat says of every entry of loop name's memory
// and of its base; racy when one changed within memoryRacy.
func memoryStamp(s *workspace.Workspace, name string) (stamp string, racy bool) {
	h := sha256.New()
	recent := time.Now().Add(-memoryRacy).UnixNano()
	for _, dir := range []string{s.MemoryDir(name), s.MemoryBaseDir(name)} {
		fmt.Fprintf(h, "dir %s\n", dir)
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(h, "err %q %v\n", p, err)
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				fmt.Fprintf(h, "err %q %v\n", p, err)
				return nil
			}
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok {
				racy = true // nothing to tell a change by
				return nil
			}
			ctime, mtime := st.Ctim.Nano(), st.Mtim.Nano()
			if ctime >= recent || mtime >= recent {
				racy = true
			}
			fmt.Fprintf(h, "%q %v %d %d %d %d %d\n", p, fi.Mode(), fi.Size(), st.Dev, st.Ino, ctime, mtime)
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil)), racy
}

// MemoryPath is p, a file of a memory dir, as a path of the personal
// repository.
func MemoryPath(p string) string { return path.Join("memory", p) }
