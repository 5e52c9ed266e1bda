package vault_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/vault"
)

func TestNewCmdVault(t *testing.T) {
	type O = vault.Options
	cmdtest.TestArgs(t, vault.NewCmdVault, func(o *O) { o.IO, o.Open, o.ReadSecret, o.SetDefault = nil, nil, nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "init", Args: []string{"init", "--export-key", "k"}, Want: O{Verb: "init", ExportKey: "k"}},
		{Name: "unlock stdin", Args: []string{"unlock", "-"}, Want: O{Verb: "unlock", Arg: "-"}},
		{Name: "unlock", Args: []string{"unlock"}, Want: O{Verb: "unlock"}},
		{Name: "lock", Args: []string{"lock"}, Want: O{Verb: "lock"}},
		{Name: "status", Args: []string{"status", "--json", "--no-fetch"}, Want: O{Verb: "status", JSON: true, NoFetch: true}},
		{Name: "ls a vault", Args: []string{"ls", "--vault", "work", "--json"}, Want: O{Verb: "ls", Vault: "work", JSON: true}},
		{Name: "set", Args: []string{"set", "TOKEN", "--vault", "work"}, Want: O{Verb: "set", Arg: "TOKEN", Vault: "work"}},
		{Name: "vault before the verb", Args: []string{"--vault", "work", "get", "TOKEN"}, Want: O{Verb: "get", Arg: "TOKEN", Vault: "work"}},
		{Name: "rm", Args: []string{"rm", "TOKEN"}, Want: O{Verb: "rm", Arg: "TOKEN"}},
		{Name: "mount add", Args: []string{"mount", "add", "/h/.ssh/id", "--as", ".ssh/id"}, Want: O{Verb: "mount-add", Arg: "/h/.ssh/id", As: ".ssh/id"}},
		{Name: "mount rm", Args: []string{"mount", "rm", ".gitconfig"}, Want: O{Verb: "mount-rm", Arg: ".gitconfig"}},
		{Name: "export key", Args: []string{"export-key", "f"}, Want: O{Verb: "export-key", Arg: "f"}},
		{Name: "set with a value", Args: []string{"set", "TOKEN", "s3cret"}, WantErr: "never from the command line"},
		{Name: "set without a name", Args: []string{"set"}, WantErr: "set needs the variable NAME"},
		{Name: "get without a name", Args: []string{"get"}, WantErr: "accepts 1 arg(s), received 0"},
		{Name: "lock takes nothing", Args: []string{"lock", "x"}, WantErr: `unknown command "x"`},
		{Name: "json only on status and ls", Args: []string{"get", "X", "--json"}, WantErr: "unknown flag: --json"},
	})
}
