// Package config resolves git loop's settings from every layer of
// docs/config.md, lowest precedence first:
//
//	default < knowledge .gitloop/config.toml < .gitloop.toml < personal config.toml
//	< user config.toml < git config loop.* < GIT_LOOP_* env < flags
//
// Each layer is a viper instance; a lookup walks them from the strongest
// down, so every value knows where it came from (config --show-origin).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/spf13/viper"
)

// Key describes one setting.
type Key struct {
	Name    string // canonical spelling, e.g. "sandbox.driver"
	Default string
	Help    string
	// Validate returns an error describing what is wrong with v (each
	// item, for a list).
	Validate func(v string) error
	// List keys take several values: a TOML array, or a multi-valued git
	// config variable (git config --add).
	List bool
}

// EnvName is the environment variable that sets k:
// sandbox.driver → GIT_LOOP_SANDBOX_DRIVER, branchPrefix → GIT_LOOP_BRANCH_PREFIX.
func (k Key) EnvName() string {
	var b strings.Builder
	b.WriteString("GIT_LOOP_")
	for i, r := range k.Name {
		switch {
		case r == '.' || r == '-':
			b.WriteByte('_')
		case r >= 'A' && r <= 'Z':
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteString(strings.ToUpper(string(r)))
		}
	}
	return b.String()
}

// GitName is the git config variable that sets k: loop.<name>.
func (k Key) GitName() string { return "loop." + k.Name }

var drivers = []string{"auto", "docker", "bwrap", "kubernetes", "none"}

// networks are sandbox.Networks (config stays a leaf; a test keeps the
// lists equal).
var networks = []string{"isolated", "none", "host"}

// placements are where loops' files may live (sandbox.placement).
var placements = []string{"auto", "local", "remote"}

// gates are the ways promote lands a layer (git-loop-promote(1)).
var gates = []string{"review", "direct"}

