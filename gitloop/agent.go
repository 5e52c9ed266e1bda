package gitloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/compose"
	"github.com/gitloop-dev/git-loop/gitloop/state"
	"github.com/gitloop-dev/git-loop/gitloop/transcript"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/sandbox"
)

// AgentKind is the family of an agent setting: the two agents git loop
// knows by name, or any other command.
type AgentKind string

const (
	AgentClaude  AgentKind = "claude"  // Claude Code: CLAUDE_CONFIG_DIR = the agent dir
	AgentCodex   AgentKind = "codex"   // OpenAI Codex CLI: CODEX_HOME = the agent dir
	AgentCommand AgentKind = "command" // anything else: env vars name the paths
)

// AgentMode is how an agent is started.
type AgentMode int

const (
	// AgentInteractive starts a new interactive session.
	AgentInteractive AgentMode = iota
	// AgentResume continues the agent's last session interactively.
	AgentResume
	// AgentHeadless runs one turn with a prompt and exits.
	AgentHeadless
)

func (m AgentMode) String() string {
	switch m {
	case AgentResume:
		return "resume"
	case AgentHeadless:
		return "headless"
	default:
		return "interactive"
	}
}

// Agent is a parsed agent setting ("claude", "codex --model o3",
// "my-agent --flag 'two words'").
type Agent struct {
	Setting string    // as configured
	Kind    AgentKind // claude and codex are known by the program's base name
	Argv    []string  // the setting split into words: the program, then its own arguments
}

// ParseAgent splits an agent setting into words with shell-like quoting
// (no shell runs it) and finds its kind: a program named claude or codex
// (by base name, so "/opt/bin/claude --model opus" is Claude Code) or
// any other command.
func ParseAgent(setting string) (Agent, error) {
	argv, err := splitCommandLine(setting)
	if err != nil {
		return Agent{}, &workspace.UsageError{Err: fmt.Errorf("agent %q: %w", setting, err)}
	}
	if len(argv) == 0 {
		return Agent{}, &workspace.UsageError{Err: errors.New(`no agent configured; choose one with "git loop config set agent claude|codex|CMD"`)}
	}
	a := Agent{Setting: setting, Argv: argv, Kind: AgentCommand}
	switch filepath.Base(argv[0]) {
	case "claude":
		a.Kind = AgentClaude
	case "codex":
		a.Kind = AgentCodex
	}
	return a, nil
}

// Command is the agent's argv for a mode; prompt is used by
// AgentHeadless only. The prompt is the last argument for every kind
// (after "--" for claude and codex when it starts with a dash, so it is
// never read as an option). Nothing but the setting's words and the prompt
// is ever put in argv: secrets travel in the environment.
func (a Agent) Command(mode AgentMode, prompt string) []string {
	prog, extra := a.Argv[0], a.Argv[1:]
	cmd := []string{prog}
	endOpts := func() {
		if strings.HasPrefix(prompt, "-") {
			cmd = append(cmd, "--")
		}
	}
	switch a.Kind {
	case AgentClaude:
		cmd = append(cmd, extra...)
		switch mode {
		case AgentResume:
			cmd = append(cmd, "--continue")
		case AgentHeadless:
			cmd = append(cmd, "-p", "--output-format", "stream-json", "--verbose")
			endOpts()
			cmd = append(cmd, prompt)
		}
	case AgentCodex:
		switch mode {
		case AgentResume:
			cmd = append(cmd, "resume", "--last")
			cmd = append(cmd, extra...)
		case AgentHeadless:
			cmd = append(cmd, "exec")
			cmd = append(cmd, extra...)
			endOpts()
			cmd = append(cmd, prompt)
		default:
			cmd = append(cmd, extra...)
		}
	default:
		cmd = append(cmd, extra...)
		if mode == AgentHeadless {
			cmd = append(cmd, prompt)
		}
	}
	return cmd
}

