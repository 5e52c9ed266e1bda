package vault

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// commit stages paths, checks the guard, commits them and pushes.
func (r *Repo) commit(ctx context.Context, msg string, paths ...string) error {
	var present []string
	for _, p := range paths {
		if _, err := os.Lstat(filepath.Join(r.Dir, p)); err == nil {
			present = append(present, p)
		}
	}
	if len(present) > 0 {
		if _, err := r.run(ctx, true, nil, "git", append([]string{"add", "-A", "--"}, present...)...); err != nil {
			return err
		}
	}
	if err := CheckStaged(ctx, r.Dir); err != nil {
		_, _ = r.run(ctx, true, nil, "git", append([]string{"reset", "-q", "--"}, paths...)...)
		return err
	}
	args := append([]string{"commit", "-q", "-m", msg, "--"}, paths...)
	if _, err := r.run(ctx, true, nil, "git", args...); err != nil {
		return err
	}
	return r.push(ctx)
}

// HasRemote reports whether the personal repo has the remote it pushes to.
func (r *Repo) HasRemote(ctx context.Context) bool {
	_, err := r.run(ctx, false, nil, "git", "remote", "get-url", r.remote())
	return err == nil
}

func (r *Repo) branch(ctx context.Context) (string, error) {
	out, err := r.run(ctx, false, nil, "git", "symbolic-ref", "--short", "HEAD")
	if err != nil {
		return "", fmt.Errorf("personal repo %s is not on a branch: %w", r.Dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// push pushes the current branch, merging the remote's on a
// non-fast-forward and retrying, so concurrent changes converge.
func (r *Repo) push(ctx context.Context) error {
	if !r.HasRemote(ctx) {
		return nil
	}
	br, err := r.branch(ctx)
	if err != nil {
		return err
	}
	var perr error
	for attempt := 0; attempt < 5; attempt++ {
		if _, perr = r.run(ctx, true, nil, "git", "push", "-q", r.remote(), "HEAD:refs/heads/"+br); perr == nil {
			return nil
		}
		if _, err := r.run(ctx, true, nil, "git", "fetch", "-q", r.remote()); err != nil {
			return fmt.Errorf("push to %s: %w (and fetch failed: %v)", r.remote(), perr, err)
		}
		if _, err := r.run(ctx, true, nil, "git", "merge", "-q", "--no-edit", r.remote()+"/"+br); err != nil {
			_, _ = r.run(ctx, true, nil, "git", "merge", "--abort")
			return fmt.Errorf("push to %s: the remote changed and merging it failed: %w; the change is committed locally in %s", r.remote(), err, r.Dir)
		}
	}
	return fmt.Errorf("push to %s: %w (gave up after 5 attempts; the change is committed locally in %s)", r.remote(), perr, r.Dir)
}

// CheckStaged is the pre-commit guard of the personal repo: it refuses
// any staged path under vaults/ whose blob is not git-crypt ciphertext
// (the filter is not active, or the rule does not cover it). env reaches
// git: a hook passes the GIT_INDEX_FILE of the commit it guards (a commit
// of named paths stages them in a temporary index).
func CheckStaged(ctx context.Context, dir string, env ...string) error {
	r := &Repo{Dir: dir, GitEnv: env}
	out, err := r.run(ctx, false, nil, "git", "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMRT", "--", Dir)
	if err != nil {
		return err
	}
	var bad []string
	for _, p := range splitZ(out) {
		blob, err := r.run(ctx, false, nil, "git", "cat-file", "blob", ":"+p)
		if err != nil {
			return err
		}
		if len(blob) > 0 && !bytes.HasPrefix(blob, []byte(Header)) {
			bad = append(bad, p) // (git-crypt leaves empty files empty)
		}
	}
	if len(bad) > 0 {
		return &PlaintextError{Paths: bad}
	}
	return nil
}

// PlaintextError names vault paths that would be committed (or are
// stored) unencrypted.
type PlaintextError struct{ Paths []string }

func (e *PlaintextError) Error() string {
	return fmt.Sprintf("refusing to commit unencrypted vault files: %s (is git-crypt set up here? run \"git loop vault status\"; unstage with \"git reset -- %s\")", strings.Join(e.Paths, ", "), Dir)
}

// Status is what "vault status" reports (never a value).
type Status struct {
	Repo        string    `json:"repo"`
	Initialized bool      `json:"initialized"`
	Unlocked    bool      `json:"unlocked"`
	Vaults      []Summary `json:"vaults"`
	// Remote is checked when the repo has one: every vault blob on the
	// remote's branch must carry the git-crypt header.
	Remote          string   `json:"remote,omitempty"`
	RemoteChecked   bool     `json:"remoteChecked"`
	RemoteEncrypted bool     `json:"remoteEncrypted"`
	RemotePlaintext []string `json:"remotePlaintext,omitempty"`
	RemoteError     string   `json:"remoteError,omitempty"`
}

// Summary counts one vault's entries.
type Summary struct {
	Name   string `json:"name"`
	Env    int    `json:"env"`
	Mounts int    `json:"mounts"`
}

// Status reports the vault's state; with fetch, it fetches the remote
// first, then checks its vault blobs.
func (r *Repo) Status(ctx context.Context, fetch bool) (Status, error) {
	st := Status{Repo: r.Dir, Initialized: r.Initialized(), Unlocked: r.Unlocked(), Vaults: []Summary{}}
	names, err := r.Vaults(ctx)
	if err != nil {
		return st, err
	}
	for _, n := range names {
		e, err := r.List(ctx, n)
		if err != nil {
			continue
		}
		st.Vaults = append(st.Vaults, Summary{Name: n, Env: len(e.Env), Mounts: len(e.Mounts)})
	}
	if !r.HasRemote(ctx) {
		return st, nil
	}
	st.Remote = r.remote()
	br, err := r.branch(ctx)
	if err != nil {
		st.RemoteError = err.Error()
		return st, nil
	}
	if fetch {
		if _, err := r.run(ctx, false, nil, "git", "fetch", "-q", r.remote()); err != nil {
			st.RemoteError = err.Error()
			return st, nil
		}
	}
	bad, err := r.plaintextAt(ctx, r.remote()+"/"+br)
	if err != nil {
		st.RemoteError = err.Error()
		return st, nil
	}
	st.RemoteChecked = true
	st.RemotePlaintext = bad
	st.RemoteEncrypted = len(bad) == 0
	return st, nil
}

// plaintextAt lists the vault paths at rev whose blob lacks the header.
func (r *Repo) plaintextAt(ctx context.Context, rev string) ([]string, error) {
	out, err := r.run(ctx, false, nil, "git", "ls-tree", "-r", "-z", rev, "--", Dir)
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, line := range splitZ(out) {
		meta, p, ok := strings.Cut(line, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) < 3 || f[1] != "blob" {
			continue
		}
		blob, err := r.run(ctx, false, nil, "git", "cat-file", "blob", f[2])
		if err != nil {
			return nil, err
		}
		if len(blob) > 0 && !bytes.HasPrefix(blob, []byte(Header)) {
			bad = append(bad, path.Clean(p))
		}
	}
	return bad, nil
}
