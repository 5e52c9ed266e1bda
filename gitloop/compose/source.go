package compose

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// source is one tier opened for reading. On-disk tiers are read through
// an os.Root, so no path or symlink inside a tier can reach a file
// outside it, whatever races with the tier's owner.
type source struct {
	name    string
	label   string // the tier dir, for messages and provenance
	fsys    fs.FS
	root    *os.Root
	present bool

	// A view of one dir of the tier (skills/, agents/) has that dir as
	// its fsys, so that opening a file inside costs one path step, not
	// one per component; names stay tier-relative and prefix is cut
	// before each access.
	prefix string
	tier   *source // the whole tier, which checks links
	views  []*os.Root
}

func openSource(t Tier) (*source, error) {
	s := &source{name: t.Name, label: t.Dir}
	s.tier = s
	switch {
	case t.FS != nil:
		s.fsys, s.present = t.FS, true
	case t.Dir != "":
		abs, err := filepath.Abs(t.Dir)
		if err != nil {
			return nil, fmt.Errorf("compose: tier %s: %w", t.Name, err)
		}
		s.label = abs
		r, err := openTierRoot(t.Within, abs)
		if errors.Is(err, fs.ErrNotExist) {
			return s, nil // a layer without this tier: nothing to add
		}
		if err != nil {
			return nil, fmt.Errorf("compose: tier %s: %w", t.Name, err)
		}
		s.root, s.fsys, s.present = r, r.FS(), true
	}
	return s, nil
}

// openTierRoot opens the tier dir abs, through an os.Root on within when
// it is set: a tier that leads out of within is an error, not a dir of
// the host's.
func openTierRoot(within, abs string) (*os.Root, error) {
	if within == "" {
		return os.OpenRoot(abs)
	}
	within, err := filepath.Abs(within)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(within, abs)
	if err != nil || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("%s is not inside %s", abs, within)
	}
	outer, err := os.OpenRoot(within)
	if err != nil {
		return nil, err
	}
	defer outer.Close()
	r, err := outer.OpenRoot(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (a link out of %s is not followed)", abs, err, within)
	}
	return r, err
}

func (s *source) close() {
	for _, v := range s.views {
		v.Close()
	}
	if s.root != nil {
		s.root.Close()
	}
}

// view opens dir (already checked, if a link) as a source of its own.
func (s *source) view(dir string) (*source, error) {
	v := &source{name: s.name, label: s.label, present: true, prefix: dir + "/", tier: s}
	if s.root != nil {
		r, err := s.root.OpenRoot(filepath.FromSlash(dir))
		if err != nil {
			return nil, err
		}
		s.views = append(s.views, r)
		v.fsys = r.FS()
		return v, nil
	}
	sub, err := fs.Sub(s.fsys, dir)
	if err != nil {
		return nil, err
	}
	v.fsys = sub
	return v, nil
}

// rel is name's path in s.fsys.
func (s *source) rel(name string) string {
	if s.prefix == "" {
		return name
	}
	if name+"/" == s.prefix {
		return "."
	}
	return strings.TrimPrefix(name, s.prefix)
}

// display is how a file of the tier is named to the user.
func (s *source) display(name string) string {
	if s.label == "" {
		return s.name + ":" + name
	}
	return filepath.Join(s.label, filepath.FromSlash(name))
}

func (s *source) errorf(format string, args ...any) error {
	return fmt.Errorf("compose: tier %s: "+format, append([]any{s.name}, args...)...)
}

// leaf is one entry to reproduce in the agent dir. Its path there is the
// path it has in the tier.
type leaf struct {
	name   string // slash path in the tier and in the agent dir
	kind   leafKind
	target string // for links
}

type leafKind uint8

const (
	leafFile leafKind = iota
	leafDir
	leafLink
)

// readRegular reads a top-level file such as settings.json. A symlink is
// followed only while it stays inside the tier; a dangling one counts as
// a missing file.
func (s *source) readRegular(d fs.DirEntry) ([]byte, bool, error) {
	name := d.Name()
	if d.Type()&fs.ModeSymlink != 0 {
		if _, err := s.checkLink(name); err != nil {
			return nil, false, err
		}
		info, err := fs.Stat(s.fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, s.errorf("%s: %w", s.display(name), err)
		}
		if !info.Mode().IsRegular() {
			return nil, false, s.errorf("%s is not a regular file", s.display(name))
		}
	} else if !d.Type().IsRegular() {
		return nil, false, s.errorf("%s is not a regular file", s.display(name))
	}
	data, err := fs.ReadFile(s.fsys, name)
	if err != nil {
		return nil, false, s.errorf("%w", err)
	}
	return data, true, nil
}

