// Package agent knows the agents a loop runs: parsing the agent setting,
// their command lines and environment, finding the program on the host
// and showing it inside the sandbox.
package agent

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/compose"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transcript"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// Kind is the family of an agent setting: the two agents git loop
// knows by name, or any other command.
type Kind string

const (
	Claude  Kind = "claude"  // Claude Code: CLAUDE_CONFIG_DIR = the agent dir
	Codex   Kind = "codex"   // OpenAI Codex CLI: CODEX_HOME = the agent dir
	Command Kind = "command" // anything else: env vars name the paths
)

// Mode is how an agent is started.
type Mode int

const (
	// AgentInteractive starts a new interactive session.
	Interactive Mode = iota
	// AgentResume continues the agent's last session interactively.
	Resume
	// AgentHeadless runs one turn with a prompt and exits.
	Headless
)

func (m Mode) String() string {
	switch m {
	case Resume:
		return "resume"
	case Headless:
		return "headless"
	default:
		return "interactive"
	}
}

// Agent is a parsed agent setting ("claude", "codex --model o3",
// "my-agent --flag 'two words'").
type Agent struct {
	Setting string   // as configured
	Kind    Kind     // the agent program's, seen through paths and wrappers (see Parse)
	Argv    []string // the setting split into words: the program, then its own arguments
	// Prog is the index in Argv of the word naming the agent program
	// (after wrappers: 2 in "env A=1 claude", 2 in "npx -y @openai/codex");
	// the agent's own arguments follow it.
	Prog int
	// Run is the index of the program found on the host and shown in
	// the sandbox: Prog behind env, the launcher itself (npx) otherwise.
	Run int
}

// Parse splits an agent setting into words with shell-like quoting
// (no shell runs it) and finds its kind. This is the one place that
// decides which agent a setting runs: a program named claude or codex (by
// base name, so "/opt/bin/claude --model opus" is Claude Code), behind
// wrappers ("env VAR=x claude", "npx -y @openai/codex", "node
// …/@openai/codex/bin/codex.js"), or reached through a symlink into the
// agent's npm package; anything else is a command.
func Parse(setting string) (Agent, error) {
	argv, err := splitCommandLine(setting)
	if err != nil {
		return Agent{}, &workspace.UsageError{Err: fmt.Errorf("agent %q: %w", setting, err)}
	}
	if len(argv) == 0 {
		return Agent{}, &workspace.UsageError{Err: errors.New(`no agent configured; choose one with "git loop config set agent claude|codex|CMD"`)}
	}
	a := Agent{Setting: setting, Argv: argv}
	a.Prog, a.Kind = programIndex(argv)
	if a.Kind == Command {
		a.Kind = resolvedKind(argv[a.Prog])
	}
	if filepath.Base(argv[0]) == "env" {
		if r := skipEnv(argv, 1); r < len(argv) {
			a.Run = r
		}
	}
	return a, nil
}

// Command is the agent's argv for a mode; prompt is used by
// AgentHeadless only. The prompt is the last argument for every kind
// (after "--" for claude and codex when it starts with a dash, so it is
// never read as an option). Nothing but the setting's words and the prompt
// is ever put in argv: secrets travel in the environment.
func (a Agent) Command(mode Mode, prompt string) []string {
	cmd := append([]string(nil), a.Argv[:a.Prog+1]...)
	extra := a.Argv[a.Prog+1:]
	endOpts := func() {
		if strings.HasPrefix(prompt, "-") {
			cmd = append(cmd, "--")
		}
	}
	switch a.Kind {
	case Claude:
		cmd = append(cmd, extra...)
		switch mode {
		case Resume:
			cmd = append(cmd, "--continue")
		case Headless:
			cmd = append(cmd, "-p", "--output-format", "stream-json", "--verbose")
			endOpts()
			cmd = append(cmd, prompt)
		}
	case Codex:
		switch mode {
		case Resume:
			cmd = append(cmd, "resume", "--last")
			cmd = append(cmd, extra...)
		case Headless:
			cmd = append(cmd, "exec")
			cmd = append(cmd, extra...)
			endOpts()
			cmd = append(cmd, prompt)
		default:
			cmd = append(cmd, extra...)
		}
	default:
		cmd = append(cmd, extra...)
		if mode == Headless {
			cmd = append(cmd, prompt)
		}
	}
	return cmd
}

