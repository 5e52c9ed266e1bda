package land

import (
	"reflect"
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

func TestHostRepoURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/acme/demo.git":      "https://github.com/acme/demo",
		"https://github.com/acme/demo":          "https://github.com/acme/demo",
		"git@github.com:acme/demo.git":          "https://github.com/acme/demo",
		"ssh://git@gitlab.com/group/sub/x.git":  "https://gitlab.com/group/sub/x",
		"https://git.example.com/acme/demo.git": "",
		"/srv/git/notes.git":                    "",
		"../origin.git":                         "",
		"https://github.com/":                   "",
	} {
		if got := hostRepoURL(in); got != want {
			t.Errorf("hostRepoURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseLayers(t *testing.T) {
	got, err := ParseLayers([]string{"notes,code", "notes"})
	if err != nil || !reflect.DeepEqual(got, []workspace.Layer{workspace.Notes, Code}) {
		t.Errorf("got %v %v", got, err)
	}
	if got, err := ParseLayers([]string{"notes", "all"}); err != nil || got != nil {
		t.Errorf("all: %v %v", got, err)
	}
	if _, err := ParseLayers([]string{"vault"}); err == nil {
		t.Error("unknown layer accepted")
	}
}
