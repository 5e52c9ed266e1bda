package lifecycle_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/lifecycle"
)

// Setup commands run on the host only when the host driver was chosen:
// when auto falls back to none (no docker, no bwrap) they are not run.
func TestSetupOnHostOnlyWhenChosen(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	marker := filepath.Join(t.TempDir(), "ran")
	gittest.Git(t, repo, "config", "loop.setup", "echo x >> "+marker)
	svc := service(t, repo) // its engine is always none: auto finds no sandbox
	ctx := context.Background()
	if _, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "fallback", Driver: "auto"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("setup ran on the host although auto fell back to none")
	}
	if _, err := lifecycle.New(ctx, svc, lifecycle.NewOptions{Name: "chosen", Driver: "none"}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(marker); err != nil || string(got) != "x\n" {
		t.Errorf("setup with --driver none: %q, %v", got, err)
	}
}
