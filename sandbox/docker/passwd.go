package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// The sandbox runs as the invoking user's uid:gid, which the image's
// /etc/passwd rarely knows: whoami, ssh, and the parts of git that look
// the user up then fail. So before a new container starts, git loop reads
// its /etc/passwd and /etc/group (the engine's archive API works on created
// containers) and adds an entry for the uid and the gid when the image has
// none. An image without /etc/passwd (FROM scratch) gets a minimal one.
// Entries the image has are never changed.

// userEntry is what addUser adds for a uid the image does not know.
type userEntry struct {
	uid, gid int
	hasGID   bool
	name     string // preferred login name (see loginName)
	home     string
}

// passwdEdit is the outcome of planning: the new files, nil when unchanged.
type passwdEdit struct {
	passwd, group         []byte
	passwdMode, groupMode int64
}

// editedFile is one of /etc's files as a passwdEdit writes it.
type editedFile struct {
	name string
	data []byte
	mode int64
}

// files are the edit's files to write (passwd, group: those it changes),
// each with its mode (0644 when the image's was not known).
func (e passwdEdit) files() []editedFile {
	var fs []editedFile
	for _, f := range []editedFile{{"passwd", e.passwd, e.passwdMode}, {"group", e.group, e.groupMode}} {
		if f.data == nil {
			continue
		}
		if f.mode == 0 {
			f.mode = 0o644
		}
		fs = append(fs, f)
	}
	return fs
}

// addUser makes spec's uid and gid known in the created (not yet started)
// container id. It is best effort: a failure leaves the image's files as
// they are, since the sandbox works without the entry, only less well.
//
// Reading files out of a container costs the engine a helper process per
// file (some 60 ms each on Docker 20.10), so what addUser reads depends
// only on the image and is cached by image id: the next loop on the same
// image reads nothing, and writes only when the uid needs an entry.
func (e *Engine) addUser(ctx context.Context, id, userSpec, home string) {
	u, ok := parseUser(userSpec, home)
	if !ok {
		return
	}
	img, err := e.imageUsers(ctx, id)
	if err != nil {
		return
	}
	passwd, group := img.Passwd, img.Group
	if passwd.Exists && passwd.hasUID(u.uid) && (!u.hasGID || (group.Exists && group.hasUID(u.gid))) {
		return // the common case for root, or an image made for this uid
	}
	shell := "/bin/sh"
	if img.Bash {
		shell = "/bin/bash"
	}
	edit := planUser(passwd, group, u, shell)
	if edit.passwd == nil && edit.group == nil {
		return
	}
	_ = e.writeEtc(ctx, id, edit, !passwd.Exists && !group.Exists)
}

// etcBinds is addUser without a copy into the container, for an engine
// that sees this host's files and an image whose users are cached: the
// edited files are written to the host-only cache, under the container's
// name, and bound read-only over the image's at create. Copying into a
// container costs the engine a helper process (some 60 ms, a fifth of a
// new's time), a bind nothing. handled false leaves the entry to addUser
// (an image not seen yet, one without /etc/passwd and /etc/group, a spec
// that mounts something there itself, no cache dir); imageID is the image
// the files were made from, which the created container must be of.
func (e *Engine) etcBinds(ctx context.Context, spec sandbox.Spec, userSpec string) (mounts []mount.Mount, imageID string, handled bool) {
	u, ok := parseUser(userSpec, spec.Home)
	if !ok {
		return nil, "", true // addUser would leave it too
	}
	for _, m := range spec.Mounts {
		if t := filepath.Clean(m.Target); t == "/" || t == "/etc" || strings.HasPrefix(t, "/etc/passwd") || strings.HasPrefix(t, "/etc/group") {
			return nil, "", false
		}
	}
	dir := e.etcDir(spec.Name())
	if dir == "" {
		return nil, "", false
	}
	res, err := e.cli.ImageInspect(ctx, spec.Image)
	if err != nil {
		return nil, "", false
	}
	cache := e.imageUsersCache(res.ID)
	if cache == "" {
		return nil, "", false
	}
	var img imageUsers
	if data, err := os.ReadFile(cache); err != nil || json.Unmarshal(data, &img) != nil {
		return nil, "", false
	}
	if !img.Passwd.Exists && !img.Group.Exists {
		return nil, "", false // /etc itself may be missing: addUser makes it
	}
	if img.Passwd.Exists && img.Passwd.hasUID(u.uid) && (!u.hasGID || (img.Group.Exists && img.Group.hasUID(u.gid))) {
		return nil, res.ID, true
	}
	shell := "/bin/sh"
	if img.Bash {
		shell = "/bin/bash"
	}
	edit := planUser(img.Passwd, img.Group, u, shell)
	// Its own dir per content: a container of the same name made anew
	// (another image, another $HOME) never changes the files an older one,
	// still running, was made with.
	sum := sha256.Sum256(append(append(append([]byte(nil), edit.passwd...), 0), edit.group...))
	dir = filepath.Join(dir, hex.EncodeToString(sum[:12]))
	for _, f := range edit.files() {
		// Readable by the sandbox's user, whoever owns the cache; the
		// bind is read-only, so no one inside changes it.
		file := filepath.Join(dir, f.name)
		if _, err := os.Stat(file); err != nil {
			if err := writeFileAtomic(file, f.data); err != nil {
				return nil, "", false
			}
			if err := os.Chmod(file, os.FileMode(f.mode&0o755)|0o444); err != nil {
				return nil, "", false
			}
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: file, Target: "/etc/" + f.name, ReadOnly: true})
	}
	return mounts, res.ID, true
}