// AgentPaths are the paths an agent is told about.
type AgentPaths struct {
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
func (a Agent) Env(p AgentPaths) map[string]string {
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
	case AgentClaude:
		env["CLAUDE_CONFIG_DIR"] = p.AgentDir
	case AgentCodex:
		env["CODEX_HOME"] = p.AgentDir
	}
	return env
}

// Install says how to get the agent, for error messages.
func (a Agent) Install() string {
	switch a.Kind {
	case AgentClaude:
		return `install it with "npm install -g @anthropic-ai/claude-code"`
	case AgentCodex:
		return `install it with "npm install -g @openai/codex"`
	}
	return "install it"
}

// AgentMissingError is an agent whose program cannot be found. Only the
// commands that must run the agent (attach, run, new -m) report it.
type AgentMissingError struct {
	Loop  string
	Agent Agent
	Err   error
}

func (e *AgentMissingError) Error() string {
	where := " on PATH"
	if strings.ContainsRune(e.Agent.Argv[0], '/') {
		where = ""
	}
	return fmt.Sprintf("agent %q of loop %s is not installed (%s not found%s): %s, or choose another with \"git loop config set agent CMD\" (new loops) or --agent CMD (this loop)",
		e.Agent.Setting, e.Loop, e.Agent.Argv[0], where, e.Agent.Install())
}

func (e *AgentMissingError) Unwrap() error { return e.Err }

// AgentBusyError is a second agent session or run on a loop while one is
// going.
type AgentBusyError struct {
	Loop   string
	Holder string // what holds it: "run, pid 123, since 10:04:05"
}

func (e *AgentBusyError) Error() string {
	h := ""
	if e.Holder != "" {
		h = " (" + e.Holder + ")"
	}
	return fmt.Sprintf("loop %s already has an agent running%s; wait for it to end, or use \"git loop shell %s\" meanwhile", e.Loop, h, e.Loop)
}

// agentSetting is the loop's agent: what new recorded, or the current
// setting for loops recorded without one.
func (s *Service) agentSetting(m *state.Meta) string {
	if m.Agent != "" {
		return m.Agent
	}
	if s.Config != nil {
		return s.Config.Agent()
	}
	return ""
}

// LoopAgent is the loop's parsed agent; override, when set, replaces the
// recorded one.
func (s *Service) LoopAgent(m *state.Meta, override string) (Agent, error) {
	if override != "" {
		return ParseAgent(override)
	}
	return ParseAgent(s.agentSetting(m))
}

