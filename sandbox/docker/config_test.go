package docker

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/gitloop-dev/git-loop/sandbox"
)

func TestContainerConfig(t *testing.T) {
	spec := sandbox.Spec{
		Workspace: "ws", Loop: "My_Loop", Image: "img:1", Workdir: "/r/work", Home: "/r/home", User: "1000:1000",
		Mounts: []sandbox.Mount{
			{Source: "/r/git/loop/loops/my", Target: "/r/git/loop/loops/my"},
			{Target: "/r/git/loop", Tmpfs: true},
			{Source: "/r/git", Target: "/r/git"},
			{Source: "/r/work", Target: "/r/work"},
			{Source: "/v/ssh", Target: "/r/home/.ssh", ReadOnly: true},
		},
		Ports: []sandbox.Port{{Host: 8080, Container: 3000}},
		Env:   map[string]string{"TOKEN": "secret"},
	}
	cfg, host, err := containerConfig(spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Env) != 0 {
		t.Errorf("env in the stored config: %v", cfg.Env)
	}
	if cfg.User != "1000:1000" || cfg.WorkingDir != "/r/work" || cfg.Hostname != "my-loop" || strings.Join(cfg.Cmd, " ") != "sleep infinity" {
		t.Errorf("config %+v", cfg)
	}
	if cfg.Labels[sandbox.LabelConfigHash] != spec.ConfigHash() || cfg.Labels[sandbox.LabelWorkspace] != "ws" {
		t.Errorf("labels %v", cfg.Labels)
	}
	if host.Init == nil || !*host.Init || host.Privileged {
		t.Errorf("host config: init %v, privileged %v", host.Init, host.Privileged)
	}
	var targets []string
	for _, m := range host.Mounts {
		targets = append(targets, m.Target)
		switch m.Target {
		case "/r/git/loop":
			if m.Type != mount.TypeTmpfs {
				t.Errorf("hidden dir mounted as %s", m.Type)
			}
		case "/r/home/.ssh":
			if !m.ReadOnly {
				t.Error("read-only mount is writable")
			}
		case "/r/home":
			if m.Source != "/r/home" || m.ReadOnly {
				t.Errorf("implicit home mount %+v", m)
			}
		}
	}
	want := "/r/git /r/work /r/home /r/git/loop /r/home/.ssh /r/git/loop/loops/my"
	if got := strings.Join(targets, " "); got != want {
		t.Errorf("mount order %s, want parents first: %s", got, want)
	}
	for p, bs := range host.PortBindings {
		if p.Num() != 3000 || len(bs) != 1 || bs[0].HostIP.String() != "127.0.0.1" || bs[0].HostPort != "8080" {
			t.Errorf("port binding %v: %+v", p, bs)
		}
	}

	spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: "/x", Target: "/r/git/"})
	if _, _, err := containerConfig(spec); err == nil {
		t.Error("two mounts at one target accepted")
	}
}

func TestValidate(t *testing.T) {
	good := sandbox.Spec{Workspace: "w", Loop: "l", Image: "i", Workdir: "/w"}
	if err := validate(good); err != nil {
		t.Fatal(err)
	}
	noImage := good
	noImage.Image = ""
	if err := validate(noImage); err == nil || !strings.Contains(err.Error(), "git loop image build") {
		t.Errorf("no image: %v", err)
	}
	relative := good
	relative.Workdir = "w"
	if err := validate(relative); err == nil {
		t.Error("relative workdir accepted")
	}
}

func TestStreamProgress(t *testing.T) {
	in := `{"stream":"Step 1/2 : FROM scratch\n"}
{"status":"Downloading","id":"abc"}
{"aux":{"ID":"sha256:123"}}
{"stream":"Successfully built 123\n"}
`
	var out strings.Builder
	id, err := streamProgress(strings.NewReader(in), &out)
	if err != nil || id != "sha256:123" {
		t.Fatalf("id %q, %v", id, err)
	}
	if want := "Step 1/2 : FROM scratch\nabc: Downloading\nSuccessfully built 123\n"; out.String() != want {
		t.Errorf("progress %q, want %q", out.String(), want)
	}
	_, err = streamProgress(strings.NewReader(`{"errorDetail":{"message":"boom"},"error":"boom"}`), &out)
	if err == nil || err.Error() != "boom" {
		t.Errorf("error message: %v", err)
	}
}

func TestHostname(t *testing.T) {
	for in, want := range map[string]string{"fix-bug": "fix-bug", "Feat/X_1": "feat-x-1", "__": "loop", strings.Repeat("a", 70): strings.Repeat("a", 63)} {
		if got := hostname(in); got != want {
			t.Errorf("hostname(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMadeFor: a container is used for a spec only when git loop made it
// for that spec's workspace, loop and config; a container that merely has
// the name (another workspace's, made by hand) is not.
func TestMadeFor(t *testing.T) {
	spec := sandbox.Spec{Workspace: "w1", Loop: "a", Workdir: "/w", Image: "img"}
	if !madeFor(&container.Config{Labels: spec.Labels()}, spec) {
		t.Error("the spec's own container is not used")
	}
	other := spec
	other.Workspace = "w2"
	for _, c := range []*container.Config{nil, {}, {Labels: other.Labels()}, {Labels: map[string]string{sandbox.LabelConfigHash: spec.ConfigHash()}}} {
		if madeFor(c, spec) {
			t.Errorf("container labelled %v is used for workspace w1", c)
		}
	}
}