// Paths are the paths an agent is told about.
type Paths struct {
	Name      string // the loop
	Workdir   string // its worktree
	AgentDir  string // its composed agent dir
	Knowledge string // its knowledge worktree
	Notes     string // its notes worktree
	Personal  string // the personal repo's checkout
}

// Env is the per-exec environment of the agent: the paths of the loop
// for every kind (GIT_LOOP_*; a path left empty, a layer not set up, is
// left out), plus the agent's own config dir variable.
func (a Agent) Env(p Paths) map[string]string {
	env := map[string]string{}
	for k, v := range map[string]string{
		"GIT_LOOP_NAME":      p.Name,
		"GIT_LOOP_WORKDIR":   p.Workdir,
		"GIT_LOOP_AGENT_DIR": p.AgentDir,
		"GIT_LOOP_KNOWLEDGE": p.Knowledge,
		"GIT_LOOP_NOTES":     p.Notes,
		"GIT_LOOP_PERSONAL":  p.Personal,
	} {
		if v != "" {
			env[k] = v
		}
	}
	switch a.Kind {
	case Claude:
		env["CLAUDE_CONFIG_DIR"] = p.AgentDir
	case Codex:
		env["CODEX_HOME"] = p.AgentDir
	}
	return env
}

// Install says how to get the agent, for error messages.
func (a Agent) Install() string {
	switch a.Kind {
	case Claude:
		return `install it with "npm install -g @anthropic-ai/claude-code"`
	case Codex:
		return `install it with "npm install -g @openai/codex"`
	}
	return "install it"
}

// MissingError is an agent whose program cannot be found. Only the
// commands that must run the agent (attach, run, new -m) report it.
type MissingError struct {
	Loop  string
	Agent Agent
	Err   error
}

func (e *MissingError) Error() string {
	where := " on PATH"
	prog := e.Agent.Argv[e.Agent.Run]
	if strings.ContainsRune(prog, '/') {
		where = ""
	}
	return fmt.Sprintf("agent %q of loop %s is not installed (%s not found%s): %s, or choose another with \"git loop config set agent CMD\" or --agent CMD",
		e.Agent.Setting, e.Loop, prog, where, e.Agent.Install())
}

func (e *MissingError) Unwrap() error { return e.Err }

// BusyError is a second agent session or run on a loop while one is
// going.
type BusyError struct {
	Loop   string
	Holder string // what holds it: "run, pid 123, since 10:04:05"
}

func (e *BusyError) Error() string {
	h := ""
	if e.Holder != "" {
		h = " (" + e.Holder + ")"
	}
	return fmt.Sprintf("loop %s already has an agent running%s; wait for it to end, or use \"git loop shell %s\" meanwhile", e.Loop, h, e.Loop)
}

// setting is the loop's agent: what "new --agent" recorded, or else the
// agent setting as it is now (a loop follows it).
func setting(s *workspace.Workspace, m *state.Meta) string {
	if m.Agent != "" {
		return m.Agent
	}
	if s.Config != nil {
		return s.Config.Agent()
	}
	return ""
}

// ForLoop is the loop's parsed agent; override, when set, replaces the
// recorded one.
func ForLoop(s *workspace.Workspace, m *state.Meta, override string) (Agent, error) {
	if override != "" {
		return Parse(override)
	}
	return Parse(setting(s, m))
}

// PathsOf are the paths the loop's agent is told about: its context
// worktrees and the personal checkout when they exist.
func PathsOf(s *workspace.Workspace, m *state.Meta) Paths {
	p := Paths{Name: m.Name, Workdir: m.Worktree, AgentDir: s.AgentDir(m.Name)}
	dirs := map[workspace.Layer]string{}
	for _, c := range m.Contexts {
		dirs[workspace.Layer(c.Layer)] = c.Dir
	}
	for _, l := range workspace.LoopLayers {
		if dirs[l] == "" && workspace.Exists(s.ContextDir(m.Name, l)) {
			dirs[l] = s.ContextDir(m.Name, l)
		}
	}
	p.Knowledge, p.Notes = dirs[workspace.Knowledge], dirs[workspace.Notes]
	if clone := s.Dirs.ClonePath(workspace.Personal, ""); workspace.Exists(clone) {
		p.Personal = clone
	}
	return p
}

// Find looks the agent's program up on the host, as run and attach do:
// on PATH, or relative to worktree for a relative path with a slash.
func (a Agent) Find(worktree string) (Binary, error) {
	return findAgent(a.Argv[a.Run], worktree)
}

