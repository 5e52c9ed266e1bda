// Package egress lets a loop's agent use the host's model login without
// ever holding it. A proxy on the host takes the agent's model API
// requests (the client points at it through its base-URL setting and
// carries a placeholder credential), puts the host's real credential on
// them and forwards them over TLS to the model API, and to nothing else.
// Inside the sandbox a relay (Relay) listens on the sandbox's loopback and
// carries each connection to the proxy's unix socket, the one door out.
//
// The package knows no repository and no loop: it reads the host's login
// (files and environment) and serves HTTP.
package egress

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Placeholder is the credential the client in the sandbox carries: it has
// the shape the client needs to believe it is logged in, and the proxy
// replaces it. It is not a secret.
const Placeholder = "git-loop-egress-placeholder"

// The clients a Login is for.
const (
	Claude = "claude"
	Codex  = "codex"
)

// Login is one client's login on the host: where it comes from, the API it
// is for, and how to put it on a request. Files are re-read when they
// change, so a refresh made by the host's own client reaches every loop.
type Login struct {
	Kind string
	// Source says where the credential is, for doctor and errors; never
	// the value.
	Source   string
	Upstream *url.URL
	// SandboxEnv is what the client in the sandbox gets: the placeholder
	// in the variable that makes it send the right kind of credential.
	SandboxEnv map[string]string
	// Paths are the request paths the proxy forwards (prefixes); anything
	// else is refused, so a stolen proxy reaches the model API only.
	Paths []string
	// Strip is the prefix of the client's paths that the upstream URL's
	// path already ends with (codex's "/v1").
	Strip string

	value   string // a credential from the environment
	file    string // a credential file the host's client keeps
	keyFile bool   // file is Claude's global config with a /login API key
	inject  func(h http.Header, c credential)

	mu      sync.Mutex
	modTime time.Time
	cached  credential
}

// credential is what is read from a source.
type credential struct {
	token   string
	account string    // ChatGPT account id (codex)
	expires time.Time // zero: no known expiry
}

// LookupEnv is os.LookupEnv's shape.
type LookupEnv func(string) (string, bool)

// ErrNotLoggedIn is wrapped when the host has no login for a client.
var ErrNotLoggedIn = errors.New("not logged in on the host")

// Find returns the host's login for kind (Claude or Codex), in the order
// the client itself prefers its sources, or an error wrapping
// ErrNotLoggedIn. home is the host user's home directory.
func Find(kind string, env LookupEnv, home string) (*Login, error) {
	get := func(k string) string {
		v, _ := env(k)
		return strings.TrimSpace(v)
	}
	switch kind {
	case Claude:
		return findClaude(get, home)
	case Codex:
		return findCodex(get, home)
	}
	return nil, fmt.Errorf("%s: %w (git loop proxies the logins of claude and codex only)", kind, ErrNotLoggedIn)
}

var claudePaths = []string{"/v1/messages", "/v1/models", "/api/hello"}

