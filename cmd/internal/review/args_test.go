package review_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/review"
)

func TestNewCmdReview(t *testing.T) {
	type O = review.ReviewOptions
	cmdtest.TestArgs(t, review.NewCmdReview, func(o *O) { o.IO, o.Workspace = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "bare is ls", Want: O{Op: "ls"}},
		{Name: "bare json", Args: []string{"--json"}, Want: O{Op: "ls", JSON: true}},
		{Name: "ls", Args: []string{"ls", "--json"}, Want: O{Op: "ls", JSON: true}},
		{Name: "show", Args: []string{"show", "knowledge/x", "--stat"}, Want: O{Op: "show", Proposal: "knowledge/x", Stat: true}},
		{Name: "merge", Args: []string{"merge", "x", "--json", "--dry-run"}, Want: O{Op: "merge", Proposal: "x", JSON: true, DryRun: true}},
		{Name: "discard", Args: []string{"discard", "code/x", "--dry-run"}, Want: O{Op: "discard", Proposal: "code/x", DryRun: true}},
		{Name: "show without a proposal", Args: []string{"show"}, WantErr: `review show needs one PROPOSAL (see "git loop review ls")`},
		{Name: "merge two", Args: []string{"merge", "a", "b"}, WantErr: "review merge needs one PROPOSAL"},
		{Name: "show has no dry run", Args: []string{"show", "x", "--dry-run"}, WantErr: "unknown flag: --dry-run"},
		{Name: "discard has no json", Args: []string{"discard", "x", "--json"}, WantErr: "unknown flag: --json"},
		{Name: "ls takes no proposal", Args: []string{"ls", "x"}, WantErr: `unknown command "x"`},
		{Name: "unknown op", Args: []string{"land", "x"}, WantErr: `unknown command "land"`},
	})
}
