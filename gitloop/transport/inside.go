package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// One writer: only the sandbox moves a sealed loop's branch. What the host
// wants in it (a new base, a commit made in the host checkout) goes in by
// push into IncomingPrefix, a namespace no HEAD is ever on, and git run
// inside the sandbox, as the sandbox's user, merges it; the next fetch
// brings the result back with its checks.

// IncomingPrefix is where the host's pushes land in a sandbox's clone.
const IncomingPrefix = "refs/gitloop/incoming/"

// PushIn pushes host commits into a sealed loop's clone: each of shas to
// IncomingPrefix+N, N its index. receive-pack runs inside the sandbox
// (its hooks, if the agent planted any, run there); on the host no hook
// runs (--no-verify) and no ref moves.
func PushIn(ctx context.Context, s *workspace.Workspace, m *state.Meta, shas []string) error {
	if len(shas) == 0 {
		return nil
	}
	t, err := LoopTarget(ctx, s, m.Name)
	if err != nil {
		return err
	}
	kv, err := TargetEnv(m.Name, t)
	if err != nil {
		return err
	}
	lim := LimitsFromEnv()
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	// Served from this process, as a fetch is (FetchOptions.Direct): git
	// pushes over git's own fd:: helper, no git-remote-gitloop to start.
	url, files, served := URL(m.Name), []*os.File(nil), func() error { return nil }
	config := hostConfig
	if !s.Git.DryRun {
		if url, files, served, err = serveDirect(ctx, FetchOptions{Name: m.Name, Direct: &t}, lim, 3+len(s.Git.Inherit), "receive-pack"); err != nil {
			return fmt.Errorf("push into loop %s's sandbox: %w", m.Name, err)
		}
		config = append(append([]string{}, hostConfig...), "protocol.fd.allow=always")
	}
	env := append(append(lim.Env(), kv), configEnv(config)...)
	if dir := helperDir(); dir != "" && s.Git.DryRun {
		env = append(env, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	args := []string{"push", "-q", "--no-verify", "--force", "--no-recurse-submodules", url}
	for i, sha := range shas {
		if !workspace.IsSHA(sha) {
			return fmt.Errorf("push into loop %s's sandbox: %q is not a commit", m.Name, sha)
		}
		args = append(args, fmt.Sprintf("%s:%s%d", sha, IncomingPrefix, i))
	}
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lim.Timeout+lim.Timeout/10+1e9)
		defer cancel()
	}
	c := git.Cmd{Dir: s.Repo.CommonDir, Label: m.ShortBranch(), Args: args, Env: env, Group: true, Files: files}
	if s.Git.Log != nil {
		// Logged as the user would type it: the fd:: URL is this
		// process's plumbing.
		shown := c
		shown.Args = append(append([]string{}, args[:5]...), URL(m.Name))
		shown.Args = append(shown.Args, args[6:]...)
		fmt.Fprintln(s.Git.Log, shown.String())
	}
	quiet := &git.Runner{Inherit: s.Git.Inherit, DryRun: s.Git.DryRun}
	err = quiet.Run(ctx, c)
	if serr := served(); serr != nil && (err == nil || errors.Is(serr, ErrTooLarge) || errors.Is(serr, errNoEnd)) {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("push into loop %s's sandbox: %w", m.Name, err)
	}
	return nil
}

// InsideResult is what a script run in a sealed loop's sandbox did.
type InsideResult struct {
	Code   int
	Stdout string // bounded: the first 1 MiB
	Stderr string // bounded, control characters made visible
}

// Inside runs script (sh -c, with args as $1…) in a sealed loop's clone,
// inside its sandbox, offline, with env added. The host reads what it
// prints as data: bounded, never a path it follows.
func Inside(ctx context.Context, s *workspace.Workspace, m *state.Meta, script string, env map[string]string, args ...string) (InsideResult, error) {
	var res InsideResult
	t, err := LoopTarget(ctx, s, m.Name)
	if err != nil {
		return res, err
	}
	var out, errOut bytes.Buffer
	stderr := &visible{w: &errOut, left: 16 << 10}
	lim := LimitsFromEnv()
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lim.Timeout)
		defer cancel()
	}
	code, err := t.Engine.Exec(ctx, t.Spec, sandbox.Exec{
		Cmd:     append([]string{"sh", "-c", script, "sh"}, args...),
		Env:     env,
		Dir:     t.Dir,
		Offline: true,
		Stdout:  &limited{w: &out, left: 1 << 20},
		Stderr:  stderr,
	})
	res.Code, res.Stdout, res.Stderr = code, out.String(), strings.TrimSpace(errOut.String())
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return res, fmt.Errorf("loop %s: git in its sandbox: no end after %s", m.Name, lim.Timeout)
		}
		return res, fmt.Errorf("loop %s: git in its sandbox: %w", m.Name, err)
	}
	return res, nil
}

// limited keeps the first left bytes and drops the rest.
type limited struct {
	w    io.Writer
	left int
}

func (l *limited) Write(p []byte) (int, error) {
	n := len(p)
	if l.left <= 0 {
		return n, nil
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	l.left -= len(p)
	_, _ = l.w.Write(p)
	return n, nil
}

// Accept moves a sealed loop's branch on the host from old to sha, a
// commit the host chose itself (a discard, an abort), once the sandbox
// was told to move there too: the one place the host writes the branch
// other than by a fetch's fast-forward.
func Accept(ctx context.Context, s *workspace.Workspace, m *state.Meta, sha, old, why string) error {
	if err := s.Git.Run(ctx, git.Cmd{Dir: s.Repo.CommonDir, Label: m.ShortBranch(), Args: []string{"update-ref", "-m", why, m.Branch, sha, old}}); err != nil {
		return err
	}
	writeSeen(s, m.Name, sha, "")
	return nil
}
