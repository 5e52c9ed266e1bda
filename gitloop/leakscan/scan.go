// Package leakscan keeps vault values out of what git loop pushes: it
// searches the objects a push would send for every value of the user's
// vaults, in this process, so a value is never in an argument or a log.
package leakscan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/sandboxspec"
	"github.com/gitloop-dev/git-loop/gitloop/vault"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Scan keeps vault values out of what promote and review push: an
// agent reads its vault's variables (it gets them at every exec) and can
// commit one into notes, knowledge or code. Before a push, every object
// the push would send that the remote-tracking main lacks (commits, trees,
// blobs, as git stores them) is read through a pipe from git cat-file
// and searched for every value of every vault, exactly. Values stay in
// this process: never in an argument, an error or a log.
type Scan struct {
	s    *workspace.Workspace
	once sync.Once
	sec  []vault.Secret
	max  int // longest value
	err  error
	// clean are the pushes already found clean (dir, tip, remote main):
	// promote checks every layer first and again right before its push,
	// which need not scan twice when nothing moved in between.
	clean map[string]bool
}

func New(s *workspace.Workspace) *Scan { return &Scan{s: s, clean: map[string]bool{}} }

// load reads the values once. Without a personal repo or vaults there is
// nothing to look for; a locked personal repo is warned about (the values
// cannot be read, and a loop cannot get them either while it is locked).
func (l *Scan) load(ctx context.Context) error {
	l.once.Do(func() {
		v, err := sandboxspec.PersonalVault(l.s)
		if errors.Is(err, workspace.ErrNoContext) {
			return
		}
		if err != nil {
			l.err = fmt.Errorf("checking for vault values: %w", err)
			return
		}
		sec, err := v.Secrets(ctx)
		var le *vault.LockedError
		if errors.As(err, &le) {
			l.s.Reporter().Warn("vault values not checked before pushing: the personal repo is locked (\"git loop vault unlock\")")
			return
		}
		if err != nil {
			l.err = fmt.Errorf("checking for vault values: %w", err)
			return
		}
		l.sec = sec
		for _, x := range sec {
			l.max = max(l.max, len(x.Value))
		}
	})
	return l.err
}

// check refuses to push tip of layer (in the repository at dir) when an
// object the push would send holds a vault value. What the remote has is
// taken to be what track (its remote-tracking main) reaches; anything
// else is scanned: more, never less, than git sends. A nil scan checks
// nothing (sync pushes nothing).
func (l *Scan) Check(ctx context.Context, loop string, layer workspace.Layer, dir, track, tip string) error {
	if l == nil {
		return nil
	}
	if err := l.load(ctx); err != nil || len(l.sec) == 0 || tip == "" {
		return err
	}
	remote := ""
	if track != "" {
		remote, _ = l.s.Query.Line(ctx, git.Cmd{Dir: dir, Args: []string{"rev-parse", "--verify", "--quiet", track + "^{commit}"}})
	}
	key := dir + "\x00" + tip + "\x00" + remote
	if l.clean[key] {
		return nil
	}
	args := []string{"rev-list", "--objects", tip}
	if remote != "" {
		args = append(args, "--not", remote)
	}
	list, err := l.s.Query.Output(ctx, git.Cmd{Dir: dir, Args: args})
	if err != nil {
		return fmt.Errorf("%s: listing what the push sends: %w", layer, err)
	}
	var ids bytes.Buffer
	paths := map[string]string{}
	for _, line := range strings.Split(string(list), "\n") {
		id, p, _ := strings.Cut(line, " ")
		if id == "" {
			continue
		}
		ids.WriteString(id + "\n")
		paths[id] = p
	}
	var found []finding
	if ids.Len() > 0 {
		if found, err = l.scanObjects(ctx, dir, &ids); err != nil {
			return fmt.Errorf("%s: scanning what the push sends: %w", layer, err)
		}
	}
	if len(found) == 0 {
		l.clean[key] = true
		return nil
	}
	e := &workspace.SecretLeakError{Loop: loop}
	for _, f := range found {
		e.Leaks = append(e.Leaks, workspace.Leak{Layer: layer, Where: where(f.kind, f.id, paths[f.id]), Secret: l.sec[f.secret].Name})
	}
	sort.Slice(e.Leaks, func(i, j int) bool {
		a, b := e.Leaks[i], e.Leaks[j]
		return a.Where < b.Where || a.Where == b.Where && a.Secret < b.Secret
	})
	return e
}

