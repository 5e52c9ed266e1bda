package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/cmd/internal/docgen"
	"github.com/gitloop-dev/git-loop/man"
	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
	"github.com/spf13/cobra"
)

// committed is the man/ tree at the repository root, relative to this
// package.
const committed = "../../man"

const staleMsg = "man/ is stale: run go generate ./cmd/git-loop"

// readTree maps each file under dir (slash-separated, relative) to its
// content.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestManUpToDate is the guard that man/ follows the command tree: it
// regenerates everything and compares byte for byte.
func TestManUpToDate(t *testing.T) {
	out := t.TempDir()
	if err := generate(out, fixedDate); err != nil {
		t.Fatal(err)
	}
	want := readTree(t, out)
	got := readTree(t, committed)
	for _, name := range sortedKeys(want) {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: man/%s is missing", staleMsg, name)
		case !bytes.Equal(g, want[name]):
			t.Errorf("%s: man/%s differs from the command tree%s", staleMsg, name, firstDiff(g, want[name]))
		}
	}
	for _, name := range sortedKeys(got) {
		// Only man1/ and completions/ are generated; anything else under
		// man/ is left alone by gen-docs and ignored here.
		if _, ok := want[name]; !ok && (strings.HasPrefix(name, "man1/") || strings.HasPrefix(name, "completions/")) {
			t.Errorf("%s: man/%s belongs to no command", staleMsg, name)
		}
	}
}

// TestEmbeddedPagesAsRendered: "git loop install-docs" writes the pages
// embedded from man/ (package man) instead of rendering the tree, so what
// it writes for any date must be what rendering writes for that date.
func TestEmbeddedPagesAsRendered(t *testing.T) {
	date := time.Date(2031, time.March, 5, 12, 0, 0, 0, time.UTC)
	rendered, embedded := t.TempDir(), t.TempDir()
	if err := docgen.ManPages(newRoot, rendered, date); err != nil {
		t.Fatal(err)
	}
	if err := man.Write(embedded, date); err != nil {
		t.Fatal(err)
	}
	want, got := readTree(t, rendered), readTree(t, embedded)
	if len(got) != len(want) {
		t.Errorf("%s: %d embedded pages, the tree renders %d", staleMsg, len(got), len(want))
	}
	for _, name := range sortedKeys(want) {
		if !bytes.Equal(got[name], want[name]) {
			t.Errorf("%s: %s as install-docs writes it differs from the rendered page%s", staleMsg, name, firstDiff(got[name], want[name]))
		}
	}
}

// firstDiff describes the first differing line of got and want.
func firstDiff(got, want []byte) string {
	g := strings.Split(string(got), "\n")
	w := strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "\n  line " + strconv.Itoa(i+1) + ":\n  committed: " + gl + "\n  generated: " + wl
		}
	}
	return ""
}

// visible lists every command that gets a page, the way cobra's man
// generator chooses them.
func visible(cmd *cobra.Command) []*cobra.Command {
	cmds := []*cobra.Command{cmd}
	for _, c := range cmd.Commands() {
		if !c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand() {
			continue
		}
		cmds = append(cmds, visible(c)...)
	}
	return cmds
}

func pageName(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
}

func TestEveryCommandHasAPage(t *testing.T) {
	root := newRoot()
	cmds := visible(root)
	if len(cmds) < 2 {
		t.Fatalf("found %d commands; the tree did not build", len(cmds))
	}
	rootPage, err := os.ReadFile(filepath.Join(committed, "man1", "git-loop.1"))
	if err != nil {
		t.Fatalf("%s: %v", staleMsg, err)
	}
	for _, c := range cmds {
		name := pageName(c)
		if _, err := os.Stat(filepath.Join(committed, "man1", name)); err != nil {
			t.Errorf("%s: no page for %q: %v", staleMsg, c.CommandPath(), err)
		}
		// git help loop shows git-loop.1: it must lead to every command.
		if c.Parent() == root && !bytes.Contains(rootPage, []byte(strings.TrimSuffix(name, ".1")+"(1)")) {
			t.Errorf("%s: git-loop.1 does not mention %s(1)", staleMsg, strings.TrimSuffix(name, ".1"))
		}
	}
	for _, c := range root.Commands() {
		if c.Hidden {
			if _, err := os.Stat(filepath.Join(committed, "man1", pageName(c))); err == nil {
				t.Errorf("hidden command %q has a page", c.CommandPath())
			}
		}
	}
}

// TestPageNames checks what git relies on: "git help loop" and
// "git loop --help" run "man git-loop", so the command path must read
// "git loop" and the root page must be git-loop.1.
func TestPageNames(t *testing.T) {
	root := newRoot()
	if got := root.CommandPath(); got != "git loop" {
		t.Errorf("root command path = %q, want %q (display-name annotation)", got, "git loop")
	}
	if got := pageName(root); got != "git-loop.1" {
		t.Errorf("root page = %q, want git-loop.1", got)
	}
}

