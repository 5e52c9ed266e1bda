// Package image implements "git loop image".
package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/docker"
	"github.com/gitloop-dev/git-loop/templates"
)

// BuildOptions are the inputs of "git loop image build".
type BuildOptions struct {
	IO        *iostreams.IOStreams
	Factory   *cmdutil.Factory
	Tag       string
	Dir       string
	BuildArgs []string
	NoCache   bool
}

// NewCmdImage builds "git loop image" and its subcommands.
func NewCmdImage(f *cmdutil.Factory, runF func(context.Context, *BuildOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the sandbox image",
		Long: `Manage the image loops' containers run (docker driver). "git loop image build"
builds the bundled Dockerfile (a small Debian with git, bash, curl and ssh) and
tags it as sandbox.image; any other image can be named in sandbox.image
instead.`,
	}
	opts := &BuildOptions{IO: f.IOStreams, Factory: f}
	build := &cobra.Command{
		Use:   "build",
		Short: "Build the sandbox image with the engine, showing progress",
		Long: `Build the sandbox image with the Docker engine and tag it (default: the
sandbox.image setting). The bundled Dockerfile is used unless --dir names a
directory with a Dockerfile of your own. Build args BASE and PACKAGES choose
the base image and the Debian packages installed.`,
		Example: `  git loop image build
  git loop image build --build-arg BASE=debian:trixie-slim
  git loop image build --dir ./sandbox --tag myteam/sandbox:1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range opts.BuildArgs {
				if !strings.Contains(a, "=") {
					return cmdutil.FlagErrorf("--build-arg %q: want KEY=VALUE", a)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return buildRun(cmd.Context(), opts)
		},
	}
	build.Flags().StringVarP(&opts.Tag, "tag", "t", "", "image tag (default: sandbox.image)")
	build.Flags().StringVar(&opts.Dir, "dir", "", "build context with a Dockerfile (default: the bundled one)")
	build.Flags().StringArrayVar(&opts.BuildArgs, "build-arg", nil, "build argument KEY=VALUE (repeatable)")
	build.Flags().BoolVar(&opts.NoCache, "no-cache", false, "do not use the build cache")
	cmd.AddCommand(build)
	return cmd
}

func buildRun(ctx context.Context, opts *BuildOptions) error {
	tag := opts.Tag
	labels := map[string]string{}
	if cfg, err := opts.Factory.Config(ctx); err == nil && tag == "" {
		tag = cfg.SandboxImage()
	} else if err != nil {
		return err
	}
	if repo, err := opts.Factory.Repo(ctx); err == nil {
		id, err := repo.WorkspaceID()
		if err != nil {
			return err
		}
		labels[sandbox.LabelWorkspace] = id
	}
	eng, err := opts.Factory.Engines.For(ctx, "docker")
	if err != nil {
		return err
	}
	d, ok := eng.(*docker.Engine)
	if !ok {
		return fmt.Errorf("image build needs the docker driver")
	}
	buildArgs := map[string]string{}
	for _, a := range opts.BuildArgs {
		k, v, _ := strings.Cut(a, "=")
		buildArgs[k] = v
	}
	ctxFS := templates.SandboxImage()
	if opts.Dir != "" {
		ctxFS = os.DirFS(opts.Dir)
	}
	var progress io.Writer = opts.IO.ErrOut
	if opts.IO.Quiet() {
		progress = io.Discard
	}
	fmt.Fprintf(opts.IO.ErrOut, "Building %s on %s\n", tag, d.Host())
	id, err := d.BuildImage(ctx, docker.BuildOptions{Context: ctxFS, Tag: tag, Labels: labels, BuildArgs: buildArgs, NoCache: opts.NoCache, Progress: progress})
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out, id)
	return nil
}
