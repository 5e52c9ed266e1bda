package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/git"
)

// RepoConfigFile is the team settings file committed with the code.
const RepoConfigFile = ".gitloop.toml"

// ConfigInputs are what LoadConfig reads beyond the repository.
type ConfigInputs struct {
	Dirs   UserDirs
	Env    func(string) (string, bool)
	Flags  map[string]string
	FlagOf map[string]string
	// Git are loop.* entries from git config (GitConfigEntries), read by
	// the caller so it can overlap that git call with other work.
	Git []config.GitEntry
}

// LoadConfig resolves settings for repo (nil outside a repository: only
// defaults, the user file, env and flags apply).
func LoadConfig(ctx context.Context, repo *Repo, in ConfigInputs) (*config.Config, error) {
	src := config.Sources{Env: in.Env, Flags: in.Flags, FlagOf: in.FlagOf}
	// Context layers (knowledge, personal) slot in here, weakest first:
	// knowledge < repo < personal < user.
	if repo != nil {
		f, err := repoConfigFile(ctx, repo)
		if err != nil {
			return nil, err
		}
		if f.Path != "" {
			src.Files = append(src.Files, f)
		}
	}
	src.Files = append(src.Files, config.File{Kind: "user", Path: in.Dirs.ConfigFile()})
	src.Git = in.Git
	cfg, err := config.Load(src)
	if err != nil {
		return nil, err
	}
	// The context layers' own settings files come from their clones, whose
	// place depends on the layers' URLs: known only now. Knowledge is the
	// weakest file layer, personal sits between the repository and the
	// machine.
	var files []config.File
	if f := knowledgeConfigFile(in.Dirs.ClonePath(Knowledge, LayerRemote(cfg, in.Dirs, Knowledge))); f != "" {
		files = append(files, config.File{Kind: "knowledge", Path: f})
	}
	personal := filepath.Join(in.Dirs.ClonePath(Personal, ""), "config.toml")
	if len(files) == 0 && !Exists(personal) {
		return cfg, nil
	}
	for _, f := range src.Files {
		if f.Kind == "user" && Exists(personal) {
			files = append(files, config.File{Kind: "personal", Path: personal})
		}
		files = append(files, f)
	}
	src.Files = files
	return config.Load(src)
}

// repoConfigFile is the repository's settings file, taken from where only
// the user writes: the main worktree, whichever worktree the command runs
// in. A loop's working tree is the agent's: a .gitloop.toml there would
// choose the driver, the setup commands run on the host, the worktree dir.
// Without a main worktree (a bare repository and its worktrees) it is the
// file as committed at the repository's HEAD, read as a blob.
func repoConfigFile(ctx context.Context, repo *Repo) (config.File, error) {
	if repo.MainWorktree != "" {
		return config.File{Kind: "repo", Path: filepath.Join(repo.MainWorktree, RepoConfigFile)}, nil
	}
	if repo.CommonDir == "" {
		return config.File{}, nil
	}
	var q git.Querier
	spec := "HEAD:" + RepoConfigFile
	// -c core.fsmonitor=false etc. are not needed: cat-file of a blob runs
	// no filter, hook or fsmonitor; --git-dir pins the repository.
	out, err := q.Output(ctx, git.Cmd{Dir: repo.CommonDir, Args: []string{"--git-dir=" + repo.CommonDir, "cat-file", "blob", spec}})
	var ge *git.Error
	if errors.As(err, &ge) && ge.Code == 128 {
		return config.File{}, nil // no HEAD commit, or no such file in it
	}
	if err != nil {
		return config.File{}, fmt.Errorf("read %s: %w", spec, err)
	}
	return config.File{Kind: "repo", Path: spec, Data: out}, nil
}

// LayerRemote is where a layer's main clone fetches from: its configured
// URL, or the local bare origin of solo mode.
func LayerRemote(cfg *config.Config, dirs UserDirs, l Layer) string {
	if u := cfg.LayerURL(string(l)); u != "" {
		return u
	}
	return dirs.OriginPath(l)
}

// knowledgeConfigFile is the team settings file of a knowledge clone: in
// .gitloop/, or .loopat/ for a repository laid out for loopat.
func knowledgeConfigFile(clone string) string {
	for _, d := range []string{".gitloop", ".loopat"} {
		if p := filepath.Join(clone, d, "config.toml"); Exists(p) {
			return p
		}
	}
	return ""
}