// etcDir is where etcBinds keeps the files of the container name; empty
// when there is no cache dir or name could leave it.
func (e *Engine) etcDir(name string) string {
	if e.cacheDir == "" || name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return ""
	}
	return filepath.Join(e.cacheDir, "etc", name)
}

// removeEtc removes the files etcBinds kept for the container name, once
// it is gone.
func (e *Engine) removeEtc(name string) {
	if dir := e.etcDir(name); dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// etcMissing reports whether a container binds files of etcBinds that are
// gone (a cleaned cache): it could not start again, so it is made anew.
func (e *Engine) etcMissing(c container.InspectResponse) bool {
	dir := e.etcDir(trimSlash(c.Name))
	if dir == "" {
		return false
	}
	for _, m := range c.Mounts {
		if m.Type == mount.TypeBind && strings.HasPrefix(m.Source, dir+string(filepath.Separator)) {
			if _, err := os.Stat(m.Source); err != nil {
				return true
			}
		}
	}
	return false
}

// imageUsers is what addUser needs to know of an image.
type imageUsers struct {
	Passwd etcFile `json:"passwd"`
	Group  etcFile `json:"group"`
	Bash   bool    `json:"bash"` // /bin/bash exists
}

// imageUsers reads the /etc/passwd and /etc/group of the image of the
// created container id, from the cache when this image was seen before.
func (e *Engine) imageUsers(ctx context.Context, id string) (imageUsers, error) {
	var img imageUsers
	res, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return img, err
	}
	cache := e.imageUsersCache(res.Container.Image)
	if cache != "" {
		if data, err := os.ReadFile(cache); err == nil && json.Unmarshal(data, &img) == nil {
			return img, nil
		}
	}
	var wg sync.WaitGroup
	var passwdErr, groupErr error
	wg.Go(func() { img.Passwd, passwdErr = e.readEtc(ctx, id, "/etc/passwd") })
	wg.Go(func() { img.Group, groupErr = e.readEtc(ctx, id, "/etc/group") })
	wg.Go(func() { img.Bash = e.pathExists(ctx, id, "/bin/bash") })
	wg.Wait()
	if err := errors.Join(passwdErr, groupErr); err != nil {
		return img, err
	}
	if cache != "" {
		if data, err := json.Marshal(img); err == nil {
			_ = writeFileAtomic(cache, data)
		}
	}
	return img, nil
}

// imageUsersCache is the cache file for an image id ("sha256:HEX"); empty
// when there is no cache dir or the id is not a plain digest.
func (e *Engine) imageUsersCache(imageID string) string {
	hexID := strings.TrimPrefix(imageID, "sha256:")
	if e.cacheDir == "" || len(hexID) < 12 || strings.Trim(hexID, "0123456789abcdef") != "" {
		return ""
	}
	return filepath.Join(e.cacheDir, "image-users", hexID+".json")
}