// Binary is an agent program found on the host.
type Binary struct {
	Path string // as found on PATH (or relative to the worktree)
	Real string // Path with symlinks resolved: what runs in a sandbox
	Root string // what to mount for it: Real, or its npm package dir
	// Extra are more dirs it needs: the npm package's platform packages
	// hoisted beside it (@openai/codex-linux-x64 beside @openai/codex).
	Extra []string
	// InWorktree: the program lives in the loop's worktree, which every
	// sandbox has already.
	InWorktree bool
}

// findAgent looks the agent's program up on the host: on PATH, or, for a
// relative path with a slash ("./bin/agent"), in the loop's worktree.
func findAgent(prog, worktree string) (Binary, error) {
	if !filepath.IsAbs(prog) && strings.ContainsRune(prog, '/') {
		p := filepath.Join(worktree, prog)
		fi, err := os.Stat(p)
		if err != nil {
			return Binary{}, err
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return Binary{}, fmt.Errorf("%s is not executable", p)
		}
		return Binary{Path: p, Real: p, Root: p, InWorktree: true}, nil
	}
	p, err := exec.LookPath(prog)
	if err != nil {
		return Binary{}, err
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return Binary{}, err
	}
	root := packageRoot(real)
	b := Binary{Path: p, Real: real, Root: root}
	if root != real {
		b.Extra = optionalSiblings(root)
	}
	return b, nil
}

// packageRoot is the npm package dir of a program installed by npm
// (.../node_modules/@anthropic-ai/claude-code/cli.js needs the whole
// package beside it), else the program itself.
func packageRoot(real string) string {
	parts := strings.Split(real, string(filepath.Separator))
	for i := len(parts) - 2; i >= 0; i-- {
		if parts[i] != "node_modules" || i+1 >= len(parts)-1 {
			continue
		}
		end := i + 2
		if strings.HasPrefix(parts[i+1], "@") {
			end = i + 3
		}
		if end <= len(parts)-1 {
			return strings.Join(parts[:end], string(filepath.Separator))
		}
	}
	return real
}

// hostSystemDirs are what the bwrap driver shows of the host anyway.
var hostSystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}

func pathUnder(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}

// mounts is what a driver needs to see the program: nothing on the host
// (none), the program outside the host's system dirs (bwrap), the program
// always (docker, where the image decides whether its own copy wins).
func (b Binary) Mounts(driver string) []sandbox.Mount {
	if b.InWorktree || b.Root == "" {
		return nil
	}
	if driver == "none" || driver == "" {
		return nil
	}
	var out []sandbox.Mount
	for _, dir := range append([]string{b.Root}, b.Extra...) {
		if driver == "bwrap" && slices.ContainsFunc(hostSystemDirs, func(d string) bool { return pathUnder(dir, d) }) {
			continue // shown already
		}
		out = append(out, sandbox.Mount{Source: dir, Target: dir, ReadOnly: true})
	}
	return out
}

// Mounts are the read-only mounts that show the loop's agent program
// inside its sandbox, at its host path (docs/sandbox.md), and the dirs
// to put first on its PATH, so that the agent runs by name in "git loop
// exec" and "git loop shell": a host-only dir (which the sandbox cannot
// write), mounted read-only, of links to the program, or for Claude Code
// and Codex of wrappers that run it as a session does (see handWrapper).
// A missing agent mounts nothing: only commands that run it complain.
func Mounts(s *workspace.Workspace, m *state.Meta) (mounts []sandbox.Mount, path []string) {
	if m.Sandbox.Driver == "none" || m.Sandbox.Driver == "" {
		return nil, nil // the host itself: no lookup on the path of every command
	}
	a, err := Parse(setting(s, m))
	if err != nil {
		return nil, nil
	}
	b, err := a.Find(m.Worktree)
	if err != nil {
		return nil, nil
	}
	mounts = b.Mounts(m.Sandbox.Driver)
	if b.InWorktree {
		return mounts, nil
	}
	bin := HandDir(s, m.Name)
	var hand Hand
	if a.Kind == Claude || a.Kind == Codex {
		hand = Hand{Driver: m.Sandbox.Driver, Program: b.Real}
		hand.Relay, _ = s.HookBinary()
		if a.Kind == Claude {
			hand.MCPConfig = filepath.Join(s.AgentDir(m.Name), compose.MCPConfigFile)
		}
	}
	if err := linkProgram(bin, a, b, hand); err != nil {
		return mounts, nil
	}
	return append(mounts, sandbox.Mount{Source: bin, Target: bin, ReadOnly: true}), []string{bin}
}

