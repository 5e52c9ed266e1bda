package compose

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
)

// codexServer is one [mcp_servers.<name>] table of Codex's config.toml,
// with the fields Codex's RawMcpServerConfig accepts (codex-rs
// config/src/mcp_types.rs): a stdio server has command/args/env/env_vars,
// a streamable HTTP one url/bearer_token_env_var/http_headers/
// env_http_headers. Codex rejects a table mixing the two, so only one
// set is ever written.
type codexServer struct {
	Command           string            `toml:"command,omitempty"`
	Args              []string          `toml:"args,omitempty"`
	EnvVars           []string          `toml:"env_vars,omitempty"`
	URL               string            `toml:"url,omitempty"`
	BearerTokenEnvVar string            `toml:"bearer_token_env_var,omitempty"`
	Env               map[string]string `toml:"env,omitempty"`
	HTTPHeaders       map[string]string `toml:"http_headers,omitempty"`
	EnvHTTPHeaders    map[string]string `toml:"env_http_headers,omitempty"`
}

// claudeServer is an entry of Claude's mcpServers.
type claudeServer struct {
	Type    string            `json:"type"`
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

var (
	wholeRef  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`) })
	bearerRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^Bearer \$\{([A-Za-z_][A-Za-z0-9_]*)\}$`) })
)

// codexConfig converts the merged mcpServers to Codex's config.toml.
//
// Claude expands ${VAR} in server definitions when it starts them; Codex
// does not, but it can take a value from its own environment by name.
// So a reference that is a whole value becomes that name (env_vars,
// bearer_token_env_var, env_http_headers) and the secret still only
// exists in the vault and the exec's environment. Anything else is
// copied verbatim with a warning, never resolved here.
func codexConfig(servers map[string]json.RawMessage, settings []carried) (body []byte, written, warn []string, err error) {
	out := map[string]codexServer{}
	for _, name := range sortedKeys(servers) {
		var s claudeServer
		if err := json.Unmarshal(servers[name], &s); err != nil {
			warn = append(warn, fmt.Sprintf("mcpServers.%s is not a server definition Codex can use (%v); left out of config.toml", name, err))
			continue
		}
		var c codexServer
		switch {
		case s.Type == "sse":
			warn = append(warn, fmt.Sprintf("mcpServers.%s uses SSE, which Codex does not speak; left out of config.toml", name))
			continue
		case s.Command != "" && (s.Type == "" || s.Type == "stdio"):
			c.Command, c.Args = s.Command, s.Args
			for k, v := range s.Env {
				if m := wholeRef().FindStringSubmatch(v); m != nil && m[1] == k {
					c.EnvVars = append(c.EnvVars, k)
					continue
				}
				if c.Env == nil {
					c.Env = map[string]string{}
				}
				c.Env[k] = v
			}
			slices.Sort(c.EnvVars)
			if hasRef(s.Command) || slices.ContainsFunc(s.Args, hasRef) || mapHasRef(c.Env) {
				warn = append(warn, fmt.Sprintf("mcpServers.%s: Codex does not expand ${…} in command, args or env; copied verbatim", name))
			}
		case s.URL != "" && (s.Type == "" || s.Type == "http" || s.Type == "streamable-http"):
			c.URL = s.URL
			for h, v := range s.Headers {
				if m := bearerRef().FindStringSubmatch(v); m != nil && strings.EqualFold(h, "Authorization") {
					c.BearerTokenEnvVar = m[1]
					continue
				}
				if m := wholeRef().FindStringSubmatch(v); m != nil {
					if c.EnvHTTPHeaders == nil {
						c.EnvHTTPHeaders = map[string]string{}
					}
					c.EnvHTTPHeaders[h] = m[1]
					continue
				}
				if c.HTTPHeaders == nil {
					c.HTTPHeaders = map[string]string{}
				}
				c.HTTPHeaders[h] = v
			}
			if hasRef(s.URL) || mapHasRef(c.HTTPHeaders) {
				warn = append(warn, fmt.Sprintf("mcpServers.%s: Codex does not expand ${…} in url or headers; copied verbatim", name))
			}
		default:
			warn = append(warn, fmt.Sprintf("mcpServers.%s has no command or url Codex can use; left out of config.toml", name))
			continue
		}
		out[name] = c
		written = append(written, name)
	}
	top := map[string]any{}
	for _, c := range settings {
		top[c.key] = c.val
	}
	if len(out) > 0 {
		top["mcp_servers"] = out
	}
	if len(top) > 0 {
		body, err = toml.Marshal(top)
		if err != nil {
			return nil, nil, nil, err
		}
	}
	head := "# Composed by git loop from the tiers' settings.json; see " + ProvenanceFile + ".\n"
	if len(body) > 0 {
		head += "\n"
	}
	return append([]byte(head), body...), written, warn, nil
}

func hasRef(s string) bool { return strings.Contains(s, "${") }

func mapHasRef(m map[string]string) bool {
	for _, v := range m {
		if hasRef(v) {
			return true
		}
	}
	return false
}

