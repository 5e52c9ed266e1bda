package root_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/NAME.golden after normalising temp
// paths, SHAs and ages.
func golden(t *testing.T, name, got string, replace map[string]string) {
	t.Helper()
	for from, to := range replace {
		got = strings.ReplaceAll(got, from, to)
	}
	got = regexp.MustCompile(`\b[0-9a-f]{40}\b`).ReplaceAllString(got, "<sha>")
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/internal/root -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden (go test ./cmd/internal/root -run %s -update to accept):\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

func TestGoldenHelp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{{"--help"}, {"new", "--help"}, {"ls", "--help"}, {"rm", "--help"}, {"config", "--help"}} {
		r := cmdtest.Run(t, dir, args...)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d %s", args, r.Code, r.Stderr)
		}
		name := "root"
		if args[0] != "--help" {
			name = args[0]
		}
		golden(t, "help-"+name, r.Stdout, nil)
	}
}

func TestGoldenLs(t *testing.T) {
	t.Parallel()
	repo := gittest.Repo(t)
	cmdtest.MustRun(t, repo, "new", "alpha", "--driver", "none", "-d")
	cmdtest.MustRun(t, repo, "new", "beta", "--driver", "none", "-d")
	cmdtest.MustRun(t, repo, "exec", "beta", "--", "sh", "-c", "echo 1 > f && git add f && git commit -qm f && echo 2 > g")
	r := cmdtest.MustRun(t, repo, "ls")
	human := regexp.MustCompile(`(?m)\d+[smhd]$`).ReplaceAllString(r.Stdout, "<age>")
	golden(t, "ls", human, nil)
	r = cmdtest.MustRun(t, repo, "ls", "--json")
	js := regexp.MustCompile(`"created": "[^"]+"`).ReplaceAllString(r.Stdout, `"created": "<time>"`)
	golden(t, "ls-json", js, map[string]string{repo: "<repo>"})
}
