package docker

import (
	"os"
	"strconv"
	"testing"
)

func TestPlanUser(t *testing.T) {
	debian := etcFile{Exists: true, Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/bash\ndev:x:1000:1000::/home/dev:/bin/bash")}
	debianGroup := etcFile{Exists: true, Mode: 0o644, Data: []byte("root:x:0:\ndev:x:1000:\n")}
	for _, tc := range []struct {
		name          string
		passwd, group etcFile
		u             userEntry
		wantPasswd    string // "" means unchanged
		wantGroup     string
	}{{
		name: "known uid and gid", passwd: debian, group: debianGroup,
		u: userEntry{uid: 1000, gid: 1000, hasGID: true, name: "alice", home: "/h"},
	}, {
		name: "new uid and gid", passwd: debian, group: debianGroup,
		u:          userEntry{uid: 1001, gid: 1001, hasGID: true, name: "alice", home: "/h"},
		wantPasswd: string(debian.Data) + "\nalice:x:1001:1001::/h:/bin/bash\n",
		wantGroup:  string(debianGroup.Data) + "alice:x:1001:\n",
	}, {
		name: "name taken by another uid", passwd: debian, group: debianGroup,
		u:          userEntry{uid: 1001, gid: 1000, hasGID: true, name: "dev", home: "/h"},
		wantPasswd: string(debian.Data) + "\nloop:x:1001:1000::/h:/bin/bash\n",
	}, {
		name: "known uid, new gid named after it", passwd: debian, group: etcFile{Exists: true, Data: []byte("root:x:0:\n")},
		u:         userEntry{uid: 1000, gid: 4243, hasGID: true, name: "alice", home: "/h"},
		wantGroup: "root:x:0:\ndev:x:4243:\n",
	}, {
		name: "group name taken", passwd: debian, group: debianGroup,
		u:         userEntry{uid: 1000, gid: 4243, hasGID: true, name: "alice", home: "/h"},
		wantGroup: string(debianGroup.Data) + "loop:x:4243:\n",
	}, {
		name:       "no files at all (FROM scratch)",
		u:          userEntry{uid: 4242, gid: 4242, hasGID: true, name: "loop", home: "/h"},
		wantPasswd: "root:x:0:0:root:/root:/bin/sh\nloop:x:4242:4242::/h:/bin/bash\n",
		wantGroup:  "root:x:0:\nloop:x:4242:\n",
	}, {
		name: "no gid given", passwd: debian, group: debianGroup,
		u:          userEntry{uid: 1001, name: "alice", home: "/h"},
		wantPasswd: string(debian.Data) + "\nalice:x:1001:1001::/h:/bin/bash\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			edit := planUser(tc.passwd, tc.group, tc.u, "/bin/bash")
			if string(edit.passwd) != tc.wantPasswd {
				t.Errorf("passwd:\n%s\nwant:\n%s", edit.passwd, tc.wantPasswd)
			}
			if string(edit.group) != tc.wantGroup {
				t.Errorf("group:\n%s\nwant:\n%s", edit.group, tc.wantGroup)
			}
		})
	}
}

func TestLoginName(t *testing.T) {
	me := strconv.Itoa(os.Getuid())
	t.Setenv("USER", "alice")
	if got := loginName(me + ":0"); got != "alice" {
		t.Errorf("invoking uid with USER=alice: %q", got)
	}
	t.Setenv("USER", "bad:name")
	if got := loginName(me); got == "bad:name" {
		t.Errorf("a name with a colon made it into passwd: %q", got)
	}
	if got := loginName("98765:98765"); got != "loop" {
		t.Errorf("a uid nobody knows: %q, want loop", got)
	}
	if got := loginName("dev"); got != "dev" {
		t.Errorf("a named user: %q", got)
	}
	if _, ok := parseUser("dev", "/h"); ok {
		t.Error("parseUser accepted a named user")
	}
}
