package vaulte2e_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// TestPromoteRefusesVaultValues is the secret-exfiltration attack of
// issue 14: the agent reads the vault variable its loop gets at every
// exec and commits the value, into a notes file and into code (the value
// of the other vault too, which it must not even have: a loop with no
// vault types it in as well). promote must refuse before pushing anything,
// name the file and the variable, and never print the value. The loops are
// unsealed, made so explicitly: the promote of a sealed loop is tested
// where it is built.
func TestPromoteRefusesVaultValues(t *testing.T) {
	for _, d := range append(append([]cmdtest.Driver{}, cmdtest.Drivers...), cmdtest.SealedDrivers...) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo, e := newRepo(t, d)
			e.Opts.Env["GIT_LOOP_SANDBOX_SEALED"] = "false"
			fillVaults(t, repo, e)
			driver := strings.TrimSuffix(d.Name, "-sealed")
			e.OK("new", "leaky", "--driver", driver, "--vault", "work", "--detach")
			notes := e.Context("leaky", "notes")
			script := `set -e
test -n "$API_TOKEN"
printf 'remember: %s\n' "$API_TOKEN" > "$1/leak.md"
git -C "$1" add leak.md && git -C "$1" commit -qm "notes: a reminder"
mkdir -p src && printf 'package src\n\nconst key = "%s"\n' "$API_TOKEN" > src/leak.go
git add src/leak.go && git commit -qm "code: a constant"
git commit -q --allow-empty -m "harmless $2"
`
			r := e.Run("exec", "leaky", "--", "sh", "-c", script, "sh", notes, otherToken)
			if r.Code != 0 {
				t.Fatalf("the agent's commits: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			code := filepath.Join(filepath.Dir(repo), "origin.git")
			origins := map[string]string{"code": code, "notes": e.Origin("notes")}
			before := map[string]string{}
			for l, o := range origins {
				before[l] = gittest.Git(t, o, "for-each-ref")
			}

			r = e.Run("promote", "leaky")
			out := r.Stdout + r.Stderr
			t.Logf("promote:\n%s", out)
			if r.Code != 5 {
				t.Errorf("promote: exit %d, want 5 (refused)\n%s", r.Code, out)
			}
			for _, want := range []string{"leak.md: work/API_TOKEN", "src/leak.go: work/API_TOKEN", "other/OTHER_TOKEN"} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr does not name %q:\n%s", want, r.Stderr)
				}
			}
			for _, v := range []string{token, otherToken} {
				if strings.Contains(out, v) {
					t.Errorf("the value is printed:\n%s", out)
				}
			}
			leaked := map[string]string{
				"notes": "remember: " + token + "\n",
				"code":  "package src\n\nconst key = \"" + token + "\"\n",
			}
			for l, o := range origins {
				if after := gittest.Git(t, o, "for-each-ref"); after != before[l] {
					t.Errorf("%s origin's refs moved:\n%s\nwas\n%s", l, after, before[l])
				}
				blob := hashObject(t, leaked[l])
				if err := exec.Command("git", "-C", o, "cat-file", "-e", blob).Run(); err == nil {
					t.Errorf("%s origin has the leaked blob %s", l, blob)
				}
			}
			// A leak left uncommitted is caught once promote -a commits it.
			e.OK("new", "wip", "--driver", driver, "--vault", "work", "--detach")
			if r := e.Run("exec", "wip", "--", "sh", "-c", `printf 'token=%s\n' "$API_TOKEN" > wip.txt`); r.Code != 0 {
				t.Fatalf("exec: %d %s", r.Code, r.Stderr)
			}
			if r := e.Run("promote", "wip", "--layer", "code", "-a", "-m", "wip"); r.Code != 5 || !strings.Contains(r.Stderr, "wip.txt: work/API_TOKEN") || strings.Contains(r.Stdout+r.Stderr, token) {
				t.Errorf("promote -a: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			if refs := gittest.Git(t, code, "for-each-ref"); strings.Contains(refs, "loop/wip") {
				t.Errorf("promote -a pushed: %s", refs)
			}
			// Each layer alone is refused too.
			for _, l := range []string{"code", "notes"} {
				if r := e.Run("promote", "leaky", "--layer", l); r.Code != 5 || strings.Contains(r.Stdout+r.Stderr, token) {
					t.Errorf("promote --layer %s: exit %d\n%s%s", l, r.Code, r.Stdout, r.Stderr)
				}
			}
		})
	}
}

func hashObject(t *testing.T, content string) string {
	t.Helper()
	cmd := exec.Command("git", "hash-object", "--stdin")
	cmd.Stdin = strings.NewReader(content)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestMemoryRefusesVaultValues: a sealed loop's agent writes its vault
// variable into its personal memory; promote refuses before anything of
// it is written into the user's personal clone, naming the file and the
// variable, never the value.
func TestMemoryRefusesVaultValues(t *testing.T) {
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo, e := newRepo(t, d)
			fillVaults(t, repo, e)
			e.OK("new", "leaky", "--driver", d.Name, "--vault", "work", "--detach")
			if r := e.Run("exec", "leaky", "--", "sh", "-c", `printf 'remember: %s\n' "$API_TOKEN" > "$GIT_LOOP_PERSONAL/memory/leak.md"`); r.Code != 0 {
				t.Fatalf("exec: exit %d\n%s", r.Code, r.Stderr)
			}
			personal := e.Clone("personal")
			head := gittest.Git(t, personal, "rev-parse", "HEAD")
			for _, args := range [][]string{{"promote", "leaky", "--layer", "personal"}, {"promote", "leaky"}} {
				r := e.Run(args...)
				if r.Code != 5 || !strings.Contains(r.Stderr, "memory/leak.md: work/API_TOKEN") || strings.Contains(r.Stdout+r.Stderr, token) {
					t.Errorf("%v: exit %d, want 5 naming memory/leak.md\n%s%s", args, r.Code, r.Stdout, r.Stderr)
				}
			}
			if _, err := exec.Command("test", "-e", filepath.Join(personal, "memory", "leak.md")).Output(); err == nil {
				t.Error("the leaked memory file was written into the personal clone")
			}
			if got := gittest.Git(t, personal, "rev-parse", "HEAD"); got != head {
				t.Error("the personal clone got a commit")
			}
		})
	}
}