// AgentPaths are the paths the loop's agent is told about: its context
// worktrees and the personal checkout when they exist.
func (s *Service) AgentPaths(m *state.Meta) AgentPaths {
	p := AgentPaths{Name: m.Name, Workdir: m.Worktree, AgentDir: s.AgentDir(m.Name)}
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

// agentBinary is an agent program found on the host.
type agentBinary struct {
	Path string // as found on PATH (or relative to the worktree)
	Real string // Path with symlinks resolved: what runs in a sandbox
	Root string // what to mount for it: Real, or its npm package dir
	// InWorktree: the program lives in the loop's worktree, which every
	// sandbox has already.
	InWorktree bool
}

// findAgent looks the agent's program up on the host: on PATH, or, for a
// relative path with a slash ("./bin/agent"), in the loop's worktree.
func findAgent(prog, worktree string) (agentBinary, error) {
	if !filepath.IsAbs(prog) && strings.ContainsRune(prog, '/') {
		p := filepath.Join(worktree, prog)
		fi, err := os.Stat(p)
		if err != nil {
			return agentBinary{}, err
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return agentBinary{}, fmt.Errorf("%s is not executable", p)
		}
		return agentBinary{Path: p, Real: p, Root: p, InWorktree: true}, nil
	}
	p, err := exec.LookPath(prog)
	if err != nil {
		return agentBinary{}, err
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return agentBinary{}, err
	}
	return agentBinary{Path: p, Real: real, Root: packageRoot(real)}, nil
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
func (b agentBinary) mounts(driver string) []sandbox.Mount {
	if b.InWorktree || b.Root == "" {
		return nil
	}
	switch driver {
	case "none", "":
		return nil
	case "bwrap":
		for _, d := range hostSystemDirs {
			if pathUnder(b.Root, d) {
				return nil
			}
		}
	}
	return []sandbox.Mount{{Source: b.Root, Target: b.Root, ReadOnly: true}}
}

// agentMounts are the read-only mounts that show the loop's agent program
// inside its sandbox, at its host path (DESIGN.md §5). A missing agent
// mounts nothing: only commands that run it complain.
func (s *Service) agentMounts(m *state.Meta) []sandbox.Mount {
	if m.Sandbox.Driver == "none" || m.Sandbox.Driver == "" {
		return nil // the host itself: no lookup on the path of every command
	}
	a, err := ParseAgent(s.agentSetting(m))
	if err != nil {
		return nil
	}
	b, err := findAgent(a.Argv[0], m.Worktree)
	if err != nil {
		return nil
	}
	return b.mounts(m.Sandbox.Driver)
}

// dockerAgentScript runs the image's own copy of the agent when it has
// one, else the host's, mounted at its host path: sh -c SCRIPT NAME
// HOSTPATH ARGS...
const dockerAgentScript = `a=$0 h=$1; shift; if command -v "$a" >/dev/null 2>&1; then exec "$a" "$@"; fi; if [ -n "$h" ]; then exec "$h" "$@"; fi; echo "git loop: agent $a is not installed in this sandbox" >&2; exit 127`

// sandboxCommand turns the agent's argv into what the driver runs: the
// program's host path on the host (none), its resolved path (bwrap,
// where symlinks outside the mounts would dangle), or the image's copy
// with the host's as the fallback (docker).
func sandboxCommand(driver string, argv []string, b agentBinary) []string {
	switch driver {
	case "docker":
		return append([]string{"/bin/sh", "-c", dockerAgentScript, filepath.Base(argv[0]), b.Real}, argv[1:]...)
	case "bwrap":
		return append([]string{b.Real}, argv[1:]...)
	default:
		return append([]string{b.Path}, argv[1:]...)
	}
}

// AgentInvocation is one agent process as it will be run.
type AgentInvocation struct {
	Agent Agent
	Mode  AgentMode
	// Argv is the agent's own command line (what "ps" in the sandbox
	// shows, modulo the driver's wrapping in Cmd).
	Argv []string
	// Cmd is what the sandbox driver runs.
	Cmd []string
	// Env is the per-exec environment the agent gets.
	Env map[string]string
	// Mounts show the agent program inside the sandbox.
	Mounts []sandbox.Mount

	meta   *state.Meta
	binary agentBinary
}

// PrepareAgent resolves the loop's agent (override replaces the recorded
// one) for a mode, finding its program on the host. A missing program is an
// *AgentMissingError, except on docker, where the image may have it.
func (s *Service) PrepareAgent(m *state.Meta, override string, mode AgentMode, prompt string) (*AgentInvocation, error) {
	a, err := s.LoopAgent(m, override)
	if err != nil {
		return nil, err
	}
	b, err := findAgent(a.Argv[0], m.Worktree)
	if err != nil {
		if m.Sandbox.Driver != "docker" {
			return nil, &AgentMissingError{Loop: m.Name, Agent: a, Err: err}
		}
		b = agentBinary{} // the image's copy or nothing
	}
	if mode == AgentResume && !s.hasAgentSession(m, a) {
		mode = AgentInteractive
	}
	argv := a.Command(mode, prompt)
	if mcp := filepath.Join(s.AgentDir(m.Name), compose.MCPConfigFile); a.Kind == AgentClaude && workspace.Exists(mcp) {
		// Claude Code reads MCP servers from --mcp-config, not from the
		// settings.json in its config dir: pass the composed ones.
		argv = append([]string{argv[0], "--mcp-config", mcp}, argv[1:]...)
	}
	inv := &AgentInvocation{
		Agent:  a,
		Mode:   mode,
		Argv:   argv,
		Cmd:    sandboxCommand(m.Sandbox.Driver, argv, b),
		Env:    a.Env(s.AgentPaths(m)),
		Mounts: b.mounts(m.Sandbox.Driver),
		meta:   m,
		binary: b,
	}
	return inv, nil
}

// hasAgentSession reports whether the agent left a session it can
// continue in the loop's agent dir: Claude's projects/<escaped
// workdir>/<session>.jsonl, Codex's sessions/**/*.jsonl.
func (s *Service) hasAgentSession(m *state.Meta, a Agent) bool {
	dir := s.AgentDir(m.Name)
	switch a.Kind {
	case AgentClaude:
		for _, p := range claudeProjectDirs(dir, m.Worktree) {
			if files, _ := filepath.Glob(filepath.Join(p, "*.jsonl")); len(files) > 0 {
				return true
			}
		}
	case AgentCodex:
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

// AttachOptions are the inputs of Service.Attach.
type AttachOptions struct {
	// Agent replaces the loop's recorded agent for this session.
	Agent string
	// New starts a new session even when the agent has one to continue.
	New    bool
	TTY    bool
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// RawTerminal: as in ExecOptions.
	RawTerminal func() (restore func(), sizes <-chan sandbox.TermSize)
	// Env is added to the agent's environment (secrets go here, never
	// into argv).
	Env map[string]string
}

// Attach runs the loop's agent interactively in its sandbox, continuing
// the agent's last session when it has one (claude --continue, codex
// resume --last), and returns the agent's exit code. A missing agent is
// an *AgentMissingError; the caller decides what to open instead.
func (s *Service) Attach(ctx context.Context, name string, opts AttachOptions) (int, error) {
	m, err := s.Get(name)
	if err != nil {
		return 0, err
	}
	mode := AgentResume
	if opts.New {
		mode = AgentInteractive
	}
	inv, err := s.PrepareAgent(m, opts.Agent, mode, "")
	if err != nil {
		return 0, err
	}
	release, err := s.holdAgent(m.Name, "attach")
	if err != nil {
		return 0, err
	}
	defer release()
	return s.execAgent(ctx, inv, opts.Env, sandbox.Exec{
		TTY: opts.TTY, Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
	}, opts.RawTerminal)
}

// RunOptions are the inputs of Service.RunWith.
type RunOptions struct {
	Name   string
	Prompt string
	// Agent replaces the loop's recorded agent for this run.
	Agent  string
	Stdout io.Writer
	Stderr io.Writer // nil: Stdout
	// Env is added to the agent's environment (secrets go here, never
	// into argv).
	Env map[string]string
}

// RunResult is the outcome of a headless run.
type RunResult struct {
	LogPath  string `json:"log"`
	ExitCode int    `json:"exitCode"`
}

// Run runs one headless agent turn with prompt in the loop's sandbox,
// streaming the agent's output (stdout and stderr) to stdout and saving it
// under LogDir(name). See RunWith.
func (s *Service) Run(ctx context.Context, name, prompt string, stdout io.Writer) (RunResult, error) {
	return s.RunWith(ctx, RunOptions{Name: name, Prompt: prompt, Stdout: stdout})
}

// RunWith runs one headless agent turn. Its output streams to the
// caller and into LogDir/<time>-run.log (0600), headed by the time, loop,
// agent and prompt and ended by the exit code. One agent runs in a loop at
// a time: a second is an *AgentBusyError. The agent's exit code is in the
// result; the error is for what kept it from running.
func (s *Service) RunWith(ctx context.Context, opts RunOptions) (RunResult, error) {
	if strings.TrimSpace(opts.Prompt) == "" {
		return RunResult{}, &workspace.UsageError{Err: errors.New("run needs a PROMPT")}
	}
	m, err := s.Get(opts.Name)
	if err != nil {
		return RunResult{}, err
	}
	inv, err := s.PrepareAgent(m, opts.Agent, AgentHeadless, opts.Prompt)
	if err != nil {
		return RunResult{}, err
	}
	// A vault that cannot be delivered stops the run before its log.
	if err := s.checkVault(ctx, m.Vault); err != nil {
		return RunResult{}, fmt.Errorf("run in %s: %w", m.Name, err)
	}
	release, err := s.holdAgent(m.Name, "run")
	if err != nil {
		return RunResult{}, err
	}
	defer release()

	start := s.Clock()
	f, err := s.createRunLog(m.Name, start)
	if err != nil {
		return RunResult{}, err
	}
	defer f.Close()
	res := RunResult{LogPath: f.Name()}
	lw := &logWriter{f: f, last: '\n'}
	if err := writeRunHeader(lw, start, m, inv); err != nil {
		return res, fmt.Errorf("run %s: write log: %w", m.Name, err)
	}
	stdout, stderr := writerOrDiscard(opts.Stdout), opts.Stderr
	if stderr == nil {
		stderr = stdout
	}
	// The log first, and the caller's writers never failing the copy: a
	// closed pipe (git loop run … | head) must not cut the log short.
	code, err := s.execAgent(ctx, inv, opts.Env, sandbox.Exec{
		Stdout: io.MultiWriter(lw, &bestEffortWriter{w: stdout}),
		Stderr: io.MultiWriter(lw, &bestEffortWriter{w: stderr}),
	}, nil)
	res.ExitCode = code
	trailer := fmt.Sprintf("exit %d after %s", code, s.Clock().Sub(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		trailer = "interrupted after " + s.Clock().Sub(start).Round(time.Millisecond).String()
	} else if err != nil {
		trailer = fmt.Sprintf("exit %d after %s: %v", code, s.Clock().Sub(start).Round(time.Millisecond), err)
	}
	lw.trailer(trailer)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("run %s: write log: %w", m.Name, cerr)
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("run in %s: %w", m.Name, ctx.Err())
	}
	if err != nil {
		var missing *AgentMissingError
		if !errors.As(err, &missing) {
			err = fmt.Errorf("run in %s: %w", m.Name, err)
		}
		return res, err
	}
	return res, nil
}

// bestEffortWriter passes writes on until one fails, then drops the rest
// quietly.
type bestEffortWriter struct {
	w    io.Writer
	dead bool
}

func (b *bestEffortWriter) Write(p []byte) (int, error) {
	if !b.dead {
		if _, err := b.w.Write(p); err != nil {
			b.dead = true
		}
	}
	return len(p), nil
}

func writerOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// execAgent runs a prepared agent in the loop's sandbox.
func (s *Service) execAgent(ctx context.Context, inv *AgentInvocation, extra map[string]string, x sandbox.Exec, raw func() (func(), <-chan sandbox.TermSize)) (int, error) {
	m := inv.meta
	if !workspace.Exists(m.Worktree) {
		return 0, fmt.Errorf("loop %s: worktree %s is gone (run \"git loop prune\")", m.Name, m.Worktree)
	}
	if err := os.MkdirAll(s.AgentDir(m.Name), 0o700); err != nil {
		return 0, fmt.Errorf("loop %s: %w", m.Name, err)
	}
	eng, err := s.OpenEngine(ctx, m.Sandbox.Driver)
	if err != nil {
		return 0, fmt.Errorf("loop %s: %w", m.Name, err)
	}
	spec, err := s.runSpec(ctx, m)
	if err != nil {
		return 0, err
	}
	if eng.Name() != "docker" {
		// Namespaces are made per exec: the program can be shown for this
		// exec alone. (A container's mounts are fixed when it is made, so
		// docker takes them from Spec, or the config hash would flap.)
		spec.Mounts = addMounts(spec.Mounts, inv.Mounts)
	}
	x.Cmd = inv.Cmd
	x.Env = map[string]string{}
	for k, v := range extra {
		x.Env[k] = v
	}
	for k, v := range inv.Env {
		if _, set := spec.Env[k]; set && strings.HasPrefix(k, "GIT_LOOP_") {
			continue // the loop's own value, as every exec sees it
		}
		x.Env[k] = v
	}
	if to, ok := eng.(sandbox.TerminalOwner); ok && x.TTY && to.AllocatesTTY() && raw != nil {
		restore, sizes := raw()
		defer restore()
		x.Resize = sizes
	}
	code, err := eng.Exec(ctx, spec, x)
	if err != nil {
		return code, err
	}
	if code == 127 && inv.binary.Path == "" {
		// docker without a host copy, and the image had none either.
		return code, &AgentMissingError{Loop: m.Name, Agent: inv.Agent, Err: exec.ErrNotFound}
	}
	return code, nil
}

// addMounts appends the mounts whose target is not mounted yet.
func addMounts(ms, add []sandbox.Mount) []sandbox.Mount {
	for _, a := range add {
		found := false
		for _, m := range ms {
			found = found || filepath.Clean(m.Target) == filepath.Clean(a.Target)
		}
		if !found {
			ms = append(ms, a)
		}
	}
	return ms
}

// holdAgent takes the loop's agent lock (LogDir/agent.lock, flock(2), so
// a killed holder never leaves it stale) and records who holds it.
func (s *Service) holdAgent(name, what string) (release func(), err error) {
	dir := s.LogDir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("loop %s: %w", name, err)
	}
	path := filepath.Join(dir, "agent.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("loop %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder, _ := os.ReadFile(path)
			return nil, &AgentBusyError{Loop: name, Holder: strings.TrimSpace(string(holder))}
		}
		return nil, fmt.Errorf("loop %s: lock %s: %w", name, path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("%s, pid %d, since %s\n", what, os.Getpid(), s.Clock().Format("15:04:05"))), 0)
	return func() {
		_ = f.Truncate(0)
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// createRunLog makes a new, private run log named after the time.
func (s *Service) createRunLog(name string, t time.Time) (*os.File, error) {
	dir := s.LogDir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	stamp := t.UTC().Format("20060102T150405.000Z")
	for i := 1; ; i++ {
		base := stamp
		if i > 1 {
			base += "-" + strconv.Itoa(i)
		}
		f, err := os.OpenFile(filepath.Join(dir, base+transcript.RunLogSuffix), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return nil, fmt.Errorf("run %s: create log: %w", name, err)
		}
	}
}

func writeRunHeader(w io.Writer, t time.Time, m *state.Meta, inv *AgentInvocation) error {
	var b strings.Builder
	b.WriteString(transcript.RunLogMagic + "\n")
	fmt.Fprintf(&b, "time: %s\n", t.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(&b, "loop: %s\n", m.Name)
	fmt.Fprintf(&b, "agent: %s\n", singleLine(inv.Agent.Setting))
	fmt.Fprintf(&b, "driver: %s\n", m.Sandbox.Driver)
	prompt := strings.ReplaceAll(inv.promptOf(), "\r\n", "\n")
	b.WriteString("prompt: " + strings.ReplaceAll(prompt, "\n", "\n  ") + "\n\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func singleLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func (inv *AgentInvocation) promptOf() string {
	if inv.Mode != AgentHeadless || len(inv.Argv) == 0 {
		return ""
	}
	return inv.Argv[len(inv.Argv)-1]
}

// logWriter serialises writes from the agent's stdout and stderr into the
// run log and remembers the last byte, so the trailer starts a line.
type logWriter struct {
	mu   sync.Mutex
	f    *os.File
	last byte
	err  error
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) == 0 || w.err != nil {
		// A log that cannot be written must not stop the agent's output.
		return len(p), nil
	}
	if _, err := w.f.Write(p); err != nil {
		w.err = err
	}
	w.last = p[len(p)-1]
	return len(p), nil
}

func (w *logWriter) trailer(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	nl := ""
	if w.last != '\n' {
		nl = "\n"
	}
	_, _ = fmt.Fprintf(w.f, "%s%s%s\n", nl, transcript.RunLogTrailer, msg)
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
