package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
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

// addUser makes spec's uid and gid known in the created (not yet started)
// container id. It is best effort: a failure leaves the image's files as
// they are, since the sandbox works without the entry, only less well.
func (e *Engine) addUser(ctx context.Context, id, userSpec, home string) {
	u, ok := parseUser(userSpec, home)
	if !ok {
		return
	}
	var (
		wg                  sync.WaitGroup
		passwd, group       etcFile
		passwdErr, groupErr error
	)
	wg.Go(func() { passwd, passwdErr = e.readEtc(ctx, id, "/etc/passwd") })
	wg.Go(func() { group, groupErr = e.readEtc(ctx, id, "/etc/group") })
	wg.Wait()
	if passwdErr != nil || groupErr != nil {
		return
	}
	if passwd.exists && passwd.hasUID(u.uid) && (!u.hasGID || (group.exists && group.hasUID(u.gid))) {
		return // the common case for root, or an image made for this uid
	}
	shell := "/bin/sh"
	if e.pathExists(ctx, id, "/bin/bash") {
		shell = "/bin/bash"
	}
	edit := planUser(passwd, group, u, shell)
	if edit.passwd == nil && edit.group == nil {
		return
	}
	_ = e.writeEtc(ctx, id, edit, !passwd.exists && !group.exists)
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
	exists bool
	data   []byte
	mode   int64
}

// hasUID reports whether an entry has id in its third field (the uid of
// passwd, the gid of group).
func (f etcFile) hasUID(id int) bool {
	want := strconv.Itoa(id)
	for _, line := range strings.Split(string(f.data), "\n") {
		if fields := strings.Split(line, ":"); len(fields) > 2 && fields[2] == want {
			return true
		}
	}
	return false
}

// hasName reports whether an entry is called name.
func (f etcFile) hasName(name string) bool {
	for _, line := range strings.Split(string(f.data), "\n") {
		if n, _, ok := strings.Cut(line, ":"); ok && n == name {
			return true
		}
	}
	return false
}

// nameOf returns the name of the entry with id in its third field.
func (f etcFile) nameOf(id int) string {
	want := strconv.Itoa(id)
	for _, line := range strings.Split(string(f.data), "\n") {
		if fields := strings.Split(line, ":"); len(fields) > 2 && fields[2] == want {
			return fields[0]
		}
	}
	return ""
}

func (f etcFile) plus(line string) []byte {
	out := append([]byte(nil), f.data...)
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
	edit := passwdEdit{passwdMode: passwd.mode, groupMode: group.mode}
	if !passwd.exists {
		passwd = etcFile{exists: true, data: []byte("root:x:0:0:root:/root:/bin/sh\n"), mode: 0o644}
		edit.passwd, edit.passwdMode = passwd.data, passwd.mode
	}
	if !group.exists {
		group = etcFile{exists: true, data: []byte("root:x:0:\n"), mode: 0o644}
		edit.group, edit.groupMode = group.data, group.mode
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
	return etcFile{exists: true, data: data, mode: hdr.Mode & 0o7777}, nil
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
	for _, f := range []struct {
		name string
		data []byte
		mode int64
	}{{"passwd", edit.passwd, edit.passwdMode}, {"group", edit.group, edit.groupMode}} {
		if f.data == nil {
			continue
		}
		if f.mode == 0 {
			f.mode = 0o644
		}
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
var validLogin = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]{0,31}$`)

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
		if name := os.Getenv("USER"); validLogin.MatchString(name) {
			return name
		}
	}
	if u, err := user.LookupId(uid); err == nil && validLogin.MatchString(u.Username) {
		return u.Username
	}
	return "loop"
}
