// Package compose merges agent configuration tiers (doctrine → team →
// profiles → personal) into one loop's agent dir, and records which tier
// every file and setting came from (docs/context.md, "Composition").
//
// It is a pure library: it reads tier dirs and writes the agent dir, and
// never runs git, prompts, or resolves secrets.
package compose

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Format is the layout the agent dir is written in: what the agent reads.
type Format string

const (
	// Claude writes the .claude layout (CLAUDE.md, settings.json, skills/,
	// agents/, …), used as CLAUDE_CONFIG_DIR.
	Claude Format = "claude"
	// Codex writes AGENTS.md, config.toml with [mcp_servers] and skills/,
	// used as CODEX_HOME.
	Codex Format = "codex"
	// Generic writes AGENTS.md with the skills and agents files, for any
	// other command.
	Generic Format = "generic"
)

// Injected is the provenance of settings git loop adds itself.
const Injected = "git loop (injected)"

// ProvenanceFile is written at the root of every composed agent dir so
// that "git loop compose --print" can show the frozen snapshot's origins
// long after the tiers have moved on.
const ProvenanceFile = "git-loop-compose.json"

// MCPConfigFile is written in the Claude layout when the tiers define MCP
// servers: {"mcpServers": …} as merged, for "claude --mcp-config".
const MCPConfigFile = "mcp.json"

// Tier is one .claude-format config dir.
type Tier struct {
	// Name is shown in provenance: "doctrine", "team", "profile:NAME",
	// "personal". Names must be unique within one composition.
	Name string
	// Dir is the tier dir on disk. A Dir that does not exist is an empty
	// tier. When FS is set, Dir is only a label for messages.
	Dir string
	// FS, when set, is read instead of Dir (an embedded tier).
	FS fs.FS
	// Within, when set, is a dir Dir must lie in, whose content a sandbox
	// writes (a loop's own knowledge clone): the tier is opened through an
	// os.Root on Within, so a link on the way to Dir, or Dir itself as a
	// link, cannot make the host read a dir outside it into the agent dir.
	Within string
	// Template, when set, is this tier's CLAUDE.md as a text/template
	// rendered with Options.Data; it replaces any CLAUDE.md in the tier.
	// The doctrine is given this way because it names the loop's paths.
	Template string
}

// Data is what the doctrine template can refer to: {{.Workdir}} and so on.
type Data struct {
	Loop      string // loop name
	Branch    string // loop/<name>
	Base      string // base ref the loop started from
	Workdir   string
	Knowledge string // the loop's knowledge worktree
	Notes     string // the loop's notes worktree
	Personal  string // the personal repo checkout
	Memory    string // personal memory/ dir
	AgentDir  string // the composed agent dir (the target)
}

// Options is one composition.
type Options struct {
	Tiers  []Tier // weakest first
	Format Format // "" means Claude
	Data   Data
	// MemoryDir is injected as the agent's auto-memory dir unless a tier
	// sets one. Empty means Data.Memory.
	MemoryDir string
	// Target is the agent dir. It must not exist or be an empty dir.
	Target string
}

// Origin says where a value came from.
type Origin struct {
	// Tiers are the tiers whose content is in the result, weakest first:
	// one for a copied file or a replaced value, several for a
	// concatenated CLAUDE.md or a merged object.
	Tiers []string `json:"tiers"`
	// Overrides are the tiers whose value at the same place was replaced
	// whole.
	Overrides []string `json:"overrides,omitempty"`
}

// Tier is the strongest contributing tier.
func (o Origin) Tier() string {
	if len(o.Tiers) == 0 {
		return ""
	}
	return o.Tiers[len(o.Tiers)-1]
}

// Key is the origin of one key of a merged file: a top-level key, or a
// key one level down ("mcpServers.github", with Parent "mcpServers").
type Key struct {
	Key    string `json:"key"`
	Parent string `json:"parent,omitempty"`
	Origin
}

// File is one file of the agent dir.
type File struct {
	Path string `json:"path"` // slash-separated, relative to the agent dir
	Origin
	// Sources are the files read, in tier order (several for CLAUDE.md).
	Sources []string `json:"sources,omitempty"`
	// Keys are set for merged settings.json, mise.toml and config.toml.
	Keys []Key `json:"keys,omitempty"`
	// Link is the target when the file is a symbolic link.
	Link string `json:"link,omitempty"`
	// Unit is the skill or agent ("skills/x", "agents/y.md") the file
	// belongs to, if any.
	Unit string `json:"unit,omitempty"`
}

// Key returns the provenance of key k ("permissions", "mcpServers.x").
func (f *File) Key(k string) (Key, bool) {
	for _, key := range f.Keys {
		if key.Key == k {
			return key, true
		}
	}
	return Key{}, false
}

