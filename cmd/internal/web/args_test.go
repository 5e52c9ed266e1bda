package web_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/web"
)

func TestNewCmdWeb(t *testing.T) {
	type O = web.WebOptions
	cmdtest.TestArgs(t, web.NewCmdWeb, func(o *O) { o.IO, o.Workspace, o.Browse = nil, nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "loopback, a free port", Want: O{Listen: "127.0.0.1:0"}},
		{Name: "every flag", Args: []string{"--listen", "0.0.0.0:8080", "--open", "--allow-actions"}, Want: O{Listen: "0.0.0.0:8080", Open: true, AllowActions: true}},
		{Name: "an argument", Args: []string{"extra"}, WantErr: `unknown command "extra"`},
		{Name: "listen without an address", Args: []string{"--listen"}, WantErr: "flag needs an argument: --listen"},
	})
}
