package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// ConfigEntry is one configuration variable as
// "git config --show-scope --show-origin --list" reports it.
type ConfigEntry struct {
	Scope  string // system, global, local, worktree, command
	Origin string // "file:PATH" or "command line:"
	Key    string // section and variable name lower-cased, subsection as written
	Value  string
	// NoValue is a variable written without "=" (git's implicit true);
	// Value is then "".
	NoValue bool
}

// ConfigFile is one file git reads configuration from.
type ConfigFile struct {
	Scope string
	Path  string // the file to read
	// Name is the file as git names it in the origin ("file:NAME"): git
	// names the main worktree's repository config relatively, for one.
	// Empty means Path.
	Name string
}

// errUnsure means the in-process reading cannot promise git's answer:
// the caller asks git instead.
var errUnsure = errors.New("configuration git must read itself")

// ReadConfig reads configuration the way git does, from files (in git's
// order; a missing file is skipped as git skips it) and then the
// command-line configuration git passes down in the environment
// (GIT_CONFIG_COUNT/GIT_CONFIG_KEY_n/GIT_CONFIG_VALUE_n, then
// GIT_CONFIG_PARAMETERS, as "git -c" sets it). It returns ok=false
// whenever it cannot promise exactly what git would list: include and
// includeIf sections, syntax git rejects or that is rare enough not to
// be worth mirroring (CR, NUL, control characters, a byte-order mark),
// unreadable files. The caller then runs git, which is always right.
// This is the ConfigRead shortcut (shortcuts.go).
func ReadConfig(files []ConfigFile, lookupEnv func(string) (string, bool)) (entries []ConfigEntry, ok bool) {
	for _, f := range files {
		data, err := os.ReadFile(f.Path)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue // git skips a missing file silently
		}
		if err != nil {
			return nil, false
		}
		origin := "file:" + f.Path
		if f.Name != "" {
			origin = "file:" + f.Name
		}
		err = parseConfig(data, func(key, value string, noValue bool) {
			entries = append(entries, ConfigEntry{Scope: f.Scope, Origin: origin, Key: key, Value: value, NoValue: noValue})
		})
		if err != nil {
			return nil, false
		}
	}
	cmdline, err := commandLineConfig(lookupEnv)
	if err != nil {
		return nil, false
	}
	return append(entries, cmdline...), true
}

// parseConfig parses one config file as git's config.c does, calling emit
// for every variable in order. It mirrors git_parse_source, get_value,
// parse_value and get_base_var; anything beyond the plain syntax it
// mirrors is errUnsure.
func parseConfig(data []byte, emit func(key, value string, noValue bool)) error {
	// Rare bytes whose handling differs between git versions or
	// platforms (CRLF, a BOM, NUL ending a C string early, other control
	// characters): leave them to git.
	for _, c := range data {
		if c < 0x20 && c != '\t' && c != '\n' {
			return errUnsure
		}
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return errUnsure
	}
	p := &configParser{data: data}
	var section string // "section." or "section.subsection."
	comment := false
	for {
		c := p.next()
		if c == '\n' {
			if p.eof {
				return nil
			}
			comment = false
			continue
		}
		if comment || isSpace(c) {
			continue
		}
		if c == '#' || c == ';' {
			comment = true
			continue
		}
		if c == '[' {
			name, err := p.sectionHeader()
			if err != nil {
				return err
			}
			base, _, _ := strings.Cut(name, ".")
			if base == "" || base == "include" || base == "includeif" {
				// Includes pull in other files under conditions
				// (gitdir:, onbranch:, hasconfig:) git evaluates.
				return errUnsure
			}
			section = name + "."
			continue
		}
		if !isAlpha(c) {
			return errUnsure // git: bad config line
		}
		if section == "" {
			return errUnsure // a variable before any section
		}
		key, value, noValue, err := p.variable(c)
		if err != nil {
			return err
		}
		emit(section+key, value, noValue)
	}
}

type configParser struct {
	data []byte
	pos  int
	eof  bool
}

// next returns the next byte, and '\n' (setting eof) at the end, as git's
// get_next_char does.
func (p *configParser) next() byte {
	if p.pos >= len(p.data) {
		p.eof = true
		return '\n'
	}
	c := p.data[p.pos]
	p.pos++
	return c
}

