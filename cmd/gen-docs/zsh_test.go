package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
)

// TestZshCompletionFile checks the committed _git-loop without a zsh: the
// lines zsh's completion system and its git completion read, and the
// glue that makes "git loop <TAB>" ask git-loop.
func TestZshCompletionFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(committed, "completions", "_git-loop"))
	if err != nil {
		t.Fatalf("%s: %v", staleMsg, err)
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 3 || lines[0] != "#compdef git-loop" || !strings.HasPrefix(lines[1], "#description ") {
		t.Errorf("_git-loop starts %q: want #compdef git-loop, then #description (read by compinit and by zsh's _git)", lines[:min(2, len(lines))])
	}
	if !strings.Contains(string(b), "if [[ $service == git ]]; then") {
		t.Error("_git-loop lacks the glue for zsh's git completion: \"git loop <TAB>\" would complete file names")
	}
}

// zshDriver types each line given as an argument into an interactive zsh
// on a pseudo-terminal, presses TAB, and prints "LINE|CANDIDATES": the
// candidates the completion system was given, as zshRC records them.
// Each line gets a fresh shell, so one completion cannot leak into the
// next.
const zshDriver = `
zmodload zsh/zpty || exit 1
zmodload zsh/datetime
for line in "$@"; do
	zpty z zsh -i
	zpty -w -n z "$line"$'\t'
	# Then clear the line and print a marker: its output ends the read.
	zpty -w -n z $'\C-a\C-kprint -r -- "<<""DONE>>"\n'
	out= chunk=
	float deadline=$(( EPOCHREALTIME + 30 ))
	while (( EPOCHREALTIME < deadline )); do
		if zpty -rt z chunk; then out+=$chunk; else sleep 0.02; fi
		[[ $out == *'<<DONE>>'* ]] && break
	done
	zpty -d z
	[[ $out == *'<<DONE>>'* ]] || { print -r -- "$line|TIMEOUT"; continue; }
	cands=(${(f)"$(print -r -- $out | tr -d '\r' | sed -n 's/.*<<CAND>>\(.*\)<<\/CAND>>.*/\1/p')"})
	print -r -- "$line|${(j: :)cands}"
done
`

// zshRC is the interactive shell's .zshrc: the committed completion
// first on fpath, compinit as a user's .zshrc runs it, and compadd
// wrapped to print each candidate added (the calls with -O, -A or -D only
// compute matches into arrays, and add nothing).
const zshRC = `
PS1='> '
fpath=("$GIT_LOOP_COMPLETIONS" $fpath)
autoload -Uz compinit && compinit -u -d "$ZDOTDIR/.zcompdump"
compadd() {
	if (( ${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi
	local -a hits
	builtin compadd -A hits "$@"
	local h
	for h in $hits; do print -r -- "<<CAND>>$h<</CAND>>"; done
	builtin compadd "$@"
}
`

// TestZshCompletesGitLoop drives a real zsh with the committed _git-loop:
// "git-loop <TAB>" directly, and "git loop <TAB>" through zsh's own git
// completion, which calls _git-loop with the words from "loop" on. In a
// repository with a loop, both complete commands, flags and loop names,
// and neither offers the file names of the directory.
func TestZshCompletesGitLoop(t *testing.T) {
	sandboxtest.Long(t, "builds git-loop")
	zsh, err := exec.LookPath("zsh")
	sandboxtest.Require(t, err, "zsh", "install it: apt-get install zsh")
	git, err := exec.LookPath("git")
	sandboxtest.Require(t, err, "git", "install it: apt-get install git")
	goTool, err := exec.LookPath("go")
	sandboxtest.Require(t, err, "go", "install the Go toolchain to build git-loop")

	bin := t.TempDir()
	build := exec.Command(goTool, "build", "-o", filepath.Join(bin, "git-loop"), "../git-loop")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	comps, err := filepath.Abs(filepath.Join(committed, "completions"))
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".zshrc"), []byte(zshRC), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + bin + string(os.PathListSeparator) + filepath.Dir(git) + string(os.PathListSeparator) + "/usr/bin:/bin",
		"HOME=" + home,
		"ZDOTDIR=" + home,
		"TERM=dumb",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_LOOP_COMPLETIONS=" + comps,
	}

	// A repository with one loop, and a file whose name must not be
	// offered where git loop expects a command or a loop.
	repo := t.TempDir()
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run(repo, "git", "init", "-q", "-b", "main")
	run(repo, "git", "commit", "-q", "--allow-empty", "-m", "first")
	run(repo, filepath.Join(bin, "git-loop"), "new", "--driver", "none", "-d", "alpha")
	if err := os.WriteFile(filepath.Join(repo, "notacommand.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()

	type tc struct {
		dir, line string
		want      []string
	}
	cases := []tc{
		{repo, "git loop ", []string{"new", "ls", "rm"}},
		{repo, "git loop n", []string{"new"}},
		{repo, "git loop rm ", []string{"alpha"}},
		{repo, "git loop new --d", []string{"--detach", "--driver", "--dry-run"}},
		{repo, "git l", []string{"loop"}},
		{elsewhere, "git -C " + repo + " loop rm ", []string{"alpha"}},
		{repo, "git-loop ", []string{"new", "ls", "rm"}},
		{repo, "git-loop rm ", []string{"alpha"}},
		{repo, "git-loop new --d", []string{"--detach", "--driver", "--dry-run"}},
	}
	for _, dir := range []string{repo, elsewhere} {
		var lines []string
		for _, c := range cases {
			if c.dir == dir {
				lines = append(lines, c.line)
			}
		}
		cmd := exec.Command(zsh, append([]string{"-f", "-c", zshDriver, "zsh"}, lines...)...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("zsh: %v\n%s", err, out)
		}
		got := map[string][]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line, cands, ok := strings.Cut(l, "|"); ok {
				got[line] = strings.Fields(cands)
			}
		}
		for _, c := range cases {
			if c.dir != dir {
				continue
			}
			for _, w := range c.want {
				if !slices.Contains(got[c.line], w) {
					t.Errorf("zsh: %q<TAB> offers %q, want %q among them", c.line, got[c.line], w)
				}
			}
			if slices.Contains(got[c.line], "notacommand.txt") {
				t.Errorf("zsh: %q<TAB> offers file names: %q", c.line, got[c.line])
			}
		}
	}
}
