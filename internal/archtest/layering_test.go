// Package archtest keeps the layering of docs/ARCHITECTURE.md: imports point down
// only (cmd → gitloop → sandbox, hooks, templates), and each third-party
// dependency stays in the one place allowed to use it. (viper itself
// depends on pflag, so pflag is checked as a direct import only.)
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/gitloop-dev/git-loop"

type pkg struct {
	ImportPath   string
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
}

func packages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func under(path, dir string) bool {
	full := module + "/" + dir
	return path == full || strings.HasPrefix(path, full+"/")
}

func TestLayering(t *testing.T) {
	for _, p := range packages(t) {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		for _, imp := range p.Imports {
			switch {
			// Imports point down only.
			case under(imp, "cmd") && !under(p.ImportPath, "cmd"):
				t.Errorf("%s imports %s: only cmd/ may import cmd/", rel, imp)
			case under(imp, "gitloop") && (under(p.ImportPath, "sandbox") || under(p.ImportPath, "templates") || under(p.ImportPath, "hooks")):
				t.Errorf("%s imports %s: sandbox, hooks and templates sit below gitloop", rel, imp)
			// The Docker client only in sandbox/docker.
			case strings.HasPrefix(imp, "github.com/moby/moby/") && !under(p.ImportPath, "sandbox/docker"):
				t.Errorf("%s imports %s: the Docker client belongs to sandbox/docker", rel, imp)
			// The Kubernetes client only in sandbox/kube.
			case strings.HasPrefix(imp, "k8s.io/") && !under(p.ImportPath, "sandbox/kube"):
				t.Errorf("%s imports %s: the Kubernetes client belongs to sandbox/kube", rel, imp)
			// viper only in gitloop/config.
			case strings.HasPrefix(imp, "github.com/spf13/viper") && !under(p.ImportPath, "gitloop/config"):
				t.Errorf("%s imports %s: viper belongs to gitloop/config", rel, imp)
			// Markdown rendering belongs to the web viewer; the browser
			// driver to its tests.
			case strings.HasPrefix(imp, "github.com/yuin/goldmark") && !under(p.ImportPath, "cmd/internal/web/server"):
				t.Errorf("%s imports %s: markdown rendering belongs to cmd/internal/web/server", rel, imp)
			case strings.HasPrefix(imp, "github.com/chromedp/"):
				t.Errorf("%s imports %s: the browser driver belongs to tests", rel, imp)
			// The web viewer's handlers only behind its command.
			case under(imp, "cmd/internal/web/server") && !under(p.ImportPath, "cmd/internal/web"):
				t.Errorf("%s imports %s: only the web command serves the viewer", rel, imp)
			// pflag reaches gitloop/config only through viper.
			case strings.HasPrefix(imp, "github.com/spf13/pflag") && !under(p.ImportPath, "cmd"):
				t.Errorf("%s imports %s: flags belong to cmd/", rel, imp)
			}
		}
		// The man page renderer (cobra/doc on go-md2man and blackfriday)
		// only in gen-docs: git-loop writes the pages it rendered (package
		// man), and whatever it links initialises in every process.
		if p.ImportPath == module+"/cmd/git-loop" {
			for _, d := range p.Deps {
				if strings.HasPrefix(d, "github.com/spf13/cobra/doc") {
					t.Errorf("cmd/git-loop depends on %s: install-docs writes the embedded pages of package man", d)
				}
			}
		}
		// cobra and go-isatty only under cmd/, even indirectly.
		if !under(p.ImportPath, "cmd") {
			for _, d := range p.Deps {
				if strings.HasPrefix(d, "github.com/spf13/cobra") || strings.HasPrefix(d, "github.com/mattn/go-isatty") {
					t.Errorf("%s depends on %s: terminal and flag libraries belong to cmd/", rel, d)
				}
			}
		}
	}
}