// CodexKey is the settings.json key whose object holds Codex's own
// config.toml keys, for what no Claude setting says (model_reasoning_effort,
// a profile, …): written to config.toml over the mapped settings.
const CodexKey = "codex"

// codexModes maps Claude's permissions.defaultMode to Codex's approval
// policy and sandbox mode. Inside a loop git loop's sandbox is the
// boundary; these say how far Codex goes on its own inside it.
var codexModes = map[string][2]string{
	"default":           {"on-request", "workspace-write"},
	"acceptEdits":       {"on-request", "workspace-write"},
	"plan":              {"on-request", "read-only"},
	"dontAsk":           {"never", "workspace-write"},
	"bypassPermissions": {"never", "danger-full-access"},
}

// carried is one config.toml key and the settings it came from.
type carried struct {
	key    string
	val    any
	origin Origin
}

// codexSettings maps the merged settings.json to Codex's config.toml
// top-level keys: model, env (shell_environment_policy.set: what Codex's
// commands get), permissions.defaultMode (approval_policy, sandbox_mode),
// permissions.additionalDirectories (sandbox_workspace_write.writable_roots)
// and the codex object verbatim. Every other setting is named in a
// warning: Codex has nowhere to put it.
func codexSettings(keys map[string]*mkey[json.RawMessage]) (out []carried, warn []string) {
	for _, k := range sortedKeys(keys) {
		e := keys[k]
		from := " (from " + strings.Join(e.origin.Tiers, ", ") + ")"
		switch k {
		case "mcpServers", "autoMemoryEnabled", "autoMemoryDirectory":
			// Servers are converted apart; memory is Claude's own.
		case "model":
			var model string
			if json.Unmarshal(e.val, &model) != nil || model == "" {
				warn = append(warn, "settings.json model"+from+" is not a model name; not carried to config.toml")
				continue
			}
			out = append(out, carried{"model", model, e.origin})
		case "env":
			set := map[string]string{}
			for _, name := range sortedKeys(e.obj) {
				var v string
				if json.Unmarshal(e.obj[name], &v) != nil {
					warn = append(warn, "settings.json env."+name+from+" is not a string; not carried to config.toml")
					continue
				}
				set[name] = v
			}
			if len(set) > 0 {
				out = append(out, carried{"shell_environment_policy", map[string]any{"set": set}, e.origin})
			}
		case "permissions":
			for _, sk := range sortedKeys(e.obj) {
				o := *e.sub[sk]
				sfrom := " (from " + strings.Join(o.Tiers, ", ") + ")"
				switch sk {
				case "defaultMode":
					var mode string
					_ = json.Unmarshal(e.obj[sk], &mode)
					m, ok := codexModes[mode]
					if !ok {
						warn = append(warn, fmt.Sprintf("settings.json permissions.defaultMode %q%s has no Codex equivalent; not carried to config.toml", mode, sfrom))
						continue
					}
					out = append(out, carried{"approval_policy", m[0], o}, carried{"sandbox_mode", m[1], o})
				case "additionalDirectories":
					var dirs []string
					if json.Unmarshal(e.obj[sk], &dirs) != nil {
						warn = append(warn, "settings.json permissions.additionalDirectories"+sfrom+" is not a list of paths; not carried to config.toml")
						continue
					}
					out = append(out, carried{"sandbox_workspace_write", map[string]any{"writable_roots": dirs}, o})
				default:
					warn = append(warn, "settings.json permissions."+sk+sfrom+" is not carried to Codex's config.toml: Codex has no per-tool permission rules")
				}
			}
		case CodexKey:
			var own map[string]any
			d := json.NewDecoder(bytes.NewReader(e.val))
			d.UseNumber()
			if d.Decode(&own) != nil {
				warn = append(warn, "settings.json codex"+from+" is not an object of config.toml keys; not carried")
				continue
			}
			for _, ck := range sortedKeys(own) {
				if ck == "mcp_servers" {
					warn = append(warn, "settings.json codex.mcp_servers"+from+" is ignored: MCP servers come from mcpServers")
					continue
				}
				o := e.origin
				if sub := e.sub[ck]; sub != nil {
					o = *sub
				}
				out = append(out, carried{ck, tomlValue(own[ck]), o})
			}
		default:
			warn = append(warn, "settings.json "+k+from+" is not carried to Codex's config.toml")
		}
	}
	// The codex object comes last and wins over a mapped key.
	seen := map[string]int{}
	var dedup []carried
	for _, c := range out {
		if i, ok := seen[c.key]; ok {
			dedup[i] = c
			continue
		}
		seen[c.key] = len(dedup)
		dedup = append(dedup, c)
	}
	return dedup, warn
}

// tomlValue turns decoded JSON into values TOML encodes as written:
// integers stay integers.
func tomlValue(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = tomlValue(x)
		}
	case []any:
		for i, x := range v {
			v[i] = tomlValue(x)
		}
	}
	return v
}