// sectionHeader reads what follows '[': "name]" (lower-cased; a dotted
// name is the old "[section.subsection]" form) or `name "subsection"]`
// (the subsection kept as written, with \" and \\ escapes).
func (p *configParser) sectionHeader() (string, error) {
	var name []byte
	for {
		c := p.next()
		if p.eof {
			return "", errUnsure
		}
		if c == ']' {
			if len(name) == 0 {
				return "", errUnsure
			}
			return string(name), nil
		}
		if isSpace(c) {
			return p.subsection(name, c)
		}
		if !isKeyChar(c) && c != '.' {
			return "", errUnsure
		}
		name = append(name, toLower(c))
	}
}

// subsection mirrors get_extended_base_var.
func (p *configParser) subsection(name []byte, c byte) (string, error) {
	for {
		if c == '\n' {
			return "", errUnsure
		}
		c = p.next()
		if !isSpace(c) {
			break
		}
	}
	if c != '"' {
		return "", errUnsure
	}
	name = append(name, '.')
	for {
		c := p.next()
		if c == '\n' {
			return "", errUnsure
		}
		if c == '"' {
			break
		}
		if c == '\\' {
			if c = p.next(); c == '\n' {
				return "", errUnsure
			}
		}
		name = append(name, c)
	}
	if p.next() != ']' {
		return "", errUnsure
	}
	return string(name), nil
}

// variable reads a variable whose first letter is first: its name
// (lower-cased) and value, mirroring get_value.
func (p *configParser) variable(first byte) (key, value string, noValue bool, err error) {
	name := []byte{toLower(first)}
	var c byte
	for {
		c = p.next()
		if p.eof || !isKeyChar(c) {
			break
		}
		name = append(name, toLower(c))
	}
	for c == ' ' || c == '\t' {
		c = p.next()
	}
	if c == '\n' {
		return string(name), "", true, nil
	}
	if c != '=' {
		return "", "", false, errUnsure
	}
	v, err := p.value()
	return string(name), v, false, err
}

// value mirrors parse_value: leading and trailing blanks dropped, inner
// ones kept, quotes removed, \n \t \b \" \\ escapes and backslash-newline
// continuations, and a comment ending it outside quotes.
func (p *configParser) value() (string, error) {
	var v []byte
	quote, comment := false, false
	trimLen := 0
	// An unquoted tab inside a value became a space in older gits and
	// stays a tab in newer ones: leave such values to the git at hand.
	innerTab := false
	for {
		c := p.next()
		if c == '\n' {
			if quote {
				return "", errUnsure
			}
			if trimLen > 0 {
				v = v[:trimLen]
			}
			return string(v), nil
		}
		if comment {
			continue
		}
		if isSpace(c) && !quote {
			if trimLen == 0 {
				trimLen = len(v)
			}
			if len(v) > 0 {
				v = append(v, c)
				innerTab = innerTab || c == '\t'
			}
			continue
		}
		if !quote && (c == ';' || c == '#') {
			comment = true
			continue
		}
		if innerTab {
			return "", errUnsure
		}
		trimLen = 0
		if c == '\\' {
			switch c = p.next(); c {
			case '\n':
				if p.eof {
					// A backslash at the very end: git reads past EOF
					// again; too rare to mirror.
					return "", errUnsure
				}
				continue
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'n':
				c = '\n'
			case '\\', '"':
			default:
				return "", errUnsure // git: bad config line
			}
			v = append(v, c)
			continue
		}
		if c == '"' {
			quote = !quote
			continue
		}
		v = append(v, c)
	}
}

