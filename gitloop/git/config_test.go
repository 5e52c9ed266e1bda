package git

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// gitList runs "git config --list" in dir with exactly env (plus PATH)
// and returns what git lists, or ok=false when git fails.
func gitList(t testing.TB, dir string, env map[string]string) ([]ConfigEntry, bool) {
	t.Helper()
	cmd := exec.Command("git", "config", "-z", "--show-origin", "--show-scope", "--list")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, false
	}
	return parseList(t, stdout.Bytes()), true
}

// parseList reads "-z --show-scope --show-origin --list" output: scope NUL
// origin NUL key [LF value] NUL.
func parseList(t testing.TB, out []byte) []ConfigEntry {
	t.Helper()
	var entries []ConfigEntry
	fields := bytes.Split(out, []byte{0})
	if len(fields)%3 != 1 {
		t.Fatalf("unexpected git config output %q", out)
	}
	for i := 0; i+2 < len(fields); i += 3 {
		key, value, found := bytes.Cut(fields[i+2], []byte{'\n'})
		entries = append(entries, ConfigEntry{Scope: string(fields[i]), Origin: string(fields[i+1]), Key: string(key), Value: string(value), NoValue: !found})
	}
	return entries
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// compareFile checks ReadConfig against git on one config file, read as
// the global config outside any repository. It returns whether the
// in-process reading answered (rather than leaving it to git).
func compareFile(t testing.TB, content string) bool {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "gitconfig")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": file, "HOME": dir}
	want, gitOK := gitList(t, dir, env)
	got, ok := ReadConfig([]ConfigFile{{Scope: "global", Path: file}}, lookup(env))
	if !ok {
		return false
	}
	if !gitOK {
		t.Errorf("config %q: git fails to read it, the in-process reading gave %+v", content, got)
		return true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config %q:\n in-process %+v\n git        %+v", content, got, want)
	}
	return true
}

// configCases are tricky config files; fast says the in-process reading
// answers them (the others it leaves to git).
var configCases = []struct {
	name, content string
	fast          bool
}{
	{"empty", "", true},
	{"comments only", "# a\n; b\n\n   # c", true},
	{"plain", "[loop]\n\tagent = claude\n\tbase = main\n", true},
	{"no final newline", "[loop]\nagent=x", true},
	{"case rules", "[LOOP]\n\tAgent = X\n[Loop \"Sub.Section\"]\n\tSandBox-Driver = none\n", true},
	{"legacy subsection lower-cased", "[loop.SUB]\n\tkey = v\n", true},
	{"dotted section with subsection", "[a.B \"C\"]\n\tk = v\n", true},
	{"subsection escapes", "[loop \"a\\\"b\\\\c\\xd e\"]\n\tk = v\n", true},
	{"subsection blanks before quote", "[loop \t \"x\"]\nk = v\n", true},
	{"variable on the header line", "[loop] agent = a\n[user]name=N", true},
	{"no value", "[loop]\n\tflag\n\tother   \n\tthird\t# c\n", false},
	{"no value simple", "[loop]\n\tflag\n\tother   \n", true},
	{"empty value", "[loop]\n\tagent =\n\tbase =   \n", true},
	{"inner blanks kept", "[loop]\n\tagent =  a   b  c  \t \n", true},
	{"inner tab", "[loop]\n\tagent = a\tb\n", false},
	{"quoted tab", "[loop]\n\tagent = \"a\tb\"\n", true},
	{"quotes", "[loop]\n\tagent = \"  spaced  \"\n\tbase = a\" b \"c\n\tx = \"\"\n", true},
	{"quoted trailing blanks", "[loop]\n\tagent = \"a \"  \n", true},
	{"comment chars", "[loop]\n\tagent = a # c\n\tbase = a;b\n\tx = \"a # not ; comment\"\n\ty = a\\#b\n", false},
	{"comment after value", "[loop]\n\tagent = a # c\n\tbase = a;b\n\tx = \"a # not ; comment\"\n", true},
	{"escapes", "[loop]\n\tagent = a\\tb\\nc\\\\d\\\"e\\bf\n", true},
	{"continuation", "[loop]\n\tagent = a \\\n  b\\\n\n\tbase = c\n", true},
	{"continuation in quotes", "[loop]\n\tagent = \"a \\\n b\"\n", true},
	{"repeated keys", "[loop]\n\tsetup = one\n\tsetup = two\n[loop]\n\tsetup = three\n", true},
	{"digits and dashes", "[my-sec2 \"x\"]\n\tkey-1 = v\n", true},
	{"utf-8", "[loop \"été\"]\n\tagent = naïve ☃\n", true},
	{"user identity", "[user]\n\tname = A. Person\n\temail = <a@example.com>\n", true},
	{"blank lines and indents", "\n\n  [loop]  \n\n   agent=x   \n", true},
	{"spaces around equals", "[loop]\nagent\t=\tx\n", true},
	{"url subsection", "[url \"git@example.com:\"]\n\tinsteadOf = https://example.com/\n", true},
	{"section then comment", "[loop] # comment\nagent = x\n", true},
	// Left to git.
	{"include", "[include]\n\tpath = other\n[loop]\n\tagent = x\n", false},
	{"includeIf", "[includeIf \"gitdir:/x/\"]\n\tpath = other\n", false},
	{"crlf", "[loop]\r\n\tagent = x\r\n", false},
	{"bom", "\xef\xbb\xbf[loop]\n\tagent = x\n", false},
	{"variable before any section", "agent = x\n", false},
	{"bad escape", "[loop]\n\tagent = a\\xb\n", false},
	{"unterminated quote", "[loop]\n\tagent = \"a\n", false},
	{"blank before bracket", "[loop \"x\" ]\n\tk = v\n", false},
	{"bad header", "[lo op]\n", false},
	{"empty header", "[]\nk = v\n", false},
	{"unterminated header", "[loop", false},
	{"bad variable", "[loop]\n\t1agent = x\n", false},
	{"bad variable char", "[loop]\n\tag_ent = x\n", false},
	{"no equals", "[loop]\n\tagent x\n", false},
	{"backslash at end of file", "[loop]\n\tagent = a\\", false},
	{"nul", "[loop]\n\tagent = a\x00b\n", false},
	{"newline in subsection", "[loop \"a\nb\"]\n", false},
}