func findClaude(get func(string) string, home string) (*Login, error) {
	up, err := upstream(get("ANTHROPIC_BASE_URL"), "https://api.anthropic.com")
	if err != nil {
		return nil, fmt.Errorf("ANTHROPIC_BASE_URL: %w", err)
	}
	l := &Login{Kind: Claude, Upstream: up, Paths: claudePaths}
	apiKey := func(h http.Header, c credential) { h.Set("X-Api-Key", c.token) }
	bearer := func(h http.Header, c credential) { h.Set("Authorization", "Bearer "+c.token) }
	switch {
	case get("ANTHROPIC_API_KEY") != "":
		l.Source, l.value, l.inject = "ANTHROPIC_API_KEY in the environment", get("ANTHROPIC_API_KEY"), apiKey
		l.SandboxEnv = map[string]string{"ANTHROPIC_API_KEY": Placeholder}
	case get("ANTHROPIC_AUTH_TOKEN") != "":
		l.Source, l.value, l.inject = "ANTHROPIC_AUTH_TOKEN in the environment", get("ANTHROPIC_AUTH_TOKEN"), bearer
		l.SandboxEnv = map[string]string{"ANTHROPIC_AUTH_TOKEN": Placeholder}
	case get("CLAUDE_CODE_OAUTH_TOKEN") != "":
		// claude setup-token's long-lived token.
		l.Source, l.value, l.inject = "CLAUDE_CODE_OAUTH_TOKEN in the environment", get("CLAUDE_CODE_OAUTH_TOKEN"), bearer
		l.SandboxEnv = map[string]string{"CLAUDE_CODE_OAUTH_TOKEN": Placeholder}
	default:
		dir := get("CLAUDE_CONFIG_DIR")
		if dir == "" {
			dir = filepath.Join(home, ".claude")
		}
		l.file = filepath.Join(dir, ".credentials.json")
		_, oauthErr := readClaudeFile(l.file)
		if oauthErr == nil {
			l.Source, l.inject = l.file+" (OAuth)", bearer
			// The client then sends the OAuth headers (Bearer, the oauth
			// beta) the API expects with this token.
			l.SandboxEnv = map[string]string{"CLAUDE_CODE_OAUTH_TOKEN": Placeholder}
			return l, nil
		}
		// A Console account's /login keeps an API key in the global
		// config ("/login managed key").
		global := filepath.Join(home, ".claude.json")
		if get("CLAUDE_CONFIG_DIR") != "" {
			global = filepath.Join(dir, ".claude.json")
		}
		if _, err := readClaudeKey(global); err == nil {
			l.file, l.keyFile = global, true
			l.Source, l.inject = global+" (API key from /login)", apiKey
			l.SandboxEnv = map[string]string{"ANTHROPIC_API_KEY": Placeholder}
			return l, nil
		}
		return nil, fmt.Errorf("claude: %w: no ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or %s (%v); run \"claude\" on the host and /login, or \"claude setup-token\"", ErrNotLoggedIn, l.file, oauthErr)
	}
	return l, nil
}

func readClaudeKey(path string) (credential, error) {
	var f struct {
		Key string `json:"primaryApiKey"`
	}
	if err := readJSON(path, &f); err != nil {
		return credential{}, err
	}
	if f.Key == "" {
		return credential{}, fmt.Errorf("%s holds no API key", path)
	}
	return credential{token: f.Key}, nil
}

var codexPaths = []string{"/v1/responses", "/v1/models", "/v1/chat/completions"}

func findCodex(get func(string) string, home string) (*Login, error) {
	bearer := func(h http.Header, c credential) {
		h.Set("Authorization", "Bearer "+c.token)
		if c.account != "" {
			h.Set("ChatGPT-Account-Id", c.account)
		}
	}
	l := &Login{Kind: Codex, Paths: codexPaths, Strip: "/v1", inject: bearer,
		SandboxEnv: map[string]string{"OPENAI_API_KEY": Placeholder}}
	if key := get("OPENAI_API_KEY"); key != "" {
		up, err := upstream(get("OPENAI_BASE_URL"), "https://api.openai.com/v1")
		if err != nil {
			return nil, fmt.Errorf("OPENAI_BASE_URL: %w", err)
		}
		l.Source, l.value, l.Upstream = "OPENAI_API_KEY in the environment", key, up
		return l, nil
	}
	dir := get("CODEX_HOME")
	if dir == "" {
		dir = filepath.Join(home, ".codex")
	}
	l.file = filepath.Join(dir, "auth.json")
	_, chatgpt, err := readCodexFile(l.file)
	if err != nil {
		return nil, fmt.Errorf("codex: %w: no OPENAI_API_KEY or %s (%v); run \"codex login\" on the host", ErrNotLoggedIn, l.file, err)
	}
	if chatgpt {
		// A ChatGPT login talks to ChatGPT's Codex backend; the client
		// in the sandbox speaks the API-key dialect to the proxy, which
		// sends it there.
		l.Source = l.file + " (ChatGPT login)"
		// Where the host's own client sends it: chatgpt_base_url in its
		// config.toml, as Codex reads it, then "codex" under it.
		base := chatgptBaseURL(filepath.Join(dir, "config.toml"))
		if l.Upstream, err = upstream(strings.TrimRight(base, "/")+"/codex", ""); err != nil {
			return nil, fmt.Errorf("chatgpt_base_url in %s: %w", filepath.Join(dir, "config.toml"), err)
		}
	} else {
		l.Source = l.file + " (API key)"
		if l.Upstream, err = upstream(get("OPENAI_BASE_URL"), "https://api.openai.com/v1"); err != nil {
			return nil, fmt.Errorf("OPENAI_BASE_URL: %w", err)
		}
	}
	return l, nil
}