func where(kind, id, path string) string {
	switch kind {
	case "blob":
		return path
	case "tree":
		if path == "" {
			return "a file name at the top of the tree"
		}
		return "a file name in " + path + "/"
	case "commit":
		return "commit " + id[:min(len(id), 12)] + " (its message or author)"
	}
	return kind + " " + id[:min(len(id), 12)]
}

type finding struct {
	id, kind string
	secret   int
}

// scanObjects streams the objects named on ids (one per line) out of
// git cat-file --batch and returns which values each holds.
func (l *Scan) scanObjects(ctx context.Context, dir string, ids io.Reader) ([]finding, error) {
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		err := l.s.Query.Stream(ctx, git.Cmd{Dir: dir, Args: []string{"cat-file", "--batch"}, Stdin: ids}, pw, &stderr)
		pw.CloseWithError(err)
		done <- err
	}()
	found, perr := l.parseBatch(bufio.NewReaderSize(pr, 64<<10))
	// Drain whatever is left so git can finish, then take its outcome.
	_, _ = io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		return nil, fmt.Errorf("git cat-file: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return found, perr
}

// parseBatch reads cat-file --batch output: "ID TYPE SIZE\n", SIZE bytes
// and "\n" per object ("ID missing\n" for none).
func (l *Scan) parseBatch(r *bufio.Reader) ([]finding, error) {
	var out []finding
	buf := make([]byte, 64<<10)
	for {
		hdr, err := r.ReadString('\n')
		if err == io.EOF && hdr == "" {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		f := strings.Fields(hdr)
		if len(f) != 3 {
			continue // "ID missing": nothing to send
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return out, fmt.Errorf("cat-file header %q", strings.TrimSpace(hdr))
		}
		hits, err := l.match(io.LimitReader(r, size), buf)
		if err != nil {
			return out, err
		}
		for _, i := range hits {
			out = append(out, finding{id: f[0], kind: f[1], secret: i})
		}
		if _, err := r.Discard(1); err != nil {
			return out, err
		}
	}
}

// match returns the indexes of the values found in r, read in chunks
// with an overlap of the longest value so none is missed at a boundary.
func (l *Scan) match(r io.Reader, buf []byte) ([]int, error) {
	hit := make([]bool, len(l.sec))
	keep := l.max - 1
	window := make([]byte, 0, len(buf)+keep)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			window = append(window, buf[:n]...)
			for i, x := range l.sec {
				if !hit[i] && bytes.Contains(window, x.Value) {
					hit[i] = true
				}
			}
			if len(window) > keep {
				window = append(window[:0], window[len(window)-keep:]...)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	var out []int
	for i, h := range hit {
		if h {
			out = append(out, i)
		}
	}
	return out, nil
}

// CheckFiles refuses files (by the path they would have in layer) that
// hold a vault value: what promote is about to write into a repository
// of the user's from a place a sandbox wrote (a loop's own memory), before
// it becomes a commit there.
func (l *Scan) CheckFiles(ctx context.Context, loop string, layer workspace.Layer, files map[string][]byte) error {
	if l == nil {
		return nil
	}
	if err := l.load(ctx); err != nil || len(l.sec) == 0 {
		return err
	}
	e := &workspace.SecretLeakError{Loop: loop}
	buf := make([]byte, 64<<10)
	for p, b := range files {
		hits, err := l.match(bytes.NewReader(b), buf)
		if err != nil {
			return err
		}
		for _, i := range hits {
			e.Leaks = append(e.Leaks, workspace.Leak{Layer: layer, Where: p, Secret: l.sec[i].Name})
		}
		// A value in a file's name would be in the tree git stores.
		if hits, _ := l.match(strings.NewReader(p), buf); len(hits) > 0 {
			for _, i := range hits {
				e.Leaks = append(e.Leaks, workspace.Leak{Layer: layer, Where: "a file name in " + path.Dir(p) + "/", Secret: l.sec[i].Name})
			}
		}
	}
	if len(e.Leaks) == 0 {
		return nil
	}
	sort.Slice(e.Leaks, func(i, j int) bool {
		a, b := e.Leaks[i], e.Leaks[j]
		return a.Where < b.Where || a.Where == b.Where && a.Secret < b.Secret
	})
	return e
}
