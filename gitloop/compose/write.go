package compose

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// tempInfix marks the staging dir beside the target. A crashed compose
// leaves one behind; it is never mistaken for an agent dir.
const tempInfix = ".composing-"

// staleAfter is how old a leftover staging dir must be before a later
// compose of the same target removes it; a compose takes milliseconds,
// so one this old belongs to a process that died.
const staleAfter = 10 * time.Minute

// write builds the agent dir in a staging dir beside target and renames
// it into place: readers see no agent dir or a complete one, even if
// this process dies half way. (It is not fsync'd: a power loss may
// still lose recently written file contents.)
func (p *plan) write(target string) error {
	parent, base := filepath.Dir(target), filepath.Base(target)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	removeStale(parent, base)
	tmp, err := os.MkdirTemp(parent, "."+base+tempInfix)
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := p.writeTree(tmp); err != nil {
		return err
	}
	prov, err := json.Marshal(p.res)
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ProvenanceFile), append(prov, '\n'), 0o644); err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	// rename(2) replaces an empty dir and fails on a non-empty one, so a
	// target filled since checkTarget is refused here, not overwritten.
	// (os.Rename refuses any existing dir, hence syscall.)
	if err := syscall.Rename(tmp, target); err != nil {
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("compose: %s: %w", target, ErrTargetNotEmpty)
		}
		return fmt.Errorf("compose: %w", err)
	}
	done = true
	return nil
}

func removeStale(parent, base string) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	prefix := "." + base + tempInfix
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAfter {
			os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
}

func (p *plan) writeTree(tmp string) error {
	dirs := map[string]bool{}
	var files, links []outEntry
	for _, e := range p.out {
		for d := path.Dir(e.name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
		switch e.kind {
		case leafDir:
			dirs[e.name] = true
		case leafLink:
			links = append(links, e)
		default:
			files = append(files, e)
		}
	}
	// Sorted, a parent always comes before its children. (Making each
	// skill's dir in the copy workers instead measured no faster: the
	// mkdirs all lock the same parent.)
	for _, d := range sortedKeys(dirs) {
		if err := os.Mkdir(filepath.Join(tmp, filepath.FromSlash(d)), 0o755); err != nil {
			return fmt.Errorf("compose: %w", err)
		}
	}
	if err := copyAll(tmp, files); err != nil {
		return err
	}
	for _, l := range links {
		if err := os.Symlink(filepath.FromSlash(l.target), filepath.Join(tmp, filepath.FromSlash(l.name))); err != nil {
			return fmt.Errorf("compose: %w", err)
		}
	}
	return verifyLinks(tmp, links)
}

// verifyLinks resolves every copied link inside the agent dir. Each was
// checked inside its own tier, but the agent dir mixes tiers, so a link
// could now resolve through another tier's link; the root refuses any
// resolution that leaves the agent dir.
func verifyLinks(tmp string, links []outEntry) error {
	if len(links) == 0 {
		return nil
	}
	r, err := os.OpenRoot(tmp)
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	defer r.Close()
	for _, l := range links {
		if _, err := r.Stat(filepath.FromSlash(l.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("compose: tier %s: symlink %s -> %s leaves the agent dir once composed", l.src.name, l.src.display(l.name), l.target)
		}
	}
	return nil
}

// copyWorkers: the copies are small files bound by syscalls, which
// overlap; on 2 cores 4 workers measured 10–20% faster than 1, and 8 no
// faster than 4.
var copyWorkers = min(4, 2*runtime.GOMAXPROCS(0))

func copyAll(tmp string, files []outEntry) error {
	var (
		next   atomic.Int64
		failed atomic.Bool
		mu     sync.Mutex
		first  error
		wg     sync.WaitGroup
	)
	for range min(copyWorkers, len(files)) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return
				}
				if err := writeOne(tmp, files[i]); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func writeOne(tmp string, e outEntry) error {
	dst := filepath.Join(tmp, filepath.FromSlash(e.name))
	if e.src == nil {
		if err := os.WriteFile(dst, e.data, 0o644); err != nil {
			return fmt.Errorf("compose: %w", err)
		}
		return nil
	}
	fail := func(err error) error {
		return fmt.Errorf("compose: tier %s: copy %s: %w", e.src.name, e.src.display(e.name), err)
	}
	in, err := e.src.fsys.Open(e.src.rel(e.name))
	if err != nil {
		return fail(err)
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return fail(err)
	}
	if !info.Mode().IsRegular() {
		return fail(errors.New("no longer a regular file"))
	}
	// Skills ship scripts: keep them executable, drop everything else.
	mode := fs.FileMode(0o644)
	if info.Mode()&0o111 != 0 {
		mode = 0o755
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fail(err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	return nil
}
