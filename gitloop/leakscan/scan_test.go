package leakscan

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/vault"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// code is the code layer, as promote names it.
const code workspace.Layer = "code"

// scanWith is a Scan with these values already loaded (the e2e suite
// reads them from a real git-crypt vault).
func scanWith(s *workspace.Workspace, sec ...vault.Secret) *Scan {
	l := New(s)
	l.sec = sec
	for _, x := range sec {
		l.max = max(l.max, len(x.Value))
	}
	l.once.Do(func() {})
	return l
}

// The scan finds a value wherever the push carries it (a file, across
// the reader's chunk boundary in a big one, a file name, a commit
// message) and only in what the remote lacks.
func TestLeakScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := gittest.Repo(t)
	s := &workspace.Workspace{}
	const old, val, name, msg = "already-on-the-remote-1", "s3cr3t-in-a-file", "s3cr3t-as-a-name", "s3cr3t-in-a-message"
	gittest.WriteFile(t, repo, "old.txt", old+"\n")
	gittest.Commit(t, repo, "old")
	gittest.Git(t, repo, "push", "-q", "origin", "main")
	big := strings.Repeat("x", 64<<10-5) + val + strings.Repeat("y", 100<<10)
	gittest.WriteFile(t, repo, "big/blob.bin", big)
	gittest.WriteFile(t, repo, "dir/"+name+"/f", "x\n")
	gittest.Commit(t, repo, "work "+msg)

	head := gittest.Git(t, repo, "rev-parse", "HEAD")
	l := scanWith(s,
		vault.Secret{Name: "v/OLD", Value: []byte(old)},
		vault.Secret{Name: "v/VAL", Value: []byte(val)},
		vault.Secret{Name: "v/NAME", Value: []byte(name)},
		vault.Secret{Name: "v/MSG", Value: []byte(msg)},
	)
	err := l.Check(ctx, "x", code, repo, "refs/remotes/origin/main", strings.TrimSpace(head))
	var le *workspace.SecretLeakError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, x := range le.Leaks {
		got = append(got, x.Where+": "+x.Secret)
	}
	want := []string{"a file name in dir/: v/NAME", "big/blob.bin: v/VAL"}
	joined := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("no %q in\n%s", w, joined)
		}
	}
	if !strings.Contains(joined, "(its message or author): v/MSG") || strings.Contains(joined, "v/OLD") {
		t.Errorf("leaks:\n%s", joined)
	}
	for _, v := range []string{old, val, name, msg} {
		if strings.Contains(err.Error(), v) {
			t.Errorf("the error shows a value: %s", err)
		}
	}
	// Nothing new: nothing to refuse.
	if err := l.Check(ctx, "x", code, repo, "refs/remotes/origin/main", "refs/remotes/origin/main"); err != nil {
		t.Errorf("pushing what the remote has: %v", err)
	}
	// No values: no git run at all (an unknown dir would fail).
	if err := scanWith(s).Check(ctx, "x", code, "/nonexistent", "", "HEAD"); err != nil {
		t.Errorf("no values: %v", err)
	}
}
