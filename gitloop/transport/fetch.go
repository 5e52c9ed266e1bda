package transport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
}

// FetchResult is what a fetch did to the host branch.
type FetchResult struct {
	Old, New string // the branch before and the commit fetched ("" when absent)
	// Moved: the branch was fast-forwarded (or created) to New.
	Moved bool
	// Rewritten: New does not contain Old. Nothing was applied; the
	// sandbox's history stays in quarantine for the user to look at.
	Rewritten bool
}

var refRe = regexp.MustCompile(`^refs/[A-Za-z0-9._/-]+$`)

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
		if !refRe.MatchString(opts.SourceBranch) {
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
	args := []string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--no-auto-gc", "--prune", remote}
	args = append(args, specs...)
	env := append(append(lim.Env(), opts.Env...), configEnv(append(append([]string{}, hostConfig...), opts.Config...))...)
	if dir := helperDir(); dir != "" {
		env = append(env, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	if err := r.Run(ctx, git.Cmd{Dir: opts.GitDir, Args: args, Label: "loop/" + opts.Name, Env: env, Group: true}); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return res, fmt.Errorf("fetch from loop %s's sandbox: no end after %s", opts.Name, lim.Timeout)
		}
		return res, fmt.Errorf("fetch from loop %s's sandbox: %w", opts.Name, err)
	}
	if opts.Branch == "" || len(opts.Refspecs) > 0 {
		return res, nil
	}
	var gq git.Querier
	res.New, _ = gq.Line(ctx, git.Cmd{Dir: opts.GitDir, Args: []string{"rev-parse", "--verify", "--quiet", head + "^{commit}"}})
	res.Old, _ = gq.Line(ctx, git.Cmd{Dir: opts.GitDir, Args: []string{"rev-parse", "--verify", "--quiet", opts.Branch}})
	switch {
	case res.New == "" || res.New == res.Old:
		return res, nil
	case res.Old != "":
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
