package compose

import (
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
func codexConfig(servers map[string]json.RawMessage) (body []byte, written, warn []string, err error) {
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
	if len(out) > 0 {
		body, err = toml.Marshal(map[string]any{"mcp_servers": out})
		if err != nil {
			return nil, nil, nil, err
		}
	}
	head := "# Composed by git loop from the tiers' settings.json mcpServers; see " + ProvenanceFile + ".\n"
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
