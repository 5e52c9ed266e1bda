package agent

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// The npm packages of the agents git loop knows, for settings that name
// the package rather than the program ("npx -y @openai/codex").
var packageKinds = map[string]Kind{
	"@anthropic-ai/claude-code": Claude,
	"@openai/codex":             Codex,
}

// programIndex finds which word of argv names the agent program, looking
// through the wrappers people put in front of it: env (with its options
// and VAR=value words), the npm launchers (npx, bunx, pnpx, "npm exec",
// "pnpm dlx", "yarn dlx", with their options) and node running a script.
// The kind is that program's; a launcher's --package names it too.
func programIndex(argv []string) (int, Kind) {
	i, pkgKind := 0, Command
	for i < len(argv) {
		base := filepath.Base(argv[i])
		next := i + 1
		switch base {
		case "env":
			next = skipEnv(argv, next)
		case "npx", "bunx", "pnpx":
			next, pkgKind = skipLauncher(argv, next, pkgKind)
		case "npm", "pnpm", "yarn", "bun":
			if next < len(argv) && (argv[next] == "exec" || argv[next] == "x" || argv[next] == "dlx") {
				next, pkgKind = skipLauncher(argv, next+1, pkgKind)
			} else {
				return i, pkgKind
			}
		case "node", "nodejs":
			next = skipNode(argv, next)
		default:
			if k := wordKind(argv[i]); k != Command {
				return i, k
			}
			return i, pkgKind
		}
		if next >= len(argv) {
			return i, pkgKind // a wrapper with nothing after it: itself
		}
		i = next
	}
	return 0, pkgKind
}

// skipEnv passes env's options and VAR=value words.
func skipEnv(argv []string, i int) int {
	for i < len(argv) {
		w := argv[i]
		switch {
		case w == "--":
			return i + 1
		case w == "-u" || w == "--unset" || w == "-C" || w == "--chdir":
			i += 2
		case strings.HasPrefix(w, "-"):
			i++
		case strings.Contains(w, "="):
			i++
		default:
			return i
		}
	}
	return i
}

// skipLauncher passes an npm launcher's options; -p/--package names the
// package the program comes from.
func skipLauncher(argv []string, i int, k Kind) (int, Kind) {
	for i < len(argv) {
		w := argv[i]
		switch {
		case w == "--":
			return i + 1, k
		case w == "-p" || w == "--package" || w == "-c" || w == "--call":
			if i+1 < len(argv) && w != "-c" && w != "--call" {
				if pk := packageKind(argv[i+1]); pk != Command {
					k = pk
				}
			}
			i += 2
		case strings.HasPrefix(w, "--package="):
			if pk := packageKind(strings.TrimPrefix(w, "--package=")); pk != Command {
				k = pk
			}
			i++
		case strings.HasPrefix(w, "-"):
			i++
		default:
			return i, k
		}
	}
	return i, k
}

// skipNode passes node's options to the script it runs.
func skipNode(argv []string, i int) int {
	for i < len(argv) {
		w := argv[i]
		switch {
		case w == "--":
			return i + 1
		case w == "-r" || w == "--require" || w == "--import" || w == "--loader":
			i += 2
		case strings.HasPrefix(w, "-"):
			i++
		default:
			return i
		}
	}
	return i
}

// packageKind is the kind of an npm package spec ("@openai/codex@0.169.0").
func packageKind(spec string) Kind {
	name := spec
	if at := strings.LastIndexByte(spec, '@'); at > 0 {
		name = spec[:at]
	}
	if k, ok := packageKinds[name]; ok {
		return k
	}
	return Command
}

// wordKind is the kind of one program word: its base name (claude,
// codex, with an extension such as claude.exe or codex.js), an npm
// package spec, or a path inside one of the agents' npm packages.
func wordKind(w string) Kind {
	base := filepath.Base(w)
	base = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(base, ".exe"), ".js"), ".cjs")
	switch base {
	case "claude":
		return Claude
	case "codex":
		return Codex
	}
	if k := packageKind(w); k != Command {
		return k
	}
	return pathKind(w)
}

// pathKind is the kind of a path inside an agent's npm package.
func pathKind(p string) Kind {
	for pkg, k := range packageKinds {
		if strings.Contains(p, "/node_modules/"+pkg+"/") {
			return k
		}
	}
	return Command
}

// resolvedKind looks at where a program word leads on the host: a
// symlink of another name into an agent's npm package ("cc" →
// …/@anthropic-ai/claude-code/bin/claude.exe) is that agent.
func resolvedKind(w string) Kind {
	p := w
	if !strings.ContainsRune(w, '/') {
		var err error
		if p, err = exec.LookPath(w); err != nil {
			return Command
		}
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil || real == p {
		return Command
	}
	if k := wordKind(real); k != Command {
		return k
	}
	return Command
}

// optionalSiblings are the installed optional dependencies of the npm
// package at root that npm hoisted beside it (the platform packages:
// @openai/codex-linux-x64 beside @openai/codex): the package runs only
// with them. Nested ones (root/node_modules/…) are inside root already.
func optionalSiblings(root string) []string {
	data, err := os.ReadFile(filepath.Join(root, "package.json"))
	if err != nil {
		return nil
	}
	var pkg struct {
		Optional map[string]string `json:"optionalDependencies"`
	}
	if json.Unmarshal(data, &pkg) != nil {
		return nil
	}
	modules := filepath.Dir(root)
	if strings.HasPrefix(filepath.Base(modules), "@") {
		modules = filepath.Dir(modules)
	}
	if filepath.Base(modules) != "node_modules" {
		return nil
	}
	var out []string
	for name := range pkg.Optional {
		if strings.Contains(name, "..") || strings.Count(name, "/") > 1 {
			continue
		}
		dir := filepath.Join(modules, filepath.FromSlash(name))
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				out = append(out, real)
			}
		}
	}
	slices.Sort(out)
	return out
}