// Keys are every setting git loop knows, in the order they are listed.
var Keys = []Key{
	{Name: "branchPrefix", Default: "loop/", Help: "prefix of loop branches", Validate: validPrefix},
	{Name: "worktreeDir", Default: "", Help: "directory holding loop worktrees (default: $GIT_COMMON_DIR/loop/loops/NAME/workdir); relative to the main worktree", Validate: nil},
	{Name: "base", Default: "", Help: "ref new loops start from (default: the current branch)"},
	{Name: "agent", Default: "claude", Help: "agent a loop runs: claude, codex or any command", Validate: nonEmpty},
	{Name: "sandbox.driver", Default: "auto", Help: "sandbox driver: " + strings.Join(drivers, ", "), Validate: oneOf(drivers)},
	{Name: "sandbox.image", Default: "gitloop/sandbox:latest", Help: "sandbox image (docker driver)", Validate: nonEmpty},
	{Name: "sandbox.network", Default: "isolated", Help: `what sandboxes reach: "isolated" (outbound, not the host's loopback), "none" (loopback only) or "host" (all the host reaches; an explicit opt-in)`, Validate: oneOf(networks)},
	{Name: "sandbox.placement", Default: "auto", Help: `where loops' files live for the docker engine: "auto" (bind host paths only where the engine sees them: probed once per engine), "local" (the engine sees this host's files) or "remote" (never bind host paths)`, Validate: oneOf(placements)},
	{Name: "sandbox.pids", Default: "4096", Help: `most processes alive at once in a loop's sandbox (docker; bwrap through a cgroup, or RLIMIT_NPROC); "0" for the engine's default`, Validate: validCount},
	{Name: "sandbox.memory", Default: "", Help: `memory limit of a loop's sandbox (docker; bwrap through a cgroup): "4g", "512m"; empty: the engine's (none)`, Validate: validSize},
	{Name: "sandbox.cpus", Default: "", Help: `CPUs a loop's sandbox may use (docker; bwrap through a cgroup): "2", "1.5"; empty: the engine's (all)`, Validate: validCPUs},
	{Name: "sandbox.sealed", Default: "true", Help: `new docker and bwrap loops get a clone of their own that only the sandbox works in; commits come back through git's protocol. "false": they share the repository's git dir, as before (none always runs on the host, trusted)`, Validate: oneOf([]string{"true", "false"})},
	{Name: "sandbox.mise", Default: "", Help: `the host's mise binary, which installs a loop's toolchain (the composed mise.toml) in a sandbox; empty: "mise" on PATH`},
	{Name: "sandbox.kube.context", Default: "", Help: "kubeconfig context of the kubernetes driver (default: the kubeconfig's current-context, as kubectl)"},
	{Name: "sandbox.kube.namespace", Default: "", Help: "namespace of the kubernetes driver's pods and claims (default: the context's namespace, else default)"},
	{Name: "sandbox.kube.storageClass", Default: "", Help: "storage class of each loop's claim (kubernetes; default: the cluster's default class)"},
	{Name: "sandbox.kube.node", Default: "", Help: "node every loop's pod is placed on, for a cluster without a scheduler (kubernetes; default: the scheduler chooses)"},
	{Name: "sandbox.kube.agentSandbox", Default: "auto", Help: `"auto": new loops are agent-sandbox Sandbox objects where the cluster serves that CRD, else a Pod and a claim; "off": always a Pod and a claim (kubernetes; a loop keeps what it was made as)`, Validate: oneOf([]string{"auto", "off"})},
	{Name: "sandbox.kube.storage", Default: "10Gi", Help: `size each loop's claim requests (kubernetes): "10Gi"`, Validate: nonEmpty},
	{Name: "knowledge.url", Default: "", Help: "remote of the team knowledge repo (default: a local bare origin, solo mode)"},
	{Name: "notes.url", Default: "", Help: "remote of the team notes repo (default: a local bare origin, solo mode)"},
	{Name: "vault.default", Default: "", Help: "vault of your personal repo that vault commands and new loops use when --vault is not given", Validate: validVaultName},
	{Name: "personal.url", Default: "", Help: "remote of your personal repo (default: a local bare origin, solo mode)"},
	{Name: "code.gate", Default: "review", Help: `how promote lands code: "review" (a proposal: pull request or local branch) or "direct" (pushed to the base)`, Validate: oneOf(gates)},
	{Name: "knowledge.gate", Default: "review", Help: `how promote lands knowledge: "review" or "direct"`, Validate: oneOf(gates)},
	{Name: "notes.gate", Default: "direct", Help: `how promote lands notes: "review" or "direct"`, Validate: oneOf(gates)},
	{Name: "personal.gate", Default: "direct", Help: `how promote lands your personal repo: "review" or "direct"`, Validate: oneOf(gates)},
	{Name: "default_profiles", List: true, Help: "profiles every new loop gets (usually set in your personal config.toml)", Validate: nonEmpty},
	{Name: "setup", List: true, Help: "commands run once in a new loop's sandbox (sh -c), in order", Validate: nonEmpty},
	{Name: "hooks", Default: "true", Help: `git hooks in this repository and the context clones: "true" (init installs them, doctor keeps them current) or "false" (set by "hooks uninstall" and "init --no-hooks")`, Validate: validBool},
	{Name: "autostart", Default: "false", Help: `start the sandbox of a loop adopted from "git worktree add" (the post-checkout hook): "true" or "false"`, Validate: validBool},
	{Name: "ports", List: true, Help: `container ports published on 127.0.0.1: "3000" or "HOST:CONTAINER"`, Validate: validPort},
	{Name: "plainGit", Default: "false", Help: `run git's own commands where git loop takes a shortcut: "true", "false", or the shortcuts to turn off ("worktree", "status"; "discover" and "config" only through the environment, which is read before settings)`, Validate: validPlainGit},
}

// ParsePort reads "3000" (same port outside) or "8080:3000" (host 8080 to
// container 3000).
func ParsePort(v string) (host, ctr int, err error) {
	h, c, found := strings.Cut(strings.TrimSpace(v), ":")
	if !found {
		c = h
	}
	if host, err = strconv.Atoi(h); err == nil {
		ctr, err = strconv.Atoi(c)
	}
	if err != nil || host < 1 || host > 65535 || ctr < 1 || ctr > 65535 {
		return 0, 0, fmt.Errorf(`%q is not a port or "HOST:CONTAINER" pair of ports (1-65535)`, v)
	}
	return host, ctr, nil
}

func validCount(v string) error {
	if _, err := ParseCount(v); err != nil {
		return err
	}
	return nil
}

// ParseCount reads a count of processes: a whole number, 0 for none set.
func ParseCount(v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("must be a whole number (0: the engine's default)")
	}
	return n, nil
}

