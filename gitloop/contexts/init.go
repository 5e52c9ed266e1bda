package contexts

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
	"github.com/gitloop-dev/git-loop/templates"
)

// LayerInfo describes one context layer as init set it up.
type LayerInfo struct {
	Layer   workspace.Layer `json:"layer"`
	Remote  string          `json:"remote"`
	Clone   string          `json:"clone"`
	Solo    bool            `json:"solo"`              // the remote is a local bare origin git loop made
	Created string          `json:"created,omitempty"` // "origin", "clone", or both, when init made them
}

// InitContext sets up the three context layers: for each, a remote (the
// given or configured URL, or a local bare origin seeded with the layer's
// layout: solo mode) and a main clone under the user's data dir. Running
// it again changes nothing that exists.
func Init(ctx context.Context, s *workspace.Workspace, urls map[workspace.Layer]string) ([]LayerInfo, error) {
	var out []LayerInfo
	for _, l := range workspace.Layers {
		remote := urls[l]
		if remote == "" {
			remote = workspace.LayerRemote(s.Config, s.Dirs, l)
		}
		info := LayerInfo{Layer: l, Remote: remote, Solo: remote == s.Dirs.OriginPath(l)}
		if info.Solo && !workspace.Exists(remote) {
			if err := createOrigin(ctx, s, l, remote); err != nil {
				return out, fmt.Errorf("init %s: %w", l, err)
			}
			info.Created = "origin"
		}
		info.Clone = s.Dirs.ClonePath(l, remote)
		if !workspace.Exists(info.Clone) {
			s.Reporter().Step(fmt.Sprintf("cloning %s from %s", l, remote))
			if err := os.MkdirAll(filepath.Dir(info.Clone), 0o755); err != nil {
				return out, err
			}
			tmp := info.Clone + ".tmp"
			_ = os.RemoveAll(tmp) // a clone an earlier init was cut off in
			if err := s.Git.Run(ctx, git.Cmd{Label: string(l), Args: []string{"clone", "-q", "--", remote, tmp}}); err != nil {
				return out, fmt.Errorf("init %s: %w\ncheck the URL and your access (\"git ls-remote %s\"), then run \"git loop init\" again (\"--%s URL\" changes the URL)", l, err, remote, l)
			}
			// Clone into a temp dir and rename, so an interrupted clone is
			// never mistaken for a finished one.
			if err := os.Rename(tmp, info.Clone); err != nil {
				return out, fmt.Errorf("init %s: %w", l, err)
			}
			info.Created = strings.TrimPrefix(info.Created+"+clone", "+")
		}
		out = append(out, info)
	}
	return out, nil
}

// createOrigin makes a bare repository seeded with the layer's layout.
func createOrigin(ctx context.Context, s *workspace.Workspace, l workspace.Layer, origin string) error {
	s.Reporter().Step(fmt.Sprintf("creating %s origin %s", l, origin))
	if err := os.MkdirAll(filepath.Dir(origin), 0o755); err != nil {
		return err
	}
	tmpOrigin := origin + ".tmp"
	_ = os.RemoveAll(tmpOrigin)
	if err := s.Git.Run(ctx, git.Cmd{Label: string(l), Args: []string{"init", "-q", "--bare", "-b", "main", tmpOrigin}}); err != nil {
		return err
	}
	seed, err := os.MkdirTemp("", "gitloop-seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(seed)
	if err := s.Git.Run(ctx, git.Cmd{Label: string(l), Args: []string{"init", "-q", "-b", "main", seed}}); err != nil {
		return err
	}
	if err := copyFS(seed, templates.Seed(string(l))); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"add", "-A"},
		{"-c", "user.name=git loop", "-c", "user.email=git-loop@localhost", "commit", "-q", "-m", fmt.Sprintf("%s: initial layout", l)},
		{"push", "-q", tmpOrigin, "main"},
	} {
		if err := s.Git.Run(ctx, git.Cmd{Dir: seed, Label: string(l), Args: args}); err != nil {
			return err
		}
	}
	return os.Rename(tmpOrigin, origin)
}

// copyFS writes every file of src under dir.
func copyFS(dir string, src fs.FS) error {
	return fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
