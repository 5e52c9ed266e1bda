package workspace

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gitloop-dev/git-loop/gitloop/config"
	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/state"
)

// gitConfigInProcess returns what
//
//	git config --show-scope --show-origin --get-regexp '^(loop\.|user\.(name|email)$)'
//
// run in dir would list, read from git's config files directly: every
// command needs it, and a git process costs more than the rest of reading
// the settings. ok=false means only git can say (anything unusual in the
// environment, the repository or the files); the caller then runs git.
func gitConfigInProcess(ctx context.Context, dir string, lookupEnv func(string) (string, bool), cacheDir string) ([]config.GitEntry, bool) {
	entries, ok := readGitConfigInProcess(ctx, dir, lookupEnv, cacheDir)
	if !ok {
		return nil, false
	}
	var out []config.GitEntry
	for _, e := range entries {
		if strings.HasPrefix(e.Key, "loop.") || e.Key == "user.name" || e.Key == "user.email" {
			out = append(out, config.GitEntry{Scope: e.Scope, Where: e.Origin, Key: e.Key, Value: e.Value})
		}
	}
	return out, true
}

// readGitConfigInProcess returns every variable git run in dir would
// see, in git's order, read from git's files directly; ok=false when only
// git can say (see gitConfigInProcess).
func readGitConfigInProcess(ctx context.Context, dir string, lookupEnv func(string) (string, bool), cacheDir string) ([]git.ConfigEntry, bool) {
	if sc := git.FromEnv(lookupEnv); !sc.Use(git.ConfigRead) || !sc.Use(git.RepoDiscovery) {
		return nil, false
	}
	getenv := func(k string) string { v, _ := lookupEnv(k); return v }
	// GIT_CONFIG redirects "git config" to another file; the test
	// variable makes git distrust the repository's owner.
	for _, v := range []string{"GIT_CONFIG", "GIT_TEST_ASSUME_DIFFERENT_OWNER"} {
		if _, set := lookupEnv(v); set {
			return nil, false
		}
	}
	repo, ok := discoverFast(dir)
	if !ok || !ownedByUs(repo) {
		return nil, false
	}
	var files []git.ConfigFile
	noSystem, ok := envBool(lookupEnv, "GIT_CONFIG_NOSYSTEM")
	if !ok {
		return nil, false
	}
	if !noSystem {
		path, set := lookupEnv("GIT_CONFIG_SYSTEM")
		if !set {
			path = systemConfigPath(ctx, cacheDir)
		}
		if !filepath.IsAbs(path) {
			return nil, false // unknown, or relative to where git runs
		}
		files = append(files, git.ConfigFile{Scope: "system", Path: path})
	}
	// git_global_config_paths: GIT_CONFIG_GLOBAL alone, or the XDG file
	// then ~/.gitconfig, named exactly as git builds their names.
	home, homeSet := lookupEnv("HOME")
	if homeSet && !filepath.IsAbs(home) {
		return nil, false
	}
	if global, set := lookupEnv("GIT_CONFIG_GLOBAL"); set {
		if !filepath.IsAbs(global) {
			return nil, false
		}
		files = append(files, git.ConfigFile{Scope: "global", Path: global})
	} else {
		if xdg := getenv("XDG_CONFIG_HOME"); xdg != "" {
			if !filepath.IsAbs(xdg) {
				return nil, false
			}
			files = append(files, git.ConfigFile{Scope: "global", Path: xdg + "/git/config"})
		} else if homeSet {
			files = append(files, git.ConfigFile{Scope: "global", Path: home + "/.config/git/config"})
		}
		if homeSet {
			files = append(files, git.ConfigFile{Scope: "global", Path: home + "/.gitconfig"})
		}
	}
	// The repository's config: git names it relative to the main
	// worktree it changes into, absolutely from a linked worktree.
	local := git.ConfigFile{Scope: "local", Path: filepath.Join(repo.CommonDir, "config")}
	if repo.GitDir == repo.CommonDir {
		local.Name = ".git/config"
	}
	files = append(files, local)

	entries, ok := git.ReadConfig(files, lookupEnv)
	if !ok || !plainRepoFormat(entries) {
		return nil, false
	}
	return entries, true
}

// ownedByUs mirrors git's safe.directory check (ensure_valid_ownership):
// a repository another user owns is one git may refuse to read, unless
// safe.directory says otherwise, so only git can tell.
func ownedByUs(r *Repo) bool {
	paths := []string{r.TopLevel, r.GitDir}
	if r.GitDir != r.CommonDir {
		paths = append(paths, filepath.Join(r.TopLevel, ".git")) // the gitfile
	}
	uid := uint32(os.Geteuid())
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || st.Uid != uid {
			return false
		}
	}
	return true
}

// plainRepoFormat reports whether the repository's own config leaves
// git's reading as read here: no per-worktree config
// (extensions.worktreeConfig adds a scope), no extension or format
// version that could make git refuse the repository, and neither
// core.bare nor core.worktree (which change what git takes for the
// worktree, and so how it names the config file).
func plainRepoFormat(entries []git.ConfigEntry) bool {
	for _, e := range entries {
		if e.Scope != "local" {
			continue
		}
		switch {
		case e.Key == "core.repositoryformatversion":
			if e.Value != "0" && e.Value != "1" {
				return false
			}
		case e.Key == "extensions.objectformat":
			if e.Value != "sha1" && e.Value != "sha256" {
				return false
			}
		case e.Key == "extensions.noop", e.Key == "extensions.preciousobjects", e.Key == "extensions.partialclone":
		case strings.HasPrefix(e.Key, "extensions."):
			return false
		case e.Key == "core.bare":
			if e.Value != "false" {
				return false
			}
		case e.Key == "core.worktree":
			return false
		}
	}
	return true
}

// envBool reads a boolean variable as git_env_bool does (unset is false);
// ok=false for a value git would reject.
func envBool(lookupEnv func(string) (string, bool), name string) (value, ok bool) {
	v, set := lookupEnv(name)
	if !set {
		return false, true
	}
	switch strings.ToLower(v) {
	case "", "0", "false", "no", "off":
		return false, true
	case "1", "true", "yes", "on":
		return true, true
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n != 0, true
	}
	return false, false
}

// systemConfigCache remembers where each git binary keeps its system
// config file: built into git, it changes only with git itself.
type systemConfigCache map[string]systemConfigRecord

type systemConfigRecord struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime"`
	Path  string `json:"path"`
}

const systemConfigCacheFile = "git-system-config.json"

// systemConfigPath is the path of the system config file of the git on
// PATH, asked of git once per git binary (and remembered in the cache
// dir); "" when unknown.
func systemConfigPath(ctx context.Context, cacheDir string) string {
	bin, err := exec.LookPath("git")
	if err != nil {
		return ""
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return ""
	}
	cacheFile := filepath.Join(cacheDir, systemConfigCacheFile)
	cache := systemConfigCache{}
	if data, err := os.ReadFile(cacheFile); err == nil {
		_ = json.Unmarshal(data, &cache) // a bad cache is rebuilt
	}
	if r, ok := cache[bin]; ok && r.Size == fi.Size() && r.MTime == fi.ModTime().UnixNano() {
		return r.Path
	}
	path, err := git.SystemConfigPath(ctx)
	if err != nil || path == "" {
		return ""
	}
	cache[bin] = systemConfigRecord{Size: fi.Size(), MTime: fi.ModTime().UnixNano(), Path: path}
	if data, err := json.Marshal(cache); err == nil && os.MkdirAll(cacheDir, 0o755) == nil {
		_ = state.WriteFileAtomic(cacheFile, data, 0o644) // only a cache
	}
	return path
}
