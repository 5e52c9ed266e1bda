package docker

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// BuildOptions describe one image build.
type BuildOptions struct {
	// Context is the build context: a directory (os.DirFS) or an embedded
	// tree (embed.FS, fs.Sub of one). Symlinks are kept where the FS can
	// read them (fs.ReadLinkFS); .dockerignore is not honoured.
	Context fs.FS
	// Dockerfile is its path inside Context; default "Dockerfile".
	Dockerfile string
	Tag        string
	// Labels are added to the image, e.g. dev.gitloop.workspace so that
	// uninstall finds it.
	Labels    map[string]string
	BuildArgs map[string]string
	NoCache   bool
	// Progress receives the build's output as plain lines; nil discards it.
	Progress io.Writer
}

// BuildImage builds an image from opts.Context and returns its id. The
// engine's builder picks the API it supports (the classic builder on old
// engines), so the Dockerfile should not need BuildKit-only syntax.
func (e *Engine) BuildImage(ctx context.Context, opts BuildOptions) (string, error) {
	if opts.Context == nil {
		return "", errors.New("docker build: no build context")
	}
	if opts.Tag == "" {
		return "", errors.New("docker build: no image tag")
	}
	what := "docker build " + opts.Tag
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.AddFS(opts.Context)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()

	args := make(map[string]*string, len(opts.BuildArgs))
	for k, v := range opts.BuildArgs {
		args[k] = &v
	}
	res, err := e.cli.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags:        []string{opts.Tag},
		Dockerfile:  opts.Dockerfile,
		Labels:      opts.Labels,
		BuildArgs:   args,
		NoCache:     opts.NoCache,
		Remove:      true,
		ForceRemove: true,
	})
	if err != nil {
		return "", e.wrap(what, err)
	}
	defer res.Body.Close()
	id, err := streamProgress(res.Body, orDiscard(opts.Progress))
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return id, nil
}

// streamProgress prints the engine's JSON message stream as plain text and
// returns the built image id, which arrives as an aux message.
func streamProgress(r io.Reader, w io.Writer) (string, error) {
	dec := json.NewDecoder(r)
	var id string
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return id, nil
		} else if err != nil {
			return id, fmt.Errorf("read build output: %w", err)
		}
		if m.Error != nil {
			return id, errors.New(strings.TrimSpace(m.Error.Message))
		}
		switch {
		case m.Stream != "":
			fmt.Fprint(w, m.Stream)
		case m.Status != "":
			if m.ID != "" {
				fmt.Fprintf(w, "%s: %s\n", m.ID, m.Status)
			} else {
				fmt.Fprintln(w, m.Status)
			}
		}
		if m.Aux != nil {
			var aux struct{ ID string }
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
	}
}

// ImportImage makes an image of a root filesystem tarball, as "docker
// import" does, tags it ref and applies Dockerfile-style changes to its
// config ("LABEL k=v", "ENV K=V", "CMD [...]"). It returns the image id.
func (e *Engine) ImportImage(ctx context.Context, rootfs io.Reader, ref string, changes []string) (string, error) {
	what := "docker import " + ref
	res, err := e.cli.ImageImport(ctx, client.ImageImportSource{Source: rootfs, SourceName: "-"}, ref, client.ImageImportOptions{Changes: changes})
	if err != nil {
		return "", e.wrap(what, err)
	}
	defer res.Close()
	if _, err := streamProgress(res, io.Discard); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	img, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		return "", e.wrap(what, err)
	}
	return img.ID, nil
}

// ImageExists reports whether ref (a tag or id) is on the engine.
func (e *Engine) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := e.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, e.wrap("docker image inspect "+ref, err)
	}
}

// Preflight fails early when the spec's image is not on the engine, or
// when it binds host paths the engine cannot see, with the same message
// Ensure would give.
func (e *Engine) Preflight(ctx context.Context, spec sandbox.Spec) error {
	ok, err := e.ImageExists(ctx, spec.Image)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: image %q is not on the engine at %s: run \"git loop image build\" or set sandbox.image to an image you have", ErrImageNotFound, spec.Image, e.Host())
	}
	_, err = e.checkPlacement(ctx, spec)
	return err
}

// ImageID is the id of the image ref names on the engine.
func (e *Engine) ImageID(ctx context.Context, ref string) (string, error) {
	img, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		return "", e.wrap("docker image inspect "+ref, err)
	}
	return img.ID, nil
}
