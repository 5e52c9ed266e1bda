package sandboxe2e_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

// hashTree maps every file under dir (symlinks as their target) to a hash
// of its content, skipping the names in skip.
func hashTree(t *testing.T, dir string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		for _, s := range skip {
			if d.Name() == s {
				return nil
			}
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			out[rel] = "symlink " + target
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			out[rel] = "unreadable " + err.Error()
			return nil
		}
		sum := sha256.Sum256(data)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	return out
}

func sameTree(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %s changed (%q → %q)", what, k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s: %s appeared", what, k)
		}
	}
}

// webPages starts "git loop web" on repo and returns the body of each
// path (joined to the printed URL, which may carry a token).
func webPages(t *testing.T, repo string, paths ...string) map[string]string {
	t.Helper()
	cmd := cmdtest.GitLoop(repo, "web", "-q", "--listen", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	lines := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		lines <- strings.TrimSpace(l)
	}()
	var base string
	select {
	case base = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatal("git loop web printed no URL")
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		t.Fatalf("git loop web printed %q", base)
	}
	bodies := map[string]string{}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, p := range paths {
		pu := *u
		pu.Path = p
		resp, err := client.Get(pu.String())
		if err != nil {
			t.Errorf("GET %s: %v", p, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies[p] = resp.Status + "\n" + string(b)
	}
	return bodies
}

// TestHostStateAttacks: a hostile agent goes after what the host trusts.
// From inside its sandbox it looks for the loop's record, the intents and
// the locks; replaces its transcript and session files (and the dirs
// holding them, and the compose provenance) by symlinks to a host file
// holding a secret; plants symlinks to a host file wherever the host used
// to write in the loop dir (agent lock, run log, status cache, run state,
// record); and hard-links a host-owned file into its worktree. Then the
// host runs what a user would: ls, status, log, exec, doctor --fix, the
// web viewer's pages, rm. Nothing host-only may be reachable or change, the
// secret must not come out, and no host file may be written or deleted.
func TestHostStateAttacks(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			wt := newLoop(t, repo, d, "a")
			state := filepath.Join(repo, ".git", "loop")
			hostDir := filepath.Join(state, "host", "a")
			loopDir := filepath.Join(state, "loops", "a")
			// A loop has run once: there are run logs and intents dirs to
			// find.
			gittest.WriteFile(t, filepath.Join(hostDir, "log"), "20260101T000000.000Z-run.log", "#git-loop run log\n")
			if err := os.MkdirAll(filepath.Join(state, "intents"), 0o755); err != nil {
				t.Fatal(err)
			}

			secrets := filepath.Join(hostHome, "hoststate-"+d.Name)
			const marker = "HOSTSECRET-c0ffee-4f1c"
			gittest.WriteFile(t, secrets, "id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY----- "+marker+"\n")
			leak := `{"type":"user","timestamp":"2026-01-01T00:00:00Z","message":{"role":"user","content":"` + marker + `"}}` + "\n"
			gittest.WriteFile(t, filepath.Join(secrets, "projects", "p"), "s.jsonl", leak)
			gittest.WriteFile(t, secrets, "git-loop-compose.json", `{"tiers":[{"name":"`+marker+`"}]}`+"\n")
			gittest.WriteFile(t, secrets, "victim", "untouched\n")
			secret := filepath.Join(secrets, "id_ed25519")
			victim := filepath.Join(secrets, "victim")
			hostBefore := hashTree(t, filepath.Join(state, "host"), "status-cache.json", "last-fetch")
			secretsBefore := hashTree(t, secrets)
			descBefore := hashTree(t, filepath.Join(repo, ".git"), "index", "status-cache.json")

			script := strings.Join([]string{
				"H=" + quote(hostDir), "L=" + quote(loopDir), "S=" + quote(secret), "V=" + quote(victim),
				"SD=" + quote(secrets), "ST=" + quote(state),
				// (a) the host-only state is not there to write
				`for p in "$H" "$H/meta.json" "$H/log" "$ST/host" "$ST/intents" "$ST/lock" "$ST/id"; do if test -e "$p"; then echo "REACHED $p"; fi; done`,
				`mkdir -p "$H" 2>/dev/null && echo '{"schema":1,"name":"a","worktree":"/"}' > "$H/meta.json" 2>/dev/null`,
				`echo '{"op":"rm","loop":"a","worktree":"'"$SD"'"}' > "$ST/intents/a.json" 2>/dev/null`,
				// a record planted where the old layout kept it
				`printf '{"schema":1,"name":"a","branch":"refs/heads/loop/a","worktree":"%s","vault":"other","sandbox":{"driver":"none"}}' "$SD" > "$L/meta.json"`,
				// (b) transcripts and session files through symlinks
				`A="$GIT_LOOP_AGENT_DIR"; mkdir -p "$A/projects/p" "$A/sessions/2026/01/01"`,
				`ln -sf "$S" "$A/projects/p/s.jsonl"; ln -sfn "$SD/projects/p" "$A/projects/q"`,
				`ln -sf "$S" "$A/sessions/2026/01/01/rollout-x.jsonl"; ln -sf "$SD/git-loop-compose.json" "$A/git-loop-compose.json"`,
				`mkfifo "$A/projects/p/fifo.jsonl"`,
				// (c) where the old layout had the host write
				`mkdir -p "$L/log" "$L/run"; for f in log/agent.lock log/20260102T000000.000Z-run.log status-cache.json run.json run/lock; do ln -sf "$V" "$L/$f"; done`,
				// (d) a hard link to a host-owned file in the worktree
				`ln "$(git rev-parse --git-common-dir)/description" "$GIT_LOOP_WORKDIR/hard" 2>/dev/null || echo "no hard link"`,
				"true",
			}, "\n")
			out := sh(t, repo, "a", script)
			if strings.Contains(out, "REACHED") {
				t.Errorf("host-only state reachable from the sandbox:\n%s", out)
			}

			var all strings.Builder
			for _, args := range [][]string{
				{"ls", "--json"}, {"status", "a", "--json"}, {"log", "a"}, {"log", "a", "--all"}, {"log", "a", "--json"},
				{"exec", "a", "--", "true"}, {"compose", "a"}, {"diff", "a"}, {"doctor", "--fix"}, {"ls"},
			} {
				r := cmdtest.Run(t, repo, args...)
				all.WriteString(r.Stdout + r.Stderr)
			}
			for p, body := range webPages(t, repo, "/", "/loops/a", "/loops/a/transcript", "/api/loops/a/transcript", "/loops/a/compose", "/api/loops/a/compose", "/api/loops/a") {
				all.WriteString(body)
				if strings.Contains(body, marker) {
					t.Errorf("web %s shows the host secret", p)
				}
			}
			if strings.Contains(all.String(), marker) {
				t.Errorf("the host secret came out through a planted symlink:\n%s", all.String())
			}
			m := cmdtest.ReadMeta(t, repo, "a")
			if m.Worktree != wt || m.Vault != "" || m.Sandbox.Driver != d.Name {
				t.Errorf("record after the attack: worktree %s vault %q driver %s", m.Worktree, m.Vault, m.Sandbox.Driver)
			}
			sameTree(t, "host-only state", hostBefore, hashTree(t, filepath.Join(state, "host"), "status-cache.json", "last-fetch"))
			sameTree(t, "host files", secretsBefore, hashTree(t, secrets))
			if _, err := os.Stat(filepath.Join(state, "intents", "a.json")); err == nil {
				t.Errorf("an intent planted from the sandbox reached the host")
			}

			r := cmdtest.Run(t, repo, "rm", "a", "--force")
			if r.Code != 0 {
				t.Errorf("rm --force: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			sameTree(t, "host files after rm", secretsBefore, hashTree(t, secrets))
			descAfter := hashTree(t, filepath.Join(repo, ".git"), "index", "status-cache.json")
			if descBefore["description"] != descAfter["description"] || descAfter["config"] != descBefore["config"] {
				t.Errorf("a host file changed through the worktree's hard link")
			}
			if _, err := os.Stat(repo); err != nil {
				t.Errorf("the repository is gone: %v", err)
			}
		})
	}
}

// TestLegacyRecordPlanted: loops made before the host-only part kept
// their record where the sandbox could edit it. One such record is edited
// to name another repository as its worktree, another vault and the none
// driver; both name another base to land on. The first command that takes
// the lock migrates: each record keeps only what the host can check (the
// worktree where this repository puts it, the configured driver, no vault
// the host never recorded), with a message for each replacement; then
// exec, doctor --fix and rm reach nothing outside the repository.
func TestLegacyRecordPlanted(t *testing.T) {
	t.Parallel()
	for _, d := range cmdtest.Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t, d)
			wtA := newLoop(t, repo, d, "a")
			wtB := newLoop(t, repo, d, "b")
			gittest.Git(t, repo, "config", "loop.sandbox.driver", d.Name)
			gittest.Git(t, repo, "branch", "release")
			other := gittest.Repo(t)
			otherBefore := hashTree(t, other)
			state := filepath.Join(repo, ".git", "loop")
			// Back to the old layout, as the previous version left it.
			for _, n := range []string{"a", "b"} {
				data, err := os.ReadFile(filepath.Join(state, "host", n, "meta.json"))
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]any
				if err := json.Unmarshal(data, &m); err != nil {
					t.Fatal(err)
				}
				m["vault"] = "work"
				m["base"], m["baseRef"], m["baseSha"] = "release", "refs/heads/release", "0000000000000000000000000000000000000000"
				if n == "a" {
					m["worktree"] = other
					m["sandbox"].(map[string]any)["driver"] = "none"
				}
				data, _ = json.Marshal(m)
				if err := os.RemoveAll(filepath.Join(state, "host", n)); err != nil {
					t.Fatal(err)
				}
				gittest.WriteFile(t, filepath.Join(state, "loops", n), "meta.json", string(data))
			}
			r := cmdtest.Run(t, repo, "ls", "--json")
			for _, want := range []string{
				`loop a: worktree "` + other + `" in its old record replaced by ` + wtA,
				`loop a: driver "none" in its old record replaced by ` + d.Name,
				`loop a: vault "work" dropped`, `loop b: vault "work" dropped`, `loop b: base "release" in its old record replaced by main`,
				"loop a: moved its record", "loop b: moved its record",
			} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("ls: no %q in\n%s", want, r.Stderr)
				}
			}
			if strings.Contains(r.Stdout, other) {
				t.Errorf("ls shows the planted worktree:\n%s", r.Stdout)
			}
			for n, wt := range map[string]string{"a": wtA, "b": wtB} {
				m := cmdtest.ReadMeta(t, repo, n)
				if m.Worktree != wt || m.Vault != "" || m.Sandbox.Driver != d.Name || m.BaseRef != "refs/heads/main" || m.BaseSHA != gittest.Git(t, repo, "rev-parse", "main") {
					t.Errorf("%s migrated as %+v", n, m)
				}
			}
			if r := cmdtest.Run(t, repo, "doctor", "--fix"); strings.Contains(r.Stdout+r.Stderr, "old layout") {
				t.Errorf("doctor --fix after the migration:\n%s%s", r.Stdout, r.Stderr)
			}
			r = cmdtest.Run(t, repo, "exec", "a", "--", "sh", "-c", "echo $HOME; ls -a $HOME")
			if strings.Contains(r.Stdout, hostHome+"\n") {
				t.Errorf("exec got the host home:\n%s", r.Stdout)
			}
			sameTree(t, "the other repository", otherBefore, hashTree(t, other))
			r = cmdtest.Run(t, repo, "rm", "b")
			if r.Code != 0 {
				t.Errorf("rm b: exit %d\n%s", r.Code, r.Stderr)
			}
			r = cmdtest.Run(t, repo, "rm", "a", "--force")
			if r.Code != 0 {
				t.Errorf("rm a --force: exit %d\n%s", r.Code, r.Stderr)
			}
			sameTree(t, "the other repository after rm", otherBefore, hashTree(t, other))
		})
	}
}
