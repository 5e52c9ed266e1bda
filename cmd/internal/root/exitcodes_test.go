package root

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/gitloop/land"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// TestExitCodes pins the one map from errors to exit codes (git-loop(1)
// documents it) and what each prints on stderr.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	leak := &workspace.SecretLeakError{Loop: "x", Leaks: []workspace.Leak{{Layer: "notes", Where: "leak.md", Secret: "work/API_TOKEN"}}}
	conflict := &workspace.ConflictError{Loop: "x", Op: "promote", Layer: land.Code, Dir: "/w", Files: []string{"f"}}
	for _, c := range []struct {
		name        string
		err         error
		interrupted bool
		code        int
		stderr      string
	}{
		{"command's own exit code", &cmdutil.ExitCodeError{Code: 7}, false, 7, ""},
		{"already explained", fmt.Errorf("doctor: %w", cmdutil.SilentError{}), false, ExitError, ""},
		{"cancelled", fmt.Errorf("new: %w", context.Canceled), false, ExitInterrupted, "error: interrupted\n"},
		{"signalled", errors.New("signal: killed"), true, ExitInterrupted, "error: interrupted\n"},
		{"flag error", cmdutil.FlagErrorf("-m needs a non-empty PROMPT"), false, ExitUsage, "error: -m needs a non-empty PROMPT\nRun 'git loop new --help' for usage.\n"},
		{"usage error", fmt.Errorf("new: %w", &workspace.UsageError{Err: errors.New(`no profile "rust"`)}), false, ExitUsage, "error: new: no profile \"rust\"\nRun 'git loop new --help' for usage.\n"},
		{"cobra's argument error", errors.New("accepts at most 1 arg(s), received 2"), false, ExitUsage, "error: accepts at most 1 arg(s), received 2\nRun 'git loop new --help' for usage.\n"},
		{"engine unreachable", fmt.Errorf("start x: %w", sandbox.ErrEngineUnreachable), false, ExitEngine, "error: start x: sandbox engine unreachable\n"},
		{"conflict", conflict, false, ExitConflict, "error: " + conflict.Error() + "\n"},
		{"work at risk", &workspace.WorkAtRiskError{Loop: "x", Reason: "has 1 commit not on main or any remote", Hint: `run "git loop promote x" or use --force`}, false, ExitWorkAtRisk,
			"error: loop \"x\" has 1 commit not on main or any remote; run \"git loop promote x\" or use --force\n"},
		{"vault value in a push", fmt.Errorf("promote: %w", leak), false, ExitWorkAtRisk, "error: promote: " + leak.Error() + "\n"},
		{"anything else", errors.New("boom"), false, ExitError, "error: boom\n"},
	} {
		ios, _, _, errOut := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios, Dir: t.TempDir()}
		code := handleError(f, NewCmdRoot(f), []string{"new", "x"}, c.err, c.interrupted)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d", c.name, code, c.code)
		}
		if errOut.String() != c.stderr {
			t.Errorf("%s: stderr %q, want %q", c.name, errOut.String(), c.stderr)
		}
	}
}