// checkLink refuses a symlink whose target leaves the tier dir, and
// returns the target to write in the agent dir: relative, because an
// absolute one would point back into the live tier and break the frozen
// snapshot.
func (s *source) checkLink(name string) (string, error) {
	s = s.tier
	rl, ok := s.fsys.(fs.ReadLinkFS)
	if !ok {
		return "", s.errorf("%s is a symlink, which this tier cannot read", s.display(name))
	}
	target, err := rl.ReadLink(name)
	if err != nil {
		return "", s.errorf("%w", err)
	}
	escape := func() error {
		return s.errorf("symlink %s -> %s leaves the tier dir; only links inside the tier are copied", s.display(name), target)
	}
	rel := target
	if filepath.IsAbs(target) {
		rel = ""
		if s.root != nil {
			rel = s.relInside(target)
		}
		if rel == "" {
			return "", escape()
		}
		r, err := filepath.Rel(filepath.FromSlash(path.Dir(name)), rel)
		if err != nil {
			return "", escape()
		}
		rel = r
	}
	rel = filepath.ToSlash(rel)
	if p := path.Join(path.Dir(name), rel); !fs.ValidPath(p) {
		return "", escape()
	}
	// The lexical check misses ".." taken after another symlink; the
	// root resolves the whole chain the way the kernel would. The joined
	// path is left uncleaned so that it does.
	if s.root != nil {
		via := rel
		if dir := path.Dir(name); dir != "." {
			via = dir + "/" + rel
		}
		if _, err := s.root.Stat(filepath.FromSlash(via)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", escape()
		}
	}
	return rel, nil
}

// relInside returns abs relative to the tier dir, or "" when it is not
// inside it.
func (s *source) relInside(abs string) string {
	bases := []string{s.label}
	if real, err := filepath.EvalSymlinks(s.label); err == nil && real != s.label {
		bases = append(bases, real)
	}
	for _, b := range bases {
		if r, err := filepath.Rel(b, filepath.Clean(abs)); err == nil && filepath.IsLocal(r) {
			return r
		}
	}
	return ""
}

// collect lists the leaves under the entry name (d is its DirEntry). With
// follow, a symlink at name itself is followed (inside the tier) so that
// a skill or agent may be a link to a shared dir; links below it are
// copied as links.
func (s *source) collect(name string, d fs.DirEntry, follow bool) ([]leaf, error) {
	t := d.Type()
	if t&fs.ModeSymlink != 0 {
		target, err := s.checkLink(name)
		if err != nil {
			return nil, err
		}
		if !follow {
			return []leaf{{name: name, kind: leafLink, target: target}}, nil
		}
		info, err := fs.Stat(s.fsys, s.rel(name))
		if err != nil {
			return nil, s.errorf("%s: %w", s.display(name), err)
		}
		t = info.Mode().Type()
	}
	switch {
	case t.IsRegular():
		return []leaf{{name: name, kind: leafFile}}, nil
	case t.IsDir():
		return s.walk(name, nil)
	}
	return nil, s.errorf("%s is not a regular file, dir or symlink", s.display(name))
}

// walk lists dir and everything below it, parents first. (fs.WalkDir
// would stat the top again, a path walk per skill for nothing.)
func (s *source) walk(dir string, out []leaf) ([]leaf, error) {
	out = append(out, leaf{name: dir, kind: leafDir})
	ents, err := fs.ReadDir(s.fsys, s.rel(dir))
	if err != nil {
		return nil, s.errorf("%w", err)
	}
	for _, d := range ents {
		name := dir + "/" + d.Name()
		t := d.Type()
		switch {
		case t.IsDir():
			if out, err = s.walk(name, out); err != nil {
				return nil, err
			}
		case t.IsRegular():
			out = append(out, leaf{name: name, kind: leafFile})
		case t&fs.ModeSymlink != 0:
			target, err := s.checkLink(name)
			if err != nil {
				return nil, err
			}
			out = append(out, leaf{name: name, kind: leafLink, target: target})
		default:
			return nil, s.errorf("%s is not a regular file, dir or symlink", s.display(name))
		}
	}
	return out, nil
}

// hidden entries directly under skills/ and agents/ (.gitkeep, .DS_Store)
// are not skills or agents.
func hidden(name string) bool { return strings.HasPrefix(name, ".") }
