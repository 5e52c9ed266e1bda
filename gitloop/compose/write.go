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
	prov, err := json.MarshalIndent(p.res, "", "  ")
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

// job is a unit of parallel writing: a skill's dirs and files, or one
// other file. Creating a skill's dir in the same job as its files lets
// the mkdirs overlap with other skills' copies instead of all going
// first.
type job struct {
	dirs  []string
	files []outEntry
}

func (p *plan) writeTree(tmp string) error {
	top := map[string]bool{}
	var jobs []*job
	units := map[string]*job{}
	var links []outEntry
	for _, e := range p.out {
		for d := path.Dir(e.name); d != "."; d = path.Dir(d) {
			if e.unit == "" || !strings.HasPrefix(d+"/", e.unit+"/") {
				top[d] = true
			}
		}
		j := units[e.unit]
		if e.unit != "" && j == nil {
			j = &job{}
			units[e.unit] = j
			jobs = append(jobs, j)
		}
		switch {
		case e.kind == leafLink:
			links = append(links, e)
		case e.kind == leafDir && j != nil:
			j.dirs = append(j.dirs, e.name)
		case e.kind == leafDir:
			top[e.name] = true
		case j != nil:
			j.files = append(j.files, e)
		default:
			jobs = append(jobs, &job{files: []outEntry{e}})
		}
	}
	// Sorted, a parent always comes before its children.
	for _, d := range sortedKeys(top) {
		if err := os.Mkdir(filepath.Join(tmp, filepath.FromSlash(d)), 0o755); err != nil {
			return fmt.Errorf("compose: %w", err)
		}
	}
	if err := runJobs(tmp, jobs); err != nil {
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
// overlap well; measured on 2 cores, 4 workers beat 1 and 8 bought
// nothing more.
var copyWorkers = min(4, 2*runtime.GOMAXPROCS(0))

func runJobs(tmp string, jobs []*job) error {
	var (
		next   atomic.Int64
		failed atomic.Bool
		mu     sync.Mutex
		first  error
		wg     sync.WaitGroup
	)
	do := func(j *job) error {
		for _, d := range j.dirs {
			if err := os.Mkdir(filepath.Join(tmp, filepath.FromSlash(d)), 0o755); err != nil {
				return fmt.Errorf("compose: %w", err)
			}
		}
		for _, f := range j.files {
			if err := writeOne(tmp, f); err != nil {
				return err
			}
		}
		return nil
	}
	for range min(copyWorkers, len(jobs)) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				if err := do(jobs[i]); err != nil {
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
