package transport

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// After a fetch, the common case (the sandbox made a few commits on top
// of what the host has) is decided without a git: the refs are read as
// data from the host's ref store (files backend), and the fetched head's
// ancestry is walked through the objects the fetch just wrote: the pack
// it kept (a fetch with fsck always keeps one: index-pack) or loose
// objects. Only a proof counts: the head is a commit, each commit on the
// way is a whole commit object (not a delta), and the walk reaches the
// host's branch, in a few commits. Anything else (a delta, a tag, tree
// or blob at the head, no branch yet, a rewrite, reftable, an old or
// unknown index format) is left to git, as before.
// The move itself stays git's guarded update-ref.
//
// What is read is the host's own: its ref store and its object store,
// which no sandbox mounts writable; objects arrive there only through a
// fetch that checked them (transfer.fsckObjects).

// maxWalk bounds the commits walked for a proof.
const maxWalk = 256

// refsByData is what the for-each-ref of a fetch says, read as data:
// res.Old the branch, res.New the fetched head, res.Snapshot the
// snapshot's quarantine ref (when snapRef is set: its object, or
// noSnapshot when there is none). ok is true only when the head is
// proven a commit that is the branch or descends from it.
func refsByData(gitDir, head, branch, snapRef string) (res FetchResult, ok bool) {
	newSHA, found, ok1 := workspace.ReadRef(gitDir, head)
	oldSHA, foundOld, ok2 := workspace.ReadRef(gitDir, branch)
	if !ok1 || !ok2 || !found || !foundOld {
		return FetchResult{}, false
	}
	if snapRef != "" {
		snap, found, ok := workspace.ReadRef(gitDir, snapRef)
		switch {
		case !ok:
			return FetchResult{}, false
		case found:
			res.Snapshot = snap
		default:
			res.Snapshot = noSnapshot
		}
	}
	res.Old, res.New = oldSHA, newSHA
	if newSHA == oldSHA {
		return res, true
	}
	if !descends(filepath.Join(gitDir, "objects"), newSHA, oldSHA) {
		return FetchResult{}, false
	}
	return res, true
}

// descends: commit from reaches commit to through whole commit objects
// of objects (loose, or in its packs), within maxWalk commits.
func descends(objects, from, to string) bool {
	packs := newestPacks(objects)
	defer func() {
		for _, p := range packs {
			p.close()
		}
	}()
	seen := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 && len(seen) <= maxWalk {
		c := queue[0]
		queue = queue[1:]
		parents, ok := looseCommit(objects, c)
		for i := 0; !ok && i < len(packs); i++ {
			parents, ok = packs[i].commit(c)
		}
		if !ok {
			return false
		}
		for _, p := range parents {
			if p == to {
				return true
			}
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false
}

// looseCommit reads the parents of commit sha from its loose object in
// objects; ok is false when there is no such loose object or it is not
// a well-formed commit.
func looseCommit(objects, sha string) (parents []string, ok bool) {
	if !workspace.IsSHA(sha) {
		return nil, false
	}
	f, err := os.OpenFile(filepath.Join(objects, sha[:2], sha[2:]), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	z, err := zlib.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, false
	}
	defer z.Close()
	// Only the header is needed: "commit SIZE\0tree T\nparent P\n...".
	br := bufio.NewReader(io.LimitReader(z, 64<<10))
	hdr, err := br.ReadBytes(0)
	if err != nil || !bytes.HasPrefix(hdr, []byte("commit ")) {
		return nil, false
	}
	return commitParents(br, len(sha))
}

// commitParents reads a commit's parents from its content: "tree
// T\nparent P\n...".
func commitParents(br *bufio.Reader, shaLen int) (parents []string, ok bool) {
	line, err := br.ReadBytes('\n')
	if err != nil || !bytes.HasPrefix(line, []byte("tree ")) {
		return nil, false
	}
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return nil, false
		}
		p, isParent := bytes.CutPrefix(line, []byte("parent "))
		if !isParent {
			// The parents come right after the tree; the first other line
			// (author) ends them.
			return parents, true
		}
		p = bytes.TrimSuffix(p, []byte("\n"))
		if !workspace.IsSHA(string(p)) || len(p) != shaLen {
			return nil, false
		}
		parents = append(parents, string(p))
	}
}