// chatgptBaseURL is the chatgpt_base_url of the host's Codex config (a
// file of the host user's own, never the sandbox's), or Codex's default.
func chatgptBaseURL(config string) string {
	const def = "https://chatgpt.com/backend-api/"
	data, err := os.ReadFile(config)
	if err != nil || len(data) > maxCredentialFile {
		return def
	}
	var c struct {
		Base string `toml:"chatgpt_base_url"`
	}
	if toml.Unmarshal(data, &c) != nil || c.Base == "" {
		return def
	}
	return c.Base
}

// upstream parses a base URL setting, or def when it is empty.
func upstream(setting, def string) (*url.URL, error) {
	if setting == "" {
		setting = def
	}
	u, err := url.Parse(strings.TrimRight(setting, "/"))
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not an http(s) URL without user, query or fragment", setting)
	}
	return u, nil
}

// current returns the credential to put on a request now: the
// environment's, or the file's as it is now (re-read when it changed).
func (l *Login) current() (credential, error) {
	if l.file == "" {
		return credential{token: l.value}, nil
	}
	fi, err := os.Stat(l.file)
	if err != nil {
		return credential{}, fmt.Errorf("the host's login %s: %w", l.file, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !fi.ModTime().Equal(l.modTime) || l.cached.token == "" {
		var c credential
		switch l.Kind {
		case Claude:
			if l.keyFile {
				c, err = readClaudeKey(l.file)
			} else {
				c, err = readClaudeFile(l.file)
			}
		case Codex:
			c, _, err = readCodexFile(l.file)
		}
		if err != nil {
			return credential{}, err
		}
		l.cached, l.modTime = c, fi.ModTime()
	}
	return l.cached, nil
}

// Check reports whether the login can be used now (doctor): the file is
// readable and its token not expired.
func (l *Login) Check(now time.Time) error {
	c, err := l.current()
	if err != nil {
		return err
	}
	if !c.expires.IsZero() && now.After(c.expires) {
		return l.expired()
	}
	return nil
}

func (l *Login) expired() error {
	return fmt.Errorf("the host's %s login (%s) has expired: run %q on the host once, which refreshes it, then retry", l.Kind, l.Source, l.Kind)
}

const maxCredentialFile = 1 << 20

func readJSON(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCredentialFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		// json's errors quote no input, so the value stays out of it.
		return fmt.Errorf("%s: not valid JSON", path)
	}
	return nil
}

func readClaudeFile(path string) (credential, error) {
	var f struct {
		OAuth struct {
			AccessToken string `json:"accessToken"`
			ExpiresAt   int64  `json:"expiresAt"` // milliseconds
		} `json:"claudeAiOauth"`
	}
	if err := readJSON(path, &f); err != nil {
		return credential{}, err
	}
	if f.OAuth.AccessToken == "" {
		return credential{}, fmt.Errorf("%s holds no OAuth access token", path)
	}
	c := credential{token: f.OAuth.AccessToken}
	if f.OAuth.ExpiresAt > 0 {
		c.expires = time.UnixMilli(f.OAuth.ExpiresAt)
	}
	return c, nil
}

func readCodexFile(path string) (c credential, chatgpt bool, err error) {
	var f struct {
		APIKey string `json:"OPENAI_API_KEY"`
		Tokens *struct {
			AccessToken string `json:"access_token"`
			AccountID   string `json:"account_id"`
		} `json:"tokens"`
	}
	if err := readJSON(path, &f); err != nil {
		return credential{}, false, err
	}
	if f.APIKey != "" {
		return credential{token: f.APIKey}, false, nil
	}
	if f.Tokens != nil && f.Tokens.AccessToken != "" {
		return credential{token: f.Tokens.AccessToken, account: f.Tokens.AccountID}, true, nil
	}
	return credential{}, false, fmt.Errorf("%s holds neither an API key nor ChatGPT tokens", path)
}
