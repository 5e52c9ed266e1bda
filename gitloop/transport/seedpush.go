package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// seedRef is where SeedByPush's push lands in the sandbox's clone.
const seedRef = IncomingPrefix + "seed"

// SeedByPush makes a loop's clone where the engine cannot see the host's
// files (a Kubernetes claim, a remote engine's volume), by git's protocol
// only: an empty repository made inside at t.Dir, a push of sha to a side
// ref over gitloop::NAME (received by the sandbox's own git), then branch
// checked out inside at it. Nothing of the host's is mounted or borrowed:
// the clone holds its own objects. extraEnv reaches the push's git and the
// helper it runs (tests name their engine there); the target goes as
// EnvTarget. A clone already there is checked out again at sha.
// new seeds a remote loop with SeedRemote, which does the same with the
// loop's files streamed in by the first exec.
func SeedByPush(ctx context.Context, r *git.Runner, gitDir, name string, t Target, branch, sha string, extraEnv []string) error {
	if !workspace.IsSHA(sha) {
		return fmt.Errorf("seed %s: %q is not a commit", name, sha)
	}
	if !strings.HasPrefix(branch, "refs/heads/") {
		return fmt.Errorf("seed %s: %q is not a branch", name, branch)
	}
	short := strings.TrimPrefix(branch, "refs/heads/")
	if err := inside(ctx, t, `test -e .git || git init -q . && git symbolic-ref HEAD "refs/heads/$1"`, short); err != nil {
		return fmt.Errorf("seed %s: %w", name, err)
	}
	return pushSeed(ctx, r, gitDir, name, t, short, sha, extraEnv)
}

// pushSeed is SeedByPush once the empty repository is there: the push of
// sha to a side ref, then the branch short checked out inside at it.
func pushSeed(ctx context.Context, r *git.Runner, gitDir, name string, t Target, short, sha string, extraEnv []string) error {
	if err := pushTo(ctx, r, gitDir, name, t, short, sha, seedRef, extraEnv); err != nil {
		return fmt.Errorf("seed %s: push: %w", name, err)
	}
	if err := inside(ctx, t, `git checkout -q -f -B "$1" "$2" && git update-ref -d "$2"`, short, seedRef); err != nil {
		return fmt.Errorf("seed %s: %w", name, err)
	}
	return nil
}

// pushSeedWith is pushSeed with no helper process and x.cmd inside: the
// push of sha to seedRef served from this process over git's fd:: (as
// PushIn's is), received inside by x.cmd, which also checks the branch
// out (SeedRemote's one exec).
func pushSeedWith(ctx context.Context, s *workspace.Workspace, name string, t Target, short, sha string, x directExtra) error {
	if s.Git.DryRun {
		return nil // a dry run pushes nothing (new plans before any sandbox)
	}
	kv, err := TargetEnv(name, t)
	if err != nil {
		return err
	}
	lim := LimitsFromEnv()
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	url, files, served, err := serveDirectCmd(ctx, FetchOptions{Name: name, Direct: &t}, lim, 3+len(s.Git.Inherit), "receive-pack", x)
	if err != nil {
		return fmt.Errorf("seed %s: push: %w", name, err)
	}
	env := append(append(lim.Env(), kv), configEnv(append(append([]string{}, hostConfig...), "protocol.fd.allow=always"))...)
	args := []string{"push", "-q", "--no-verify", "--force", "--no-recurse-submodules", url, sha + ":" + seedRef}
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lim.Timeout+lim.Timeout/10+1e9)
		defer cancel()
	}
	c := git.Cmd{Dir: s.Repo.CommonDir, Label: short, Args: args, Env: env, Group: true, Files: files}
	if s.Git.Log != nil {
		// Logged as the user would type it: the fd:: URL is this
		// process's plumbing.
		shown := c
		shown.Args = append(append(append([]string{}, args[:5]...), URL(name)), args[6:]...)
		fmt.Fprintln(s.Git.Log, shown.String())
	}
	quiet := &git.Runner{Inherit: s.Git.Inherit}
	err = quiet.Run(ctx, c)
	if serr := served(); serr != nil && (err == nil || errors.Is(serr, ErrTooLarge) || errors.Is(serr, errNoEnd)) {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("seed %s: push: %w", name, err)
	}
	return nil
}

// inside runs script in t.Dir in the sandbox, offline.
func inside(ctx context.Context, t Target, script string, args ...string) error {
	var errb bytes.Buffer
	code, err := t.Engine.Exec(ctx, t.Spec, sandbox.Exec{
		Cmd: append([]string{"sh", "-c", script, "sh"}, args...), Dir: t.Dir, Offline: true, Stderr: &visible{w: &errb, left: 16 << 10},
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("in the sandbox: exit %d: %s", code, strings.TrimSpace(errb.String()))
	}
	return nil
}

// pushTo pushes sha from the repository at gitDir to ref in the clone at
// t.Dir over gitloop::NAME: receive-pack runs inside the sandbox; on the
// host no hook runs and no ref moves.
func pushTo(ctx context.Context, r *git.Runner, gitDir, name string, t Target, label, sha, ref string, extraEnv []string) error {
	kv, err := TargetEnv(name, t)
	if err != nil {
		return err
	}
	env := append(append(LimitsFromEnv().Env(), kv), configEnv(hostConfig)...)
	if dir := helperDir(); dir != "" {
		env = append(env, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	env = append(env, extraEnv...)
	args := []string{"push", "-q", "--no-verify", "--force", "--no-recurse-submodules", URL(name), sha + ":" + ref}
	return r.Run(ctx, git.Cmd{Dir: gitDir, Label: label, Args: args, Env: env, Group: true})
}

// PushCommit gives the clone at t.Dir (a remote loop's context clone,
// which borrows no object store) the commit sha of the repository at
// gitDir, at IncomingPrefix+"context": what git run inside then merges.
func PushCommit(ctx context.Context, r *git.Runner, gitDir, name string, t Target, label, sha string) error {
	if !workspace.IsSHA(sha) {
		return fmt.Errorf("push into loop %s's sandbox: %q is not a commit", name, sha)
	}
	if err := pushTo(ctx, r, gitDir, name, t, label, sha, IncomingPrefix+"context", nil); err != nil {
		return fmt.Errorf("push into loop %s's sandbox: %w", name, err)
	}
	return nil
}