// git's character classes (ctype.c): ASCII only, and only these four
// bytes are space.
func isSpace(c byte) bool   { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isAlpha(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isKeyChar(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' || c == '-' }
func toLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

const commandLineOrigin = "command line:"

// commandLineConfig is the "command" scope: GIT_CONFIG_COUNT pairs, then
// GIT_CONFIG_PARAMETERS, as git_config_from_parameters reads them.
func commandLineConfig(lookupEnv func(string) (string, bool)) ([]ConfigEntry, error) {
	var out []ConfigEntry
	add := func(key string, value string, noValue bool) error {
		canonical, err := canonicalKey(key)
		if err != nil {
			return err
		}
		if isIncludeKey(canonical) {
			return errUnsure
		}
		out = append(out, ConfigEntry{Scope: "command", Origin: commandLineOrigin, Key: canonical, Value: value, NoValue: noValue})
		return nil
	}
	if count, ok := lookupEnv("GIT_CONFIG_COUNT"); ok && count != "" {
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 || n > 1000 || strconv.Itoa(n) != count {
			return nil, errUnsure
		}
		for i := range n {
			key, kok := lookupEnv(fmt.Sprintf("GIT_CONFIG_KEY_%d", i))
			value, vok := lookupEnv(fmt.Sprintf("GIT_CONFIG_VALUE_%d", i))
			if !kok || !vok {
				return nil, errUnsure // git: missing config key/value
			}
			if err := add(key, value, false); err != nil {
				return nil, err
			}
		}
	}
	params, ok := lookupEnv("GIT_CONFIG_PARAMETERS")
	if !ok {
		return out, nil
	}
	// parse_config_env_list: 'key'='value', 'key'= (no value), or the
	// old 'key=value', separated by blanks, each part single-quoted with
	// '\'' and '\!' escapes.
	cur := params
	for cur != "" {
		key, rest, err := sqDequoteStep(cur)
		if err != nil {
			return nil, err
		}
		switch {
		case rest == "" || isSpace(rest[0]):
			// Old style 'key=value': the key is trimmed, no '=' is no
			// value.
			k, v, found := strings.Cut(key, "=")
			k = strings.Trim(k, " \t\n\r")
			if k == "" {
				return nil, errUnsure
			}
			if err := add(k, v, !found); err != nil {
				return nil, err
			}
		case rest[0] == '=':
			rest = rest[1:]
			switch {
			case rest != "" && rest[0] == '\'':
				var value string
				if value, rest, err = sqDequoteStep(rest); err != nil || (rest != "" && !isSpace(rest[0])) {
					return nil, errUnsure
				}
				if err := add(key, value, false); err != nil {
					return nil, err
				}
			case rest == "" || isSpace(rest[0]):
				if err := add(key, "", true); err != nil {
					return nil, err
				}
			default:
				return nil, errUnsure
			}
		default:
			return nil, errUnsure
		}
		cur = strings.TrimLeft(rest, " \t\n\r")
	}
	return out, nil
}

// sqDequoteStep mirrors git's sq_dequote_step: one single-quoted word at
// the start of s, and what follows it.
func sqDequoteStep(s string) (word, rest string, err error) {
	if s == "" || s[0] != '\'' {
		return "", "", errUnsure
	}
	var b strings.Builder
	i := 1
	for {
		if i >= len(s) {
			return "", "", errUnsure // unterminated
		}
		c := s[i]
		if c != '\'' {
			b.WriteByte(c)
			i++
			continue
		}
		// Stepped out of the quotes: '\'' and '\!' resume them.
		i++
		if i+2 < len(s) && s[i] == '\\' && (s[i+1] == '\'' || s[i+1] == '!') && s[i+2] == '\'' {
			b.WriteByte(s[i+1])
			i += 3
			continue
		}
		return b.String(), s[i:], nil
	}
}

// canonicalKey mirrors git_config_parse_key: section and variable name
// lower-cased and checked, the subsection between them kept as written.
func canonicalKey(key string) (string, error) {
	first := strings.IndexByte(key, '.')
	last := strings.LastIndexByte(key, '.')
	if first <= 0 || last == len(key)-1 {
		return "", errUnsure
	}
	b := []byte(key)
	for i, c := range b {
		if i < first || i > last {
			if !isKeyChar(c) || (i == last+1 && !isAlpha(c)) {
				return "", errUnsure
			}
			b[i] = toLower(c)
		} else if c == '\n' {
			return "", errUnsure
		}
	}
	return string(b), nil
}

func isIncludeKey(key string) bool {
	return strings.HasPrefix(key, "include.") || strings.HasPrefix(key, "includeif.")
}

// SystemConfigPath asks git where its system-wide config file is (built
// into git, e.g. /etc/gitconfig), by listing that file: its entries carry
// its path, and a missing file is named in the error. It returns "" when
// git does not say (an empty file), so the caller keeps asking git.
func SystemConfigPath(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "config", "--system", "--show-origin", "-z", "--list")
	// Untranslated messages: the missing file's name is read from one.
	cmd.Env = Env("LC_ALL=C", "LANGUAGE=", "GIT_CONFIG_NOSYSTEM=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		origin, _, found := strings.Cut(stdout.String(), "\x00")
		if path, ok := strings.CutPrefix(origin, "file:"); found && ok && path != "" {
			return path, nil
		}
		return "", nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return "", fmt.Errorf("git config --system: %w", err)
	}
	const pre, post = "fatal: unable to read config file '", "': No such file or directory\n"
	msg := stderr.String()
	if strings.HasPrefix(msg, pre) && strings.HasSuffix(msg, post) && strings.Count(msg, "\n") == 1 {
		return msg[len(pre) : len(msg)-len(post)], nil
	}
	return "", nil
}
