package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/git"
)

// QuarantinePrefix is where fetched refs land before anything trusts them:
// refs/gitloop/NAME/… . Only Fetch moves a loop branch out of it.
const QuarantinePrefix = "refs/gitloop/"

// Quarantine is the ref namespace of one loop's fetched refs.
func Quarantine(name string) string { return QuarantinePrefix + name + "/" }

// URL is the remote URL of a loop's sandbox.
func URL(name string) string { return Scheme + "::" + name }

// hostConfig is the configuration of every git the host runs against a
// sandbox: objects are checked as they arrive; no tag, submodule, hook of
// the transfer or background job follows the remote side's lead; and
// gitloop:: is the one protocol allowed (a URL the remote side could
// inject elsewhere stays refused). It goes in the environment
// (GIT_CONFIG_COUNT), which ranks with -c above every file and keeps the
// logged command short.
var hostConfig = []string{
	"transfer.fsckObjects=true",
	"fetch.fsckObjects=true",
	"receive.fsckObjects=true",
	"protocol.allow=never",
	"protocol." + Scheme + ".allow=always",
	"fetch.recurseSubmodules=false",
	"submodule.recurse=false",
	"fetch.writeCommitGraph=false",
	"fetch.prune=false",
	"gc.auto=0",
	"maintenance.auto=false",
	"core.askPass=",
	"credential.helper=",
}

// configEnv is pairs "key=value" as GIT_CONFIG_COUNT/KEY/VALUE.
func configEnv(pairs []string) []string {
	env := []string{"GIT_CONFIG_COUNT=" + strconv.Itoa(len(pairs))}
	for i, kv := range pairs {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, k), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, v))
	}
	return env
}

// FetchOptions say what to bring back from one loop's sandbox.
type FetchOptions struct {
	// GitDir is the host repository (its common dir).
	GitDir string
	// Name is the loop: the URL is gitloop::Name, quarantine refs go under
	// refs/gitloop/Name/.
	Name string
	// Remote overrides the URL (tests: an ext:: URL for comparison).
	Remote string
	// Refspecs map the sandbox's refs into the quarantine; every
	// destination must be under Quarantine(Name). Default: the sandbox's
	// branch (SourceBranch) to Quarantine(Name)+"head".
	Refspecs []string
	// Extra refspecs fetched with the default one (same rule: into the
	// quarantine).
	Extra []string
	// SourceBranch is the branch in the sandbox's clone, e.g.
	// refs/heads/loop/x.
	SourceBranch string
	// Branch is the host branch fast-forwarded to what SourceBranch
	// fetched, e.g. refs/heads/loop/x; empty moves nothing.
	Branch string
	Limits Limits
	// Env is added to the fetch's environment.
	Env []string
	// Config is "key=value" settings added to hostConfig (tests: the
	// ext:: protocol for comparison).
	Config []string
	// Direct, when set, is the sandbox this process serves the
	// connection to itself: git fetch reads and writes two pipes (git's
	// own fd:: helper) that this process splices to upload-pack inside,
	// with the same exec, size cap and timeout as git-remote-gitloop,
	// but without starting a second git-loop (its start-up is most of
	// what a fetch costs beyond the raw floor). Remote must be empty.
	Direct *Target
	// Snapshot records the sandbox's uncommitted work before a Direct
	// fetch (snapshotScript), as EnvSnapshot does for the helper.
	Snapshot bool
	// TrackSnapshot reports the snapshot's quarantine ref in the result
	// (set with Snapshot, or when the snapshot was made otherwise, by the
	// exec wrapper, and Extra fetches the side refs).
	TrackSnapshot bool
	// Pre, with Direct and Snapshot, runs in the same exec before the
	// snapshot: when it fails, nothing is fetched and the fetch returns a
	// *PreError.
	Pre *Pre
}

// FetchResult is what a fetch did to the host branch.
type FetchResult struct {
	Old, New string // the branch before and the commit fetched ("" when absent)
	// Moved: the branch was fast-forwarded (or created) to New.
	Moved bool
	// Rewritten: New does not contain Old. Nothing was applied; the
	// sandbox's history stays in quarantine for the user to look at.
	Rewritten bool
	// Snapshot is the snapshot fetched with a Snapshot fetch (its
	// quarantine ref), "none" when the sandbox had none, "" otherwise.
	Snapshot string
}

var refRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^refs/[A-Za-z0-9._/-]+$`) })

// Fetch runs git fetch from the loop's sandbox into its quarantine refs,
// with fsck, then fast-forwards Branch if, and only if, that is a fast
// forward. A history rewrite is reported in the result, never applied.
func Fetch(ctx context.Context, r *git.Runner, opts FetchOptions) (FetchResult, error) {
	return fetch(ctx, r, r, opts)
}

// fetch is Fetch with the fetch run by r and the branch moved by move.
func fetch(ctx context.Context, r, move *git.Runner, opts FetchOptions) (FetchResult, error) {
	var res FetchResult
	q := Quarantine(opts.Name)
	head := q + "head"
	specs := opts.Refspecs
	if len(specs) == 0 {
		if !refRe().MatchString(opts.SourceBranch) {
			return res, fmt.Errorf("fetch %s: source branch %q is not a ref", opts.Name, opts.SourceBranch)
		}
		specs = append([]string{"+" + opts.SourceBranch + ":" + head}, opts.Extra...)
	}
	for _, s := range specs {
		_, dst, ok := strings.Cut(strings.TrimPrefix(s, "+"), ":")
		if !ok || !strings.HasPrefix(dst, q) || strings.Contains(dst, "..") {
			return res, fmt.Errorf("fetch %s: refspec %q lands outside %s", opts.Name, s, q)
		}
	}
	remote := opts.Remote
	if remote == "" {
		remote = URL(opts.Name)
	}
	lim := opts.Limits
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		// A little past the helper's own deadline: the helper stops first
		// and says why; this catches a git that hangs anyway.
		ctx, cancel = context.WithTimeout(ctx, lim.Timeout+lim.Timeout/10+time.Second)
		defer cancel()
	}
	config := append(append([]string{}, hostConfig...), opts.Config...)
	var files []*os.File
	served := func() error { return nil }
	if opts.Direct != nil && opts.Remote == "" && !r.DryRun {
		var err error
		if remote, files, served, err = serveDirect(ctx, opts, lim, 3+len(r.Inherit), "upload-pack"); err != nil {
			return res, fmt.Errorf("fetch from loop %s's sandbox: %w", opts.Name, err)
		}
		config = append(config, "protocol.fd.allow=always")
	}
	args := []string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--no-auto-gc", "--prune", remote}
	args = append(args, specs...)
	env := append(append(lim.Env(), opts.Env...), configEnv(config)...)
	if dir := helperDir(); dir != "" && opts.Direct == nil {
		env = append(env, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	err := r.Run(ctx, git.Cmd{Dir: opts.GitDir, Args: args, Label: "loop/" + opts.Name, Env: env, Group: true, Files: files})
	if serr := served(); serr != nil && (err == nil || errors.Is(serr, ErrTooLarge) || errors.Is(serr, errNoEnd) || errors.As(serr, new(*PreError))) {
		// What the sandbox's side says comes first: git only saw its
		// connection cut.
		err = serr
	}
	if pe := (*PreError)(nil); errors.As(err, &pe) {
		return res, pe
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errNoEnd) {
			return res, fmt.Errorf("fetch from loop %s's sandbox: no end after %s", opts.Name, lim.Timeout)
		}
		return res, fmt.Errorf("fetch from loop %s's sandbox: %w", opts.Name, err)
	}
	if opts.Branch == "" || len(opts.Refspecs) > 0 {
		return res, nil
	}
	var gq git.Querier
	snapRef := ""
	if opts.Snapshot || opts.TrackSnapshot {
		snapRef = q + "side/snapshot"
	}
	// The common case in one git: the fetched head listed among the refs
	// that contain the host's branch is a commit that fast-forwards it.
	// Anything else (a rewrite; a tag, tree or blob, which the sandbox
	// can point its branch at; no branch yet) is told apart below.
	ff := false
	if out, err := gq.Output(ctx, git.Cmd{Dir: opts.GitDir, Args: refsArgs(opts.Branch, head, opts.Branch, snapRef)}); err == nil {
		parseRefs(&res, string(out), head, opts.Branch, snapRef)
		ff = res.New != "" && res.Old != ""
		if res.Snapshot == noSnapshot {
			// Left out by the filter, or none: the host's own loose ref
			// tells (a packed one it would not, and is taken for none).
			if _, err := os.Lstat(filepath.Join(opts.GitDir, filepath.FromSlash(snapRef))); err == nil {
				res.Snapshot = ""
			}
		}
	}
	if !ff {
		res = FetchResult{}
		out, err := gq.Output(ctx, git.Cmd{Dir: opts.GitDir, Args: refsArgs("", head, opts.Branch, snapRef)})
		if err != nil {
			return res, err
		}
		parseRefs(&res, string(out), head, opts.Branch, snapRef)
	}
	switch {
	case res.New == "" || res.New == res.Old:
		return res, nil
	case res.Old != "" && !ff:
		ok, err := gq.Succeeds(ctx, git.Cmd{Dir: opts.GitDir, Args: []string{"merge-base", "--is-ancestor", res.Old, res.New}})
		if err != nil {
			return res, err
		}
		if !ok {
			res.Rewritten = true
			return res, nil
		}
	}
	// The old value guards the move: a branch moved meanwhile is left.
	if err := move.Run(ctx, git.Cmd{Dir: opts.GitDir, Label: "loop/" + opts.Name,
		Args: []string{"update-ref", "-m", "fetched from the loop's sandbox", opts.Branch, res.New, res.Old}}); err != nil {
		return res, err
	}
	res.Moved = true
	return res, nil
}

// refsArgs lists the fetched head, the host branch and the snapshot's
// quarantine ref ("" for none), each with its object name and type; with
// contains, only those that contain it.
func refsArgs(contains, head, branch, snapRef string) []string {
	args := []string{"for-each-ref", "--format=%(objectname) %(objecttype) %(refname)"}
	if contains != "" {
		args = append(args, "--contains", contains)
	}
	args = append(args, head, branch)
	if snapRef != "" {
		args = append(args, snapRef)
	}
	return args
}

// parseRefs reads refsArgs' output into res: the head only as a commit.
// The snapshot is "none" when it is not listed (a listing filtered by
// --contains also leaves out one made on a HEAD that lacks the branch:
// the caller checks).
func parseRefs(res *FetchResult, out, head, branch, snapRef string) {
	if snapRef != "" {
		res.Snapshot = noSnapshot
	}
	snap := ""
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) != 3:
		case f[2] == head && f[1] == "commit":
			res.New = f[0]
		case f[2] == branch:
			res.Old = f[0]
		case snapRef != "" && f[2] == snapRef:
			snap = f[0]
		}
	}
	if snap != "" {
		res.Snapshot = snap
	}
}

// errNoEnd is wrapped when a Direct fetch's service ran past the timeout.
var errNoEnd = errors.New("no end")

// serveDirect starts serving a Direct fetch: it returns the URL git
// fetches (fd::IN,OUT with IN and OUT the fd numbers git will see the two
// files as, from base on), those files, and served, which waits for the
// service to end and says what went wrong on the sandbox's side (its
// stderr, control characters made visible, in the error).
func serveDirect(ctx context.Context, opts FetchOptions, lim Limits, base int, svc string) (url string, files []*os.File, served func() error, err error) {
	return serveDirectCmd(ctx, opts, lim, base, svc, directExtra{})
}

// directExtra changes what serveDirectCmd runs inside.
type directExtra struct {
	cmd    []string      // the command run for the service (nil: git's own, as splice chooses)
	prefix io.Reader     // read to the sandbox's stdin before git's output
	stderr *bytes.Buffer // where the sandbox's stderr goes (nil: a buffer of its own)
}

// serveDirectCmd is serveDirect with x.
func serveDirectCmd(ctx context.Context, opts FetchOptions, lim Limits, base int, svc string, x directExtra) (url string, files []*os.File, served func() error, err error) {
	cmd := x.cmd
	fromR, fromW, err := os.Pipe() // the sandbox's output, git's input
	if err != nil {
		return "", nil, nil, err
	}
	toR, toW, err := os.Pipe() // git's output, the sandbox's input
	if err != nil {
		fromR.Close()
		fromW.Close()
		return "", nil, nil, err
	}
	sctx, cancel := ctx, context.CancelFunc(func() {})
	if lim.Timeout > 0 {
		sctx, cancel = context.WithTimeout(ctx, lim.Timeout)
	}
	stderr := x.stderr
	if stderr == nil {
		stderr = new(bytes.Buffer)
	}
	var in io.Reader = toR
	if x.prefix != nil {
		in = io.MultiReader(x.prefix, toR)
	}
	done := make(chan error, 1)
	go func() {
		defer cancel()
		// Protocol v0 (no GIT_PROTOCOL): upload-pack ends once it has sent
		// the pack. A v2 one serves commands until its stdin ends, which
		// here is never before git fetch does: every git it starts
		// inherits git's end of the pipe.
		var env map[string]string
		if cmd == nil && opts.Snapshot && svc == "upload-pack" {
			cmd = uploadCmd(opts.Direct.Dir, opts.Pre)
		}
		if opts.Pre != nil {
			env = opts.Pre.Env
		}
		err := splice(sctx, in, fromW, stderr, *opts.Direct, lim, svc, env, cmd, nil)
		fromW.Close() // git sees the end of the sandbox's output
		toR.Close()
		if se := (*serviceExit)(nil); opts.Pre != nil && errors.As(err, &se) {
			done <- preError(se.code, stderr.String())
			return
		}
		if err != nil && sctx.Err() != nil && errors.Is(context.Cause(sctx), context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", errNoEnd, err)
		}
		if msg := strings.TrimSpace(stderr.String()); err != nil && msg != "" {
			err = fmt.Errorf("%w\n%s", err, msg)
		}
		done <- err
	}()
	url = fmt.Sprintf("fd::%d,%d/%s", base, base+1, opts.Name)
	return url, []*os.File{fromR, toW}, func() error { return <-done }, nil
}

// helperDir is a dir holding git-remote-gitloop for git to find when PATH
// has none (git-loop installed without its link, "go install"): a link to
// this very binary in the user's cache. "" when PATH has one, or when this
// process is not git-loop.
func helperDir() string {
	if _, err := exec.LookPath(HelperName); err == nil {
		return ""
	}
	exe, err := os.Executable()
	if err != nil || filepath.Base(exe) != "git-loop" {
		return ""
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	dir := filepath.Join(cache, "git-loop", "helper")
	link := filepath.Join(dir, HelperName)
	if target, err := os.Readlink(link); err == nil && target == exe {
		return dir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if os.Symlink(exe, tmp) != nil || os.Rename(tmp, link) != nil {
		return ""
	}
	return dir
}