// TestArgumentsAsNames keeps the convention cobra's man renderer needs:
// arguments in Use are written NAME, because markdown eats <name>.
func TestArgumentsAsNames(t *testing.T) {
	for _, c := range visible(newRoot()) {
		if strings.ContainsAny(c.Use, "<>") {
			t.Errorf("%q: Use %q: write arguments as NAME, not <name>", c.CommandPath(), c.Use)
		}
	}
}

func TestRootPageDocumentsExitCodes(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(committed, "man1", "git-loop.1"))
	if err != nil {
		t.Fatalf("%s: %v", staleMsg, err)
	}
	text := string(page)
	if !strings.Contains(text, "Exit codes") && !strings.Contains(text, "EXIT CODES") {
		t.Fatalf("git-loop.1 does not document the exit codes:\n%s", text)
	}
	for _, code := range []string{"0", "1", "2", "3", "4", "5", "130"} {
		found := false
		for _, line := range strings.Split(text, "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == code {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("git-loop.1 does not document exit code %s", code)
		}
	}
}

func TestCompletionFiles(t *testing.T) {
	bash, err := os.ReadFile(filepath.Join(committed, "completions", "git-loop.bash"))
	if err != nil {
		t.Fatalf("%s: %v", staleMsg, err)
	}
	// Without _git_loop, git's completion cannot complete "git loop <TAB>".
	for _, want := range []string{"__start_git-loop", "_git_loop()"} {
		if !bytes.Contains(bash, []byte(want)) {
			t.Errorf("git-loop.bash lacks %s", want)
		}
	}
}

func TestDateFromEnv(t *testing.T) {
	d, err := dateFromEnv("")
	if err != nil || !d.Equal(fixedDate) {
		t.Errorf(`dateFromEnv("") = %v, %v; want the fixed date`, d, err)
	}
	d, err = dateFromEnv("1700000000")
	if err != nil || !d.Equal(time.Unix(1700000000, 0)) || d.Location() != time.UTC {
		t.Errorf(`dateFromEnv("1700000000") = %v, %v`, d, err)
	}
	if _, err := dateFromEnv("yesterday"); err == nil {
		t.Error(`dateFromEnv("yesterday") did not fail`)
	}
}

// bashDriver completes each line given as an argument the way bash would
// on TAB: it calls the function registered with "complete" for the command
// and prints "LINE|CANDIDATES".
const bashDriver = `
source "$GIT_COMPLETION"
source "$GIT_LOOP_COMPLETION"
for line in "$@"; do
	read -ra COMP_WORDS <<<"$line"
	[[ "$line" == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
	COMP_LINE="$line"; COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	fn=$(complete -p "${COMP_WORDS[0]}" | sed -n 's/.* -F \([^ ]*\).*/\1/p')
	"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
	echo "$line|${COMPREPLY[*]}"
done
`

// TestBashCompletesGitLoop runs the committed bash completion with git's
// own: "git loop <TAB>" only works through the _git_loop glue.
func TestBashCompletesGitLoop(t *testing.T) {
	sandboxtest.Long(t, "builds git-loop")
	const gitCompletion = "/usr/share/bash-completion/completions/git"
	bash, err := exec.LookPath("bash")
	sandboxtest.Require(t, err, "bash", `install bash ("sudo apt-get install bash")`)
	_, err = os.Stat(gitCompletion)
	sandboxtest.Require(t, err, "git-bash-completion", "install git, whose Debian package puts its bash completion at "+gitCompletion)
	goTool, err := exec.LookPath("go")
	sandboxtest.Require(t, err, "go", "put the go tool on PATH: it builds git-loop")
	bin := t.TempDir()
	build := exec.Command(goTool, "build", "-o", filepath.Join(bin, "git-loop"), "../git-loop")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	comp, err := filepath.Abs(filepath.Join(committed, "completions", "git-loop.bash"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cases := map[string]string{
		"git loop n":                 "new",
		"git loop ":                  "ls",
		"git -C " + dir + " loop st": "status",
		"git loop completion z":      "zsh",
		"git-loop n":                 "new",
		"git-loop ":                  "ls",
	}
	args := []string{"--norc", "--noprofile", "-c", bashDriver, "bash"}
	for line := range cases {
		args = append(args, line)
	}
	cmd := exec.Command(bash, args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + dir,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_COMPLETION=" + gitCompletion,
		"GIT_LOOP_COMPLETION=" + comp,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	got := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line, cands, ok := strings.Cut(l, "|"); ok {
			got[line] = strings.Fields(cands)
		}
	}
	for line, want := range cases {
		if !slices.Contains(got[line], want) {
			t.Errorf("%q<TAB> offers %q, want %q among them\n%s", line, got[line], want, out)
		}
	}
}
