package workspace

import (
	"os"
	"path/filepath"
)

// UserDirs are git loop's per-user directories (docs/config.md).
type UserDirs struct {
	Config string // $XDG_CONFIG_HOME/git-loop
	Data   string // $XDG_DATA_HOME/git-loop
	// Cache ($XDG_CACHE_HOME/git-loop) holds what can be recomputed at
	// any time, such as where git's system config file is.
	Cache string
}

// UserDirsFromEnv resolves the user directories: GIT_LOOP_HOME, when set,
// holds both (tests use it); otherwise XDG with the usual fallbacks.
func UserDirsFromEnv(getenv func(string) string) UserDirs {
	if root := getenv("GIT_LOOP_HOME"); root != "" {
		return UserDirs{Config: filepath.Join(root, "config"), Data: filepath.Join(root, "data"), Cache: filepath.Join(root, "cache")}
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	cfg := getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		cfg = filepath.Join(home, ".config")
	}
	data := getenv("XDG_DATA_HOME")
	if data == "" {
		data = filepath.Join(home, ".local", "share")
	}
	cache := getenv("XDG_CACHE_HOME")
	if cache == "" {
		cache = filepath.Join(home, ".cache")
	}
	return UserDirs{Config: filepath.Join(cfg, "git-loop"), Data: filepath.Join(data, "git-loop"), Cache: filepath.Join(cache, "git-loop")}
}

// ConfigFile is the user's (this machine's) settings file.
func (d UserDirs) ConfigFile() string { return filepath.Join(d.Config, "config.toml") }
