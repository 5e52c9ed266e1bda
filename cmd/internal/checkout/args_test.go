package checkout_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/checkout"
)

func TestNewCmdCheckout(t *testing.T) {
	type O = checkout.CheckoutOptions
	cmdtest.TestArgs(t, checkout.NewCmdCheckout, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "named", Args: []string{"x"}, Want: O{Name: "x"}},
		{Name: "with dir", Args: []string{"x", "--dir", "/tmp/co"}, Want: O{Name: "x", Dir: "/tmp/co"}},
		{Name: "no name", WantErr: "needs exactly one loop NAME"},
	})
}
