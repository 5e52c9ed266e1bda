// Package web implements "git loop web": a local, read-only viewer of the
// loops, their diffs and transcripts, the context layers and composition.
package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitloop-dev/git-loop/cmd/internal/cmdutil"
	"github.com/gitloop-dev/git-loop/cmd/internal/iostreams"
	"github.com/gitloop-dev/git-loop/cmd/internal/web/server"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// WebOptions are the inputs of "git loop web".
type WebOptions struct {
	IO           *iostreams.IOStreams
	Workspace    func(context.Context) (*workspace.Workspace, error)
	Listen       string
	Open         bool
	AllowActions bool
	// Ready, when set, is called with the URL once the server listens
	// (tests use it to find the port).
	Ready func(url string)
	// Browse opens a URL in the user's browser.
	Browse func(url string) error
}

// NewCmdWeb builds the command; runF replaces Run in tests.
func NewCmdWeb(f *cmdutil.Factory, runF func(context.Context, *WebOptions) error) *cobra.Command {
	opts := &WebOptions{IO: f.IOStreams, Workspace: f.Workspace, Browse: browse}
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Serve a local, read-only web viewer of loops, diffs, transcripts and context",
		Long: `Serve a web viewer of this repository's loops: every loop with its state
(updating live), each loop's diff against its base and its transcript as a
conversation, the knowledge, notes and personal layers with [[wikilinks]] and
backlinks, the focus board and inbox, and each loop's composed agent config
with the tier every piece came from. Vault values are never shown, only names.

It listens on 127.0.0.1 on a free port unless --listen says otherwise and
prints the URL. Every request needs the access token, from every address,
loopback included (other local processes, and bwrap loops, which share the
host's network, can reach loopback): a random token is put in the printed
URL (and the one --open opens), the first visit sets a cookie that keeps it
and redirects to the address without it, and requests without it get 401.
The viewer is read-only unless --allow-actions adds stop, start and promote
buttons, which accept requests from the viewer's own pages only.`,
		Example: `  git loop web
  git loop web --open
  git loop web --listen 0.0.0.0:8080 --allow-actions`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:0", "address to listen on, HOST:PORT (port 0 picks a free one)")
	cmd.Flags().BoolVar(&opts.Open, "open", false, "open the viewer in the default browser")
	cmd.Flags().BoolVar(&opts.AllowActions, "allow-actions", false, "enable the stop, start and promote buttons")
	return cmd
}

// Run serves until ctx is done.
func Run(ctx context.Context, opts *WebOptions) error {
	if _, _, err := net.SplitHostPort(opts.Listen); err != nil {
		return cmdutil.FlagErrorf("--listen %q: want HOST:PORT, e.g. 127.0.0.1:8080", opts.Listen)
	}
	ws, err := opts.Workspace(ctx)
	if err != nil {
		return err
	}
	// The token is required on loopback too: a bwrap loop shares the
	// host's network, and any local process can connect.
	token := server.NewToken()
	loopback := server.IsLoopback(opts.Listen)
	h, err := server.New(server.Options{Workspace: ws, Token: token, Loopback: loopback, AllowActions: opts.AllowActions})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("git loop web: %w", err)
	}
	url := "http://" + displayAddr(ln.Addr().(*net.TCPAddr)) + "/?token=" + token
	fmt.Fprintln(opts.IO.Out, url)
	if !opts.IO.Quiet() {
		mode := "read-only"
		if opts.AllowActions {
			mode = "stop, start and promote enabled"
		}
		fmt.Fprintf(opts.IO.ErrOut, "Serving git loop web (%s); press Ctrl-C to stop\n", mode)
		if !loopback {
			fmt.Fprintf(opts.IO.ErrOut, "Listening beyond this machine: the URL carries the access token; keep it private\n")
		}
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if opts.Ready != nil {
		opts.Ready(url)
	}
	if opts.Open && opts.Browse != nil {
		if err := opts.Browse(url); err != nil {
			opts.IO.Progress().Warn(fmt.Sprintf("could not open a browser (%v); open %s", err, url))
		}
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// displayAddr is the address to print: an unspecified host (0.0.0.0, ::)
// is shown as this machine's name, which others can reach.
func displayAddr(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "localhost"
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	return net.JoinHostPort(host, fmt.Sprint(a.Port))
}

func browse(url string) error {
	name, args := "xdg-open", []string{url}
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler", url}
	}
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