func validSize(v string) error {
	_, err := ParseSize(v)
	return err
}

// ParseSize reads a size in bytes with an optional binary unit (b, k, m,
// g, t, as docker --memory does); empty is 0, the engine's default.
func ParseSize(v string) (int64, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return 0, nil
	}
	mult := int64(1)
	units := "bkmgt"
	if i := strings.IndexByte(units, v[len(v)-1]); i >= 0 {
		mult = 1 << (10 * i)
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, errors.New(`must be a size such as "512m" or "4g"`)
	}
	return n * mult, nil
}

func validCPUs(v string) error {
	_, err := ParseCPUs(v)
	return err
}

// ParseCPUs reads a number of CPUs ("2", "1.5") as billionths of a CPU;
// empty is 0, the engine's default.
func ParseCPUs(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0.01 || f > 1<<20 {
		return 0, errors.New(`must be a number of CPUs such as "2" or "1.5"`)
	}
	return int64(f * 1e9), nil
}

// Compiled on first use: start-up of every command pays no regexp it does
// not need.
var vaultNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`) })

func validVaultName(v string) error {
	if v != "" && (!vaultNameRE().MatchString(v) || strings.Contains(v, "..")) {
		return errors.New("must be a vault name: letters, digits, '_', '.' and '-', starting with a letter or digit")
	}
	return nil
}

// VaultDefault is the vault used when none is named.
func (c *Config) VaultDefault() string { return c.Get("vault.default") }

func validPort(v string) error {
	_, _, err := ParsePort(v)
	return err
}

// Lookup finds the key whose name matches name case-insensitively, as git
// and viper both fold case.
func Lookup(name string) (Key, bool) {
	for _, k := range Keys {
		if strings.EqualFold(k.Name, name) {
			return k, true
		}
	}
	return Key{}, false
}

func nonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// validBool accepts what git config accepts for a boolean.
func validBool(v string) error {
	if _, ok := ParseBool(v); !ok {
		return errors.New(`must be "true" or "false"`)
	}
	return nil
}

// plainGitShortcuts are the names of git.AllShortcuts (config stays a
// leaf; a test keeps the lists equal).
var plainGitShortcuts = []string{"discover", "worktree", "config", "status"}

// validPlainGit accepts what git.ParsePlain does: a boolean, or shortcut
// names separated by commas.
func validPlainGit(v string) error {
	if _, ok := ParseBool(v); ok {
		return nil
	}
	if _, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return nil
	}
	for _, name := range strings.Split(v, ",") {
		if !slices.Contains(plainGitShortcuts, strings.ToLower(strings.TrimSpace(name))) {
			return fmt.Errorf(`must be "true", "false" or a list of %s`, strings.Join(plainGitShortcuts, ", "))
		}
	}
	return nil
}

// ParseBool reads a boolean as git config does (true/yes/on/1, false/no/off/0, empty).
func ParseBool(v string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1":
		return true, true
	case "false", "no", "off", "0", "":
		return false, true
	}
	return false, false
}

// Bool is a boolean setting (false when malformed: validation reports it).
func (c *Config) Bool(key string) bool {
	b, _ := ParseBool(c.Get(key))
	return b
}

func oneOf(allowed []string) func(string) error {
	return func(v string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
	}
}

// simplePrefix reports whether v is slash-separated components, each a
// letter or digit followed by letters, digits, '.', '_' or '-', with one
// optional trailing slash: ^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*/?$
// written out, since every command validates the prefix and a regexp
// would be compiled for it each time.
func simplePrefix(v string) bool {
	v = strings.TrimSuffix(v, "/")
	for comp := range strings.SplitSeq(v, "/") {
		if comp == "" || !isAlnum(comp[0]) {
			return false
		}
		for i := 1; i < len(comp); i++ {
			if c := comp[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validPrefix keeps branch prefixes to simple ref components; "loop/" and
// "agents/loop-" are fine, "../x" or "refs/" are not.
func validPrefix(v string) error {
	if !simplePrefix(v) || strings.Contains(v, "..") || strings.Contains(v, ".lock/") || strings.HasPrefix(v, "refs/") {
		return errors.New(`must be a simple branch prefix such as "loop/"`)
	}
	return nil
}

// Origin names where a value came from.
type Origin struct {
	Kind string // default, knowledge, repo, personal, user, git, env, flag
	Name string // file path, "git config (local): .git/config", variable or flag name
}

func (o Origin) String() string {
	if o.Name == "" {
		return o.Kind
	}
	return o.Kind + ":" + o.Name
}

// File is a TOML settings file of one layer.
type File struct {
	Kind string // knowledge, repo, personal, user
	Path string
	// Data, when not nil, is the file's content (a blob read from a
	// commit); Path then only names it.
	Data []byte
}

// GitEntry is one loop.* variable as git reports it.
type GitEntry struct {
	Scope string // system, global, local, worktree, command
	Where string // git's origin, e.g. "file:.git/config", "command line:"
	Key   string // as git prints it: lower-case section and key
	Value string
}

// Sources are the inputs of Load, weakest layer first within each kind.
type Sources struct {
	Files  []File     // in precedence order, weakest first; missing files are skipped
	Git    []GitEntry // git config --get-regexp order: later wins
	Env    func(string) (string, bool)
	Flags  map[string]string // key → value set by a command-line flag
	FlagOf map[string]string // key → flag name, for origins
}

type layer struct {
	origin func(key string) Origin
	v      *viper.Viper
}

// Config is the resolved settings.
type Config struct {
	layers   []layer // strongest first
	Warnings []string
	identity [2]string // git's user.name and user.email
}

// GitIdentity is the user's git identity (user.name, user.email), so
// commits made in a sandbox, whose $HOME is its own, carry it.
func (c *Config) GitIdentity() (name, email string) { return c.identity[0], c.identity[1] }

// Load reads every layer. A malformed file or a bad value is an error
// naming the file (and line) and the key.
func Load(src Sources) (*Config, error) {
	c := &Config{}
	// Build weakest first, then reverse.
	def := viper.New()
	for _, k := range Keys {
		if k.List {
			def.Set(k.Name, []any{})
			continue
		}
		def.Set(k.Name, k.Default)
	}
	layers := []layer{{origin: fixed(Origin{Kind: "default"}), v: def}}

	for _, f := range src.Files {
		v, err := readFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c.Warnings = append(c.Warnings, unknownKeys(v, f.Path)...)
		layers = append(layers, layer{origin: fixed(Origin{Kind: f.Kind, Name: f.Path}), v: v})
	}

	if len(src.Git) > 0 {
		v := viper.New()
		origins := map[string]Origin{}
		for _, e := range src.Git {
			switch strings.ToLower(e.Key) {
			case "user.name":
				c.identity[0] = e.Value
				continue
			case "user.email":
				c.identity[1] = e.Value
				continue
			}
			name := strings.TrimPrefix(strings.ToLower(e.Key), "loop.")
			k, ok := Lookup(name)
			if !ok {
				c.Warnings = append(c.Warnings, fmt.Sprintf("unknown setting %s in git config (%s); see \"git loop config --show-origin\"", e.Key, where(e)))
				continue
			}
			if k.List {
				// Multi-valued: the values of the strongest scope that
				// sets the key win, as one list.
				prev, _ := v.Get(k.Name).([]any)
				if o := origins[strings.ToLower(k.Name)]; o.Name != "" && !strings.HasPrefix(o.Name, e.Scope) {
					prev = nil
				}
				v.Set(k.Name, append(prev, e.Value))
			} else {
				v.Set(k.Name, e.Value)
			}
			origins[strings.ToLower(k.Name)] = Origin{Kind: "git", Name: where(e)}
		}
		layers = append(layers, layer{origin: func(key string) Origin { return origins[strings.ToLower(key)] }, v: v})
	}

	if src.Env != nil {
		// Sources.Env (os.LookupEnv in the binary) rather than viper's own
		// env binding, so in-process tests can run in parallel.
		envv := viper.New()
		for _, k := range Keys {
			if k.List {
				continue // lists come from files and git config only
			}
			if val, ok := src.Env(k.EnvName()); ok {
				envv.Set(k.Name, val)
			}
		}
		layers = append(layers, layer{origin: func(key string) Origin {
			k, _ := Lookup(key)
			return Origin{Kind: "env", Name: k.EnvName()}
		}, v: envv})
	}

	if len(src.Flags) > 0 {
		v := viper.New()
		for key, val := range src.Flags {
			v.Set(key, val)
		}
		layers = append(layers, layer{origin: func(key string) Origin {
			return Origin{Kind: "flag", Name: "--" + src.FlagOf[key]}
		}, v: v})
	}

	for i := len(layers) - 1; i >= 0; i-- {
		c.layers = append(c.layers, layers[i])
	}
	for _, k := range Keys {
		if k.List {
			vals, origin, err := c.resolveList(k.Name)
			if err != nil {
				return nil, err
			}
			for _, val := range vals {
				if err := k.Validate(val); err != nil {
					return nil, fmt.Errorf("setting %s item %q (from %s): %w", k.Name, val, origin, err)
				}
			}
			continue
		}
		val, origin, err := c.resolve(k.Name)
		if err != nil {
			return nil, err
		}
		if k.Validate != nil {
			if err := k.Validate(val); err != nil {
				return nil, fmt.Errorf("setting %s = %q (from %s): %w", k.Name, val, origin, err)
			}
		}
	}
	return c, nil
}

func fixed(o Origin) func(string) Origin { return func(string) Origin { return o } }

func where(e GitEntry) string {
	w := strings.TrimPrefix(e.Where, "file:")
	if e.Scope == "command" {
		return "git -c"
	}
	if w == "" {
		return e.Scope
	}
	return fmt.Sprintf("%s %s", e.Scope, w)
}

// readFile parses one TOML file with viper; parse errors carry file:line.
func readFile(f File) (*viper.Viper, error) {
	path, data := f.Path, f.Data
	if data == nil {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
			return nil, fmt.Errorf("read config %s: %w", path, err)
		}
	}
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("config %s:%d:%d: %s", path, row, col, de.Error())
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return v, nil
}

// unknownKeys warns about settings this version does not know: a typo, or
// a key from a newer git loop. Sections owned by other features (repos,
// layer URLs) are left to them.
func unknownKeys(v *viper.Viper, path string) []string {
	var out []string
	for _, key := range v.AllKeys() {
		if _, ok := Lookup(key); !ok && !reservedSection(key) {
			out = append(out, fmt.Sprintf("%s: unknown setting %q (ignored)", path, key))
		}
	}
	sort.Strings(out)
	return out
}

// reservedSection reports keys of tables that other features read
// directly (repos roster, vaults, profiles, per-layer gates).
func reservedSection(key string) bool {
	for _, p := range []string{"repos", "layers", "vault", "profiles", "knowledge", "notes", "personal"} {
		if key == p || strings.HasPrefix(key, p+".") {
			return true
		}
	}
	return false
}

// resolve returns the value of key from the strongest layer setting it.
func (c *Config) resolve(key string) (string, Origin, error) {
	for _, l := range c.layers {
		if !l.v.IsSet(key) {
			continue
		}
		raw := l.v.Get(key)
		switch val := raw.(type) {
		case string:
			return val, l.origin(key), nil
		case bool, int, int64, float64:
			return fmt.Sprint(val), l.origin(key), nil
		default:
			return "", l.origin(key), fmt.Errorf("setting %s (from %s) must be a single value, not %T", key, l.origin(key), raw)
		}
	}
	return "", Origin{}, fmt.Errorf("unknown setting %q", key)
}

// resolveList returns the list value of key from the strongest layer
// setting it; a single string counts as a one-item list.
func (c *Config) resolveList(key string) ([]string, Origin, error) {
	for _, l := range c.layers {
		if !l.v.IsSet(key) {
			continue
		}
		switch val := l.v.Get(key).(type) {
		case string:
			return []string{val}, l.origin(key), nil
		case []any:
			out := make([]string, 0, len(val))
			for _, item := range val {
				switch it := item.(type) {
				case string:
					out = append(out, it)
				case int64, int, float64:
					out = append(out, fmt.Sprint(it))
				default:
					return nil, l.origin(key), fmt.Errorf("setting %s (from %s) must be a list of strings", key, l.origin(key))
				}
			}
			return out, l.origin(key), nil
		case []string:
			return val, l.origin(key), nil
		default:
			return nil, l.origin(key), fmt.Errorf("setting %s (from %s) must be a list of strings, not %T", key, l.origin(key), val)
		}
	}
	return nil, Origin{Kind: "default"}, nil
}

// GetList returns the items of a list key.
func (c *Config) GetList(key string) []string {
	v, _, _ := c.resolveList(key)
	return v
}

// Get returns the value of a known key (panics on an unknown key: that is a
// programming error, not user input).
func (c *Config) Get(key string) string {
	if k, ok := Lookup(key); ok && k.List {
		return strings.Join(c.GetList(key), "; ")
	}
	v, _, err := c.resolve(key)
	if err != nil {
		panic(err)
	}
	return v
}

// Value is one resolved setting with its origin.
type Value struct {
	Key    string   `json:"key"`
	Value  string   `json:"value"`
	Origin string   `json:"origin"`
	List   []string `json:"list,omitempty"`
}

// All returns every known setting with its value and origin.
func (c *Config) All() []Value {
	out := make([]Value, 0, len(Keys))
	for _, k := range Keys {
		if k.List {
			v, o, _ := c.resolveList(k.Name)
			out = append(out, Value{Key: k.Name, Value: strings.Join(v, "; "), Origin: o.String(), List: v})
			continue
		}
		v, o, _ := c.resolve(k.Name)
		out = append(out, Value{Key: k.Name, Value: v, Origin: o.String()})
	}
	return out
}

// Origin returns where key's value came from.
func (c *Config) Origin(key string) Origin {
	if k, ok := Lookup(key); ok && k.List {
		_, o, _ := c.resolveList(key)
		return o
	}
	_, o, _ := c.resolve(key)
	return o
}

// Typed accessors.

func (c *Config) BranchPrefix() string  { return c.Get("branchPrefix") }
func (c *Config) WorktreeDir() string   { return c.Get("worktreeDir") }
func (c *Config) Base() string          { return c.Get("base") }
func (c *Config) Agent() string         { return c.Get("agent") }
func (c *Config) SandboxDriver() string { return c.Get("sandbox.driver") }
func (c *Config) SandboxImage() string  { return c.Get("sandbox.image") }

// SandboxSealed: new docker and bwrap loops get a sealed clone (the
// default; none is never sealed: it is the host, trusted).
func (c *Config) SandboxSealed() bool { return c.Get("sandbox.sealed") == "true" }
func (c *Config) Setup() []string     { return c.GetList("setup") }

// SandboxPlacement is where loops' files live relative to the engine.
func (c *Config) SandboxPlacement() string { return c.Get("sandbox.placement") }

// SandboxNetwork is the network policy of sandboxes.
func (c *Config) SandboxNetwork() string { return c.Get("sandbox.network") }

// SandboxLimits are the process limits of sandboxes: pids, memory in
// bytes, CPUs in billionths (0: the engine's default; validated at Load).
func (c *Config) SandboxLimits() (pids, memory, nanoCPUs int64) {
	pids, _ = ParseCount(c.Get("sandbox.pids"))
	memory, _ = ParseSize(c.Get("sandbox.memory"))
	nanoCPUs, _ = ParseCPUs(c.Get("sandbox.cpus"))
	return pids, memory, nanoCPUs
}

// Ports are the published ports.
func (c *Config) Ports() [][2]int {
	var out [][2]int
	for _, p := range c.GetList("ports") {
		h, ctr, _ := ParsePort(p) // validated at Load
		out = append(out, [2]int{h, ctr})
	}
	return out
}

// LayerURL is the configured remote of a context layer ("" in solo mode).
func (c *Config) LayerURL(layer string) string { return c.Get(layer + ".url") }

// RepoEntry is one repository of the roster: other code a loop may read.
type RepoEntry struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Repos is the roster ("repos = [{name = …, url = …}]", a TOML array of
// tables) from the strongest layer that has one.
func (c *Config) Repos() ([]RepoEntry, error) {
	for _, l := range c.layers {
		if !l.v.IsSet("repos") {
			continue
		}
		items, ok := l.v.Get("repos").([]any)
		if !ok {
			if m, isMaps := l.v.Get("repos").([]map[string]any); isMaps {
				for _, x := range m {
					items = append(items, x)
				}
			} else {
				return nil, fmt.Errorf("setting repos (from %s) must be a list of {name, url} tables", l.origin("repos"))
			}
		}
		var out []RepoEntry
		for _, it := range items {
			m, ok := it.(map[string]any)
			name, _ := m["name"].(string)
			url, _ := m["url"].(string)
			if !ok || name == "" || url == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
				return nil, fmt.Errorf("setting repos (from %s): every entry needs a plain name and a url", l.origin("repos"))
			}
			out = append(out, RepoEntry{Name: name, URL: url})
		}
		return out, nil
	}
	return nil, nil
}