// HandDir is the host-only dir of a loop's agent on PATH (see Mounts).
func HandDir(s *workspace.Workspace, name string) string {
	return filepath.Join(filepath.Dir(s.LogDir(name)), "bin")
}

// ConfigEnv is the config dir variable of the loop's agent
// (CLAUDE_CONFIG_DIR, CODEX_HOME) set to its composed agent dir, for every
// exec in the loop: the agent run by hand in "git loop exec" or "git loop
// shell" reads the loop's composition as run and attach give it.
func ConfigEnv(s *workspace.Workspace, m *state.Meta) map[string]string {
	a, err := Parse(setting(s, m))
	if err != nil {
		return nil
	}
	switch a.Kind {
	case Claude:
		return map[string]string{"CLAUDE_CONFIG_DIR": s.AgentDir(m.Name)}
	case Codex:
		return map[string]string{"CODEX_HOME": s.AgentDir(m.Name)}
	}
	return nil
}

// Hand is what a Claude Code or Codex wrapper on the loop's PATH adds to
// the client run by hand, so that it runs as a session runs it.
type Hand struct {
	Driver  string
	Program string // the host's program (Binary.Real), mounted at its path
	// Relay is the mounted git-loop ("" when there is none: no login by
	// hand then).
	Relay string
	// MCPConfig is Claude's composed MCP servers file, passed as
	// --mcp-config when it exists (Claude reads them only from there).
	MCPConfig string
}

// HandEgressEnv names the per-exec variable that carries the socket of
// the exec's egress proxy (in the sandbox), set by "git loop exec" and
// "shell" when the host has a login to lend; HandEgressCredEnv lists the
// variables the client takes its placeholder credential from.
const (
	HandEgressEnv     = "GIT_LOOP_EGRESS"
	HandEgressCredEnv = "GIT_LOOP_EGRESS_CRED"
)

// handWrapper is the sh script run for the client's name. On docker it
// runs the image's own copy when the image has one (as the session's
// dockerAgentScript does), else the host's; on bwrap the host's. It adds
// Claude's --mcp-config (in its one-value "=" form: the spaced form
// takes every following word, "mcp list" included) unless the caller
// passed one, which the session does; and, when the exec carries an
// egress socket, it runs the client under "git loop relay --client",
// which points it at the proxy with a placeholder. An agent session's
// exec carries none (its own relay is around it), so a session that
// finds this wrapper on PATH runs the client as before.
func handWrapper(path string, a Agent, h Hand) string {
	q := shellQuote
	words := func(ws []string) string {
		var out string
		for _, x := range ws {
			out += q(x) + " "
		}
		return out
	}
	// The session's words around the program (env A=1 before it; npx's
	// "-y @openai/codex" after it), without the setting's own flags.
	pre, post := words(a.Argv[:a.Run]), words(a.Argv[a.Run+1:a.Prog+1])
	var w strings.Builder
	w.WriteString("#!/bin/sh\n# git loop: " + string(a.Kind) + " run by hand in this loop, as its sessions run it (written by the host on every exec).\n")
	w.WriteString("p=" + q(h.Program) + "\n")
	if h.Driver == "docker" {
		n := q(filepath.Base(a.Argv[a.Run]))
		fmt.Fprintf(&w, "d=%s\nIFS=:\nfor x in $PATH; do\n  if [ \"$x\" != \"$d\" ] && [ -f \"$x\"/%s ] && [ -x \"$x\"/%s ]; then p=$x/%s; break; fi\ndone\nunset IFS\n",
			q(filepath.Dir(path)), n, n, n)
	}
	if h.MCPConfig != "" {
		fmt.Fprintf(&w, "m=%s\nfor x in \"$@\"; do case $x in --mcp-config|--mcp-config=*) m=;; esac; done\nif [ -n \"$m\" ] && [ -f \"$m\" ]; then set -- \"--mcp-config=$m\" \"$@\"; fi\n", q(h.MCPConfig))
	}
	if h.Relay != "" {
		// The relay puts Codex's base URL flag right after the program's
		// words (--at), where the session puts it.
		fmt.Fprintf(&w, "if [ -n \"$%s\" ]; then exec %s relay --client %s --at %d -- %s\"$p\" %s\"$@\"; fi\n",
			HandEgressEnv, q(h.Relay), a.Kind, a.Prog+1, pre, post)
	}
	fmt.Fprintf(&w, "exec %s\"$p\" %s\"$@\"\n", pre, post)
	return w.String()
}