// Unit is a skill dir or an agent file, shadowed whole by a later tier.
type Unit struct {
	Path   string `json:"path"` // "skills/<name>" or "agents/<name>.md"
	Kind   string `json:"kind"` // "skill" or "agent"
	Source string `json:"source"`
	Origin
}

// TierInfo is one input tier as it was found.
type TierInfo struct {
	Name    string `json:"name"`
	Dir     string `json:"dir,omitempty"`
	Present bool   `json:"present"`
}

// Result is what was composed and where each piece came from.
type Result struct {
	Format Format     `json:"format"`
	Dir    string     `json:"dir"`
	Tiers  []TierInfo `json:"tiers"`
	Files  []File     `json:"files"`
	Units  []Unit     `json:"units,omitempty"`
	// MCPConfig is the agent-dir-relative file to pass to
	// "claude --mcp-config", or "" when there are no MCP servers.
	MCPConfig string   `json:"mcpConfig,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// File returns the provenance of the file at path (slash-separated).
func (r *Result) File(path string) (*File, bool) {
	for i := range r.Files {
		if r.Files[i].Path == path {
			return &r.Files[i], true
		}
	}
	return nil, false
}

// Unit returns the provenance of a skill ("skills/x") or agent
// ("agents/y.md").
func (r *Result) Unit(path string) (*Unit, bool) {
	for i := range r.Units {
		if r.Units[i].Path == path {
			return &r.Units[i], true
		}
	}
	return nil, false
}

// ErrTargetNotEmpty is returned when the agent dir already has content:
// composing is done once, and a frozen agent dir is never rewritten.
var ErrTargetNotEmpty = errors.New("agent dir is not empty")

// Compose merges the tiers into opts.Target, atomically: the agent dir
// appears complete or not at all. It is made private (0700), since the
// agent later writes its transcripts there. Warnings in the Result are
// things the format could not carry (an SSE server for Codex, …).
func Compose(opts Options) (*Result, error) {
	target, err := checkTarget(opts.Target)
	if err != nil {
		return nil, err
	}
	opts.Target = target
	p, err := newPlan(opts)
	if err != nil {
		return nil, err
	}
	defer p.close()
	if err := p.write(target); err != nil {
		return nil, err
	}
	return p.res, nil
}

// Plan computes what Compose would write, and its provenance, without
// writing anything.
func Plan(opts Options) (*Result, error) {
	if opts.Target != "" {
		abs, err := filepath.Abs(opts.Target)
		if err != nil {
			return nil, err
		}
		opts.Target = abs
	}
	p, err := newPlan(opts)
	if err != nil {
		return nil, err
	}
	p.close()
	return p.res, nil
}

// Load reads the provenance recorded in a composed agent dir.
// The agent dir is the sandbox's to write, so the file is read as hostile
// data: through an os.Root on the dir above (no symlink leads out of it),
// not a symlink itself, a regular file, and small.
func Load(agentDir string) (*Result, error) {
	data, err := readProvenance(agentDir)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("compose: %s: %w", filepath.Join(agentDir, ProvenanceFile), err)
	}
	return &r, nil
}

func checkTarget(target string) (string, error) {
	if target == "" {
		return "", errors.New("compose: no target agent dir")
	}
	abs, err := filepath.Abs(target)
	if err != nil {
		return "", fmt.Errorf("compose: %w", err)
	}
	f, err := os.Open(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return abs, nil
	}
	if err != nil {
		return "", fmt.Errorf("compose: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return "", fmt.Errorf("compose: %s: %w", abs, ErrTargetNotEmpty)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("compose: %s: %w", abs, err)
	}
	return abs, nil
}

func validTierNames(tiers []Tier) error {
	seen := map[string]bool{}
	for _, t := range tiers {
		switch {
		case t.Name == "":
			return errors.New("compose: a tier has no name")
		case t.Name == Injected:
			return fmt.Errorf("compose: tier name %q is reserved", t.Name)
		case strings.ContainsAny(t.Name, "\n\r"):
			return fmt.Errorf("compose: tier name %q has a line break", t.Name)
		case seen[t.Name]:
			return fmt.Errorf("compose: tier %q is given twice", t.Name)
		}
		seen[t.Name] = true
	}
	return nil
}

// maxProvenance bounds the provenance file read back from an agent dir.
const maxProvenance = 16 << 20

func readProvenance(agentDir string) ([]byte, error) {
	root, err := os.OpenRoot(filepath.Dir(agentDir))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	rel := filepath.Join(filepath.Base(agentDir), ProvenanceFile)
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", filepath.Join(agentDir, ProvenanceFile))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxProvenance+1))
	if err == nil && len(data) > maxProvenance {
		err = fmt.Errorf("%s: larger than %d bytes", filepath.Join(agentDir, ProvenanceFile), maxProvenance)
	}
	return data, err
}