func writeFileAtomic(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// parseUser reads a numeric "uid[:gid]"; named users are the image's
// business.
func parseUser(userSpec, home string) (userEntry, bool) {
	uidStr, gidStr, hasGID := strings.Cut(userSpec, ":")
	uid, err := strconv.Atoi(uidStr)
	if err != nil || uid < 0 {
		return userEntry{}, false
	}
	u := userEntry{uid: uid, name: loginName(userSpec), home: home}
	if hasGID {
		gid, err := strconv.Atoi(gidStr)
		if err != nil || gid < 0 {
			return userEntry{}, false
		}
		u.gid, u.hasGID = gid, true
	}
	if u.home == "" {
		u.home = "/"
	}
	return u, true
}

// etcFile is one of /etc/passwd and /etc/group as the container has it.
type etcFile struct {
	Exists bool   `json:"exists"`
	Data   []byte `json:"data,omitempty"`
	Mode   int64  `json:"mode,omitempty"`
}

// hasUID reports whether an entry has id in its third field (the uid of
// passwd, the gid of group).
func (f etcFile) hasUID(id int) bool {
	want := strconv.Itoa(id)
	for _, line := range strings.Split(string(f.Data), "\n") {
		if fields := strings.Split(line, ":"); len(fields) > 2 && fields[2] == want {
			return true
		}
	}
	return false
}

// hasName reports whether an entry is called name.
func (f etcFile) hasName(name string) bool {
	for _, line := range strings.Split(string(f.Data), "\n") {
		if n, _, ok := strings.Cut(line, ":"); ok && n == name {
			return true
		}
	}
	return false
}

// nameOf returns the name of the entry with id in its third field.
func (f etcFile) nameOf(id int) string {
	want := strconv.Itoa(id)
	for _, line := range strings.Split(string(f.Data), "\n") {
		if fields := strings.Split(line, ":"); len(fields) > 2 && fields[2] == want {
			return fields[0]
		}
	}
	return ""
}

func (f etcFile) plus(line string) []byte {
	out := append([]byte(nil), f.Data...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, line...)
}

// freeName is the first of the candidates no entry of f is called.
func freeName(f etcFile, id int, candidates ...string) string {
	for _, c := range append(candidates, "loop", "loop"+strconv.Itoa(id)) {
		if c != "" && !f.hasName(c) {
			return c
		}
	}
	return "loop" + strconv.Itoa(id) + "x"
}

// planUser returns the files with u's entries added where missing. A
// missing file starts as root's entry alone.
func planUser(passwd, group etcFile, u userEntry, shell string) passwdEdit {
	edit := passwdEdit{passwdMode: passwd.Mode, groupMode: group.Mode}
	if !passwd.Exists {
		passwd = etcFile{Exists: true, Data: []byte("root:x:0:0:root:/root:/bin/sh\n"), Mode: 0o644}
		edit.passwd, edit.passwdMode = passwd.Data, passwd.Mode
	}
	if !group.Exists {
		group = etcFile{Exists: true, Data: []byte("root:x:0:\n"), Mode: 0o644}
		edit.group, edit.groupMode = group.Data, group.Mode
	}
	userName := passwd.nameOf(u.uid)
	if userName == "" {
		gid := u.gid
		if !u.hasGID {
			gid = u.uid
		}
		userName = freeName(passwd, u.uid, u.name)
		edit.passwd = passwd.plus(fmt.Sprintf("%s:x:%d:%d::%s:%s\n", userName, u.uid, gid, u.home, shell))
	}
	if u.hasGID && !group.hasUID(u.gid) {
		edit.group = group.plus(fmt.Sprintf("%s:x:%d:\n", freeName(group, u.gid, userName), u.gid))
	}
	return edit
}

// readEtc copies one file out of the container. A missing file is not an
// error; anything but a regular file (a symlink, say) is, so that nothing
// is written over it.
func (e *Engine) readEtc(ctx context.Context, id, path string) (etcFile, error) {
	res, err := e.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: path})
	if cerrdefs.IsNotFound(err) {
		return etcFile{}, nil
	}
	if err != nil {
		return etcFile{}, err
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	hdr, err := tr.Next()
	if err != nil {
		return etcFile{}, err
	}
	if hdr.Typeflag != tar.TypeReg {
		return etcFile{}, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(tr, 16<<20))
	if err != nil {
		return etcFile{}, err
	}
	return etcFile{Exists: true, Data: data, Mode: hdr.Mode & 0o7777}, nil
}

func (e *Engine) pathExists(ctx context.Context, id, path string) bool {
	_, err := e.cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: path})
	return err == nil
}

// writeEtc copies the edited files into the container's /etc, owned by
// root. When the image has neither file, /etc itself may be missing, so
// the archive goes to / with the directory in it.
func (e *Engine) writeEtc(ctx context.Context, id string, edit passwdEdit, withDir bool) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	prefix, dest := "", "/etc"
	now := time.Now()
	if withDir {
		prefix, dest = "etc/", "/"
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755, ModTime: now}); err != nil {
			return err
		}
	}
	for _, f := range edit.files() {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: prefix + f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: now}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := e.cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: dest, Content: &buf})
	return err
}

// validLogin is what useradd accepts, more or less: no colons or newlines
// can slip into /etc/passwd through it.
var validLogin = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]{0,31}$`) })

// loginName names the sandbox user for its passwd entry and for USER and
// LOGNAME: the invoking user's $USER when the sandbox runs as them, else
// the host's name for the uid, else "loop". A named (non-numeric) user is
// its own name.
func loginName(userSpec string) string {
	uid, _, _ := strings.Cut(userSpec, ":")
	if _, err := strconv.Atoi(uid); err != nil {
		return uid
	}
	if uid == strconv.Itoa(os.Getuid()) {
		if name := os.Getenv("USER"); validLogin().MatchString(name) {
			return name
		}
	}
	if u, err := user.LookupId(uid); err == nil && validLogin().MatchString(u.Username) {
		return u.Username
	}
	return "loop"
}