// shellQuote quotes s for sh: a single-quoted word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// linkProgram makes bin hold what a user types to run the agent: for
// Claude Code and Codex a wrapper (handWrapper) named after the client,
// and after the setting's program when that is not a launcher (npx,
// env: never shadowed); for another agent a link named after its
// program. Entries already right are left alone (this runs on every
// exec), others removed.
func linkProgram(bin string, a Agent, b Binary, h Hand) error {
	var names []string
	if a.Run == a.Prog {
		names = append(names, filepath.Base(a.Argv[a.Run]))
	}
	if (a.Kind == Claude || a.Kind == Codex) && !slices.Contains(names, string(a.Kind)) {
		names = append(names, string(a.Kind))
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
		p := filepath.Join(bin, n)
		if h.Program == "" {
			if cur, err := os.Readlink(p); err == nil && cur == b.Real {
				continue
			}
			_ = os.Remove(p)
			if err := os.Symlink(b.Real, p); err != nil {
				return err
			}
			continue
		}
		script := handWrapper(p, a, h)
		if cur, err := os.ReadFile(p); err == nil && string(cur) == script {
			if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
				continue
			}
		}
		if err := writeFileAtomic(p, []byte(script), 0o755); err != nil {
			return err
		}
	}
	entries, _ := os.ReadDir(bin)
	for _, e := range entries {
		if !want[e.Name()] {
			_ = os.Remove(filepath.Join(bin, e.Name())) // an agent no longer the loop's
		}
	}
	return nil
}

// writeFileAtomic replaces path with data by a rename, so an exec running
// the old wrapper never reads half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// dockerAgentScript runs the image's own copy of the agent when it has
// one, else the host's, mounted at its host path: sh -c SCRIPT NAME
// HOSTPATH ARGS... With neither it exits 127 quietly: the caller reports
// the missing agent once (MissingError).
const dockerAgentScript = `a=$0 h=$1; shift; if command -v "$a" >/dev/null 2>&1; then exec "$a" "$@"; fi; if [ -n "$h" ]; then exec "$h" "$@"; fi; exit 127`

// sandboxCommand turns the agent's argv into what the driver runs: the
// program's host path on the host (none), its resolved path (bwrap,
// where symlinks outside the mounts would dangle), or the image's copy
// with the host's as the fallback (docker).
func sandboxCommand(driver string, argv []string, run int, b Binary) []string {
	cmd := append([]string(nil), argv[:run]...)
	switch driver {
	case "docker":
		cmd = append(cmd, "/bin/sh", "-c", dockerAgentScript, filepath.Base(argv[run]), b.Real)
	case "bwrap":
		cmd = append(cmd, b.Real)
	default:
		cmd = append(cmd, b.Path)
	}
	return append(cmd, argv[run+1:]...)
}

// Invocation is one agent process as it will be run.
type Invocation struct {
	Agent Agent
	Mode  Mode
	// Argv is the agent's own command line (what "ps" in the sandbox
	// shows, modulo the driver's wrapping in Cmd).
	Argv []string
	// Cmd is what the sandbox driver runs.
	Cmd []string
	// Env is the per-exec environment the agent gets.
	Env map[string]string
	// Mounts show the agent program inside the sandbox.
	Mounts []sandbox.Mount

	// Loop is the loop the agent runs in.
	Loop *state.Meta
	// Program is the agent program found on the host (zero: none, the
	// image's copy is run).
	Program Binary
}