func TestReadConfigMatchesGit(t *testing.T) {
	for _, tc := range configCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if fast := compareFile(t, tc.content); fast != tc.fast {
				t.Errorf("in-process reading answered: %v, want %v", fast, tc.fast)
			}
		})
	}
}

func TestCommandLineConfigMatchesGit(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		fast bool
	}{
		{"none", map[string]string{}, true},
		{"new style", map[string]string{"GIT_CONFIG_PARAMETERS": `'loop.agent'='x' 'Loop.Sub.Base'='y z' 'loop.flag' 'loop.e'=`}, true},
		{"old style", map[string]string{"GIT_CONFIG_PARAMETERS": `'loop.agent=x' 'LOOP.a.B=c=d' 'loop.flag' ' loop.t =v'`}, true},
		{"quote escapes", map[string]string{"GIT_CONFIG_PARAMETERS": `'loop.agent'='it'\''s'\!'' 'user.name'='a'\''b'`}, true},
		{"blank separators", map[string]string{"GIT_CONFIG_PARAMETERS": "'loop.a'='1'\t\n'loop.b'='2'  "}, true},
		{"leading blank", map[string]string{"GIT_CONFIG_PARAMETERS": " 'loop.a'='1'"}, false},
		{"count", map[string]string{"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "Loop.Ports", "GIT_CONFIG_VALUE_0": "3000", "GIT_CONFIG_KEY_1": "loop.Sub.X", "GIT_CONFIG_VALUE_1": "a\nb"}, true},
		{"count before parameters", map[string]string{"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "loop.a", "GIT_CONFIG_VALUE_0": "1", "GIT_CONFIG_PARAMETERS": `'loop.a'='2'`}, true},
		{"empty count", map[string]string{"GIT_CONFIG_COUNT": ""}, true},
		// Left to git.
		{"missing key", map[string]string{"GIT_CONFIG_COUNT": "1"}, false},
		{"bogus count", map[string]string{"GIT_CONFIG_COUNT": "x"}, false},
		{"bad key", map[string]string{"GIT_CONFIG_PARAMETERS": `'loop'='x'`}, false},
		{"bad variable name", map[string]string{"GIT_CONFIG_PARAMETERS": `'loop.1x'='x'`}, false},
		{"unquoted", map[string]string{"GIT_CONFIG_PARAMETERS": `loop.a=b`}, false},
		{"unterminated", map[string]string{"GIT_CONFIG_PARAMETERS": `'loop.a'='b`}, false},
		{"include", map[string]string{"GIT_CONFIG_PARAMETERS": `'include.path'='/x'`}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := map[string]string{"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": filepath.Join(dir, "none"), "HOME": dir}
			for k, v := range tc.env {
				env[k] = v
			}
			want, gitOK := gitList(t, dir, env)
			got, ok := ReadConfig(nil, lookup(env))
			if ok != tc.fast {
				t.Fatalf("in-process reading answered: %v, want %v", ok, tc.fast)
			}
			if !ok {
				return
			}
			if !gitOK {
				t.Fatalf("git fails, the in-process reading gave %+v", got)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("\n in-process %+v\n git        %+v", got, want)
			}
		})
	}
}

// FuzzReadConfig compares the in-process reading with git on arbitrary
// files: "go test -fuzz ReadConfig ./gitloop/git/" (each input runs git).
func FuzzReadConfig(f *testing.F) {
	for _, tc := range configCases {
		f.Add(tc.content)
	}
	f.Fuzz(func(t *testing.T, content string) {
		if strings.Contains(content, "include") {
			return // includes are always left to git: nothing to compare
		}
		compareFile(t, content)
	})
}

func TestSystemConfigPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sys")
	if err := os.WriteFile(file, []byte("[loop]\n\tagent = x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// GIT_CONFIG_SYSTEM stands in for the path built into git.
	t.Setenv("GIT_CONFIG_SYSTEM", file)
	if got, err := SystemConfigPath(t.Context()); err != nil || got != file {
		t.Errorf("SystemConfigPath = %q, %v; want %q", got, err, file)
	}
	missing := filepath.Join(dir, "missing")
	t.Setenv("GIT_CONFIG_SYSTEM", missing)
	if got, err := SystemConfigPath(t.Context()); err != nil || got != missing {
		t.Errorf("missing file: SystemConfigPath = %q, %v; want %q", got, err, missing)
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_CONFIG_SYSTEM", file)
	if got, err := SystemConfigPath(t.Context()); err != nil || got != "" {
		t.Errorf("empty file: SystemConfigPath = %q, %v; want \"\" (unknown)", got, err)
	}
}