// maxPacks bounds the packs searched: the fetch's own is the newest.
const maxPacks = 8

// packIndex is one pack of the object store and its index (version 2).
type packIndex struct {
	idx, pack *os.File
	n         uint32 // objects
}

func (p *packIndex) close() {
	p.idx.Close()
	p.pack.Close()
}

// newestPacks opens the newest packs of objects with a version 2 index.
func newestPacks(objects string) []*packIndex {
	dir := filepath.Join(objects, "pack")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	type cand struct {
		name string
		mod  int64
	}
	var cs []cand
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".idx"); ok && e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				cs = append(cs, cand{name, fi.ModTime().UnixNano()})
			}
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].mod > cs[j].mod })
	var out []*packIndex
	for _, c := range cs {
		if len(out) == maxPacks {
			break
		}
		idx, err := os.OpenFile(filepath.Join(dir, c.name+".idx"), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		pack, err := os.OpenFile(filepath.Join(dir, c.name+".pack"), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			idx.Close()
			continue
		}
		var hdr [8 + 256*4]byte
		if _, err := idx.ReadAt(hdr[:], 0); err != nil || string(hdr[:8]) != "\xfftOc\x00\x00\x00\x02" {
			idx.Close()
			pack.Close()
			continue
		}
		out = append(out, &packIndex{idx: idx, pack: pack, n: binary.BigEndian.Uint32(hdr[8+255*4:])})
	}
	return out
}

// commit reads the parents of commit sha when the pack holds it whole
// (not as a delta).
func (p *packIndex) commit(sha string) (parents []string, ok bool) {
	want, err := hex.DecodeString(sha)
	if err != nil || (len(want) != 20 && len(want) != 32) {
		return nil, false
	}
	hashLen := int64(len(want))
	var b4 [4]byte
	fan := func(i int) (uint32, bool) {
		if i < 0 {
			return 0, true
		}
		_, err := p.idx.ReadAt(b4[:], 8+int64(i)*4)
		return binary.BigEndian.Uint32(b4[:]), err == nil
	}
	lo, ok1 := fan(int(want[0]) - 1)
	hi, ok2 := fan(int(want[0]))
	if !ok1 || !ok2 || hi > p.n || lo > hi {
		return nil, false
	}
	names := int64(8 + 256*4)
	got := make([]byte, hashLen)
	pos := -1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if _, err := p.idx.ReadAt(got, names+int64(mid)*hashLen); err != nil {
			return nil, false
		}
		switch c := bytes.Compare(got, want); {
		case c == 0:
			pos, lo = int(mid), hi
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	if pos < 0 {
		return nil, false
	}
	// After the names: a CRC per object, then a 4-byte offset per object
	// (its top bit set: an index into the 8-byte offsets after them).
	offs := names + int64(p.n)*hashLen + int64(p.n)*4
	if _, err := p.idx.ReadAt(b4[:], offs+int64(pos)*4); err != nil {
		return nil, false
	}
	off := int64(binary.BigEndian.Uint32(b4[:]))
	if off&0x80000000 != 0 {
		var b8 [8]byte
		if _, err := p.idx.ReadAt(b8[:], offs+int64(p.n)*4+(off&0x7fffffff)*8); err != nil {
			return nil, false
		}
		off = int64(binary.BigEndian.Uint64(b8[:]))
	}
	// The object's header: its type (1 is a commit; deltas are 6 and 7)
	// in bits 4-6 of the first byte, then its size, 7 bits a byte.
	var hdr [16]byte
	n, _ := p.pack.ReadAt(hdr[:], off)
	if n == 0 || (hdr[0]>>4)&7 != 1 {
		return nil, false
	}
	i := 0
	for hdr[i]&0x80 != 0 {
		if i++; i >= n {
			return nil, false
		}
	}
	z, err := zlib.NewReader(io.NewSectionReader(p.pack, off+int64(i)+1, 1<<20))
	if err != nil {
		return nil, false
	}
	defer z.Close()
	return commitParents(bufio.NewReader(io.LimitReader(z, 64<<10)), len(sha))
}