// Prepare resolves the loop's agent (override replaces the recorded
// one) for a mode, finding its program on the host. A missing program is an
// *AgentMissingError, except on docker, where the image may have it.
func Prepare(s *workspace.Workspace, m *state.Meta, override string, mode Mode, prompt string) (*Invocation, error) {
	a, err := ForLoop(s, m, override)
	if err != nil {
		return nil, err
	}
	driver := m.Sandbox.Driver
	var b Binary
	if m.Sandbox.Remote() {
		// Nothing of this host's reaches a remote engine: the image's
		// copy, run by name as on docker, or "not found" there.
		driver = "docker"
	} else if b, err = findAgent(a.Argv[a.Run], m.Worktree); err != nil {
		if m.Sandbox.Driver != "docker" {
			return nil, &MissingError{Loop: m.Name, Agent: a, Err: err}
		}
		b = Binary{} // the image's copy or nothing
	}
	if mode == Resume && !hasSession(s, m, a) {
		mode = Interactive
	}
	argv := a.Command(mode, prompt)
	if mcp := filepath.Join(s.AgentDir(m.Name), compose.MCPConfigFile); a.Kind == Claude && workspace.Exists(mcp) {
		// Claude Code reads MCP servers from --mcp-config, not from the
		// settings.json in its config dir: pass the composed ones.
		argv = slices.Insert(argv, a.Prog+1, "--mcp-config", mcp)
	}
	inv := &Invocation{
		Agent:   a,
		Mode:    mode,
		Argv:    argv,
		Cmd:     sandboxCommand(driver, argv, a.Run, b),
		Env:     a.Env(PathsOf(s, m)),
		Mounts:  b.Mounts(driver),
		Loop:    m,
		Program: b,
	}
	return inv, nil
}

// hasSession reports whether the agent left a session it can
// continue in the loop's agent dir: Claude's projects/<escaped
// workdir>/<session>.jsonl, Codex's sessions/**/*.jsonl.
func hasSession(s *workspace.Workspace, m *state.Meta, a Agent) bool {
	dir := s.AgentDir(m.Name)
	switch a.Kind {
	case Claude:
		for _, p := range claudeProjectDirs(dir, m.Worktree) {
			if files, _ := filepath.Glob(filepath.Join(p, "*.jsonl")); len(files) > 0 {
				return true
			}
		}
	case Codex:
		return len(transcript.CodexSessionFiles(dir)) > 0
	}
	return false
}

// claudeProjectDirs are the dirs under CLAUDE_CONFIG_DIR/projects where
// Claude Code keeps the sessions started in cwd: the path with every
// character other than a letter or digit made "-" (older releases: only
// "/"), long names cut and suffixed with a hash.
func claudeProjectDirs(agentDir, cwd string) []string {
	projects := filepath.Join(agentDir, "projects")
	alnum := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, cwd)
	slash := strings.ReplaceAll(cwd, "/", "-")
	var out []string
	for _, name := range []string{alnum, slash} {
		if fi, err := os.Stat(filepath.Join(projects, name)); err == nil && fi.IsDir() {
			out = append(out, filepath.Join(projects, name))
		}
	}
	if len(out) == 0 && len(alnum) > 200 {
		matches, _ := filepath.Glob(filepath.Join(projects, alnum[:200]+"*"))
		out = append(out, matches...)
	}
	return out
}

// PromptOf is the prompt of a headless invocation ("" otherwise).
func (inv *Invocation) PromptOf() string {
	if inv.Mode != Headless || len(inv.Argv) == 0 {
		return ""
	}
	return inv.Argv[len(inv.Argv)-1]
}

// splitCommandLine splits s into words the way a POSIX shell would,
// without running one: blanks separate words; single quotes keep
// everything literally; double quotes keep everything but \" \\ \$ \`;
// a backslash outside quotes escapes the next character. Expansions
// ($VAR, globs, ~) are not performed.
func splitCommandLine(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	const (
		plain = iota
		single
		double
	)
	st := plain
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch st {
		case single:
			if r == '\'' {
				st = plain
			} else {
				cur.WriteRune(r)
			}
		case double:
			switch {
			case r == '"':
				st = plain
			case r == '\\' && i+1 < len(rs) && strings.ContainsRune("\"\\$`\n", rs[i+1]):
				i++
				if rs[i] != '\n' {
					cur.WriteRune(rs[i])
				}
			default:
				cur.WriteRune(r)
			}
		default:
			switch {
			case r == ' ' || r == '\t' || r == '\n':
				if inWord {
					words = append(words, cur.String())
					cur.Reset()
					inWord = false
				}
			case r == '\'':
				st, inWord = single, true
			case r == '"':
				st, inWord = double, true
			case r == '\\':
				if i+1 >= len(rs) {
					return nil, errors.New("trailing backslash")
				}
				i++
				if rs[i] != '\n' {
					cur.WriteRune(rs[i])
					inWord = true
				}
			default:
				cur.WriteRune(r)
				inWord = true
			}
		}
	}
	if st != plain {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