// GitConfigEntries reads loop.* (and the user's git identity) from every
// git config scope, including
// "git -c loop.x=…", which reaches us only through git's own config
// reading (GIT_CONFIG_PARAMETERS).
// It reads git's files itself when it can promise git's answer, and
// otherwise runs git in dir, which need not be a repository.
func GitConfigEntries(ctx context.Context, dir string) ([]config.GitEntry, error) {
	if entries, ok := gitConfigInProcess(ctx, dir, os.LookupEnv, UserDirsFromEnv(os.Getenv).Cache); ok {
		return entries, nil
	}
	var q git.Querier
	out, err := q.Output(ctx, git.Cmd{Dir: dir, Args: gitConfigArgs})
	var ge *git.Error
	if errors.As(err, &ge) && ge.Code == 1 {
		return nil, nil // no loop.* set anywhere
	}
	if err != nil {
		return nil, fmt.Errorf("read git config: %w", err)
	}
	return parseConfigEntries(out), nil
}

// gitConfigArgs ask git for the variables GitConfigEntries returns.
var gitConfigArgs = []string{"config", "-z", "--show-origin", "--show-scope", "--get-regexp", `^(loop\.|user\.(name|email)$)`}

// parseConfigEntries reads the records of "git config -z --show-scope
// --show-origin --get-regexp": scope NUL origin NUL key LF value NUL.
func parseConfigEntries(out []byte) []config.GitEntry {
	var entries []config.GitEntry
	fields := bytes.Split(out, []byte{0})
	for i := 0; i+2 < len(fields); i += 3 {
		kv := fields[i+2]
		key, value, _ := bytes.Cut(kv, []byte{'\n'})
		entries = append(entries, config.GitEntry{Scope: string(fields[i]), Where: string(fields[i+1]), Key: string(key), Value: string(value)})
	}
	return entries
}

// SetConfig writes loop.KEY to git config in scope ("local", "global",
// "worktree"); an empty value with unset removes it.
func SetConfig(ctx context.Context, r *git.Runner, repo *Repo, key, value, scope string, unset bool) error {
	k, ok := config.Lookup(key)
	if !ok {
		return &UsageError{Err: fmt.Errorf("unknown setting %q (see \"git loop config --show-origin\")", key)}
	}
	if !unset && k.Validate != nil {
		if err := k.Validate(value); err != nil {
			return &UsageError{Err: fmt.Errorf("setting %s = %q: %w", k.Name, value, err)}
		}
	}
	dir := ""
	if repo != nil {
		dir = repo.GitDir
		if repo.TopLevel != "" {
			dir = repo.TopLevel
		}
	} else if scope != "global" {
		return ErrNotARepo
	}
	args := []string{"config", "--" + scope}
	if unset {
		args = append(args, "--unset-all", k.GitName())
	} else {
		args = append(args, k.GitName(), value)
	}
	err := r.Run(ctx, git.Cmd{Dir: dir, Args: args})
	var ge *git.Error
	if unset && errors.As(err, &ge) && ge.Code == 5 {
		return nil // was not set: nothing to do
	}
	if err != nil {
		return fmt.Errorf("config %s: %w", k.Name, err)
	}
	return nil
}

// SetUserFileDefault writes key = value into the user's settings file
// (this machine's config.toml), for a key nothing sets yet (the caller
// checks); an existing file keeps everything it has. Only a "section.name" key is
// supported: it goes under the file's [section] table when it has one,
// else on a dotted-key line at the top.
func SetUserFileDefault(d UserDirs, key, value string) error {
	section, name, ok := strings.Cut(key, ".")
	if !ok || strings.Contains(name, ".") {
		return fmt.Errorf("setting %s: not a section.name key", key)
	}
	path := d.ConfigFile()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	quoted := strconv.Quote(value)
	lines := strings.SplitAfter(string(data), "\n")
	header := regexp.MustCompile(`^\s*\[\s*` + regexp.QuoteMeta(section) + `\s*\]\s*(#.*)?$`)
	var out strings.Builder
	done := false
	for _, l := range lines {
		out.WriteString(l)
		if !done && header.MatchString(strings.TrimRight(l, "\r\n")) {
			if !strings.HasSuffix(l, "\n") {
				out.WriteString("\n")
			}
			out.WriteString(name + " = " + quoted + "\n")
			done = true
		}
	}
	text := out.String()
	if !done {
		text = section + "." + name + " = " + quoted + "\n" + string(data)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
