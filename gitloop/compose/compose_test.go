package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gitloop-dev/git-loop/sandbox/sandboxtest"
	"github.com/pelletier/go-toml/v2"
)

func TestInstructionsConcatenatedWithSources(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{"CLAUDE.md": "team rules\n"})
	prof := tier(t, base, "profile:go", map[string]string{"CLAUDE.md": "go rules"})
	empty := tier(t, base, "profile:empty", map[string]string{"CLAUDE.md": "\n\n"})
	pers := tier(t, base, "personal", map[string]string{"CLAUDE.md": "my rules\n"})
	doctrine := Tier{Name: "doctrine", Template: "loop {{.Loop}} works in {{.Workdir}}; memory at {{.Memory}}\n"}
	res, dir := mustCompose(t, Options{
		Tiers: []Tier{doctrine, team, prof, empty, pers},
		Data:  Data{Loop: "x", Workdir: "/w/x", Memory: "/p/memory"},
	})
	got := read(t, filepath.Join(dir, "CLAUDE.md"))
	want := "<!-- git loop: from doctrine (template) -->\n" +
		"loop x works in /w/x; memory at /p/memory\n" +
		"\n<!-- git loop: from team (" + filepath.Join(team.Dir, "CLAUDE.md") + ") -->\n" +
		"team rules\n" +
		"\n<!-- git loop: from profile:go (" + filepath.Join(prof.Dir, "CLAUDE.md") + ") -->\n" +
		"go rules\n" +
		"\n<!-- git loop: from personal (" + filepath.Join(pers.Dir, "CLAUDE.md") + ") -->\n" +
		"my rules\n"
	if got != want {
		t.Fatalf("CLAUDE.md:\n%s\nwant:\n%s", got, want)
	}
	f := fileOf(t, res, "CLAUDE.md")
	eq(t, "CLAUDE.md tiers", f.Tiers, []string{"doctrine", "team", "profile:go", "personal"})
	eq(t, "CLAUDE.md sources", f.Sources, []string{"template", filepath.Join(team.Dir, "CLAUDE.md"), filepath.Join(prof.Dir, "CLAUDE.md"), filepath.Join(pers.Dir, "CLAUDE.md")})
}

func TestTemplateErrorsNameTheTier(t *testing.T) {
	_, err := Plan(Options{Tiers: []Tier{{Name: "doctrine", Template: "{{.Nope}}"}}})
	if err == nil || !strings.Contains(err.Error(), "tier doctrine: template") {
		t.Fatalf("err = %v", err)
	}
}

func TestSettingsMergeOneLevelLaterWins(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{"settings.json": `{
  "model": "sonnet",
  "includeCoAuthoredBy": false,
  "permissions": {"allow": ["Bash(go test:*)"], "deny": ["Read(.env)"]},
  "env": {"A": "team", "B": "team"},
  "mcpServers": {
    "github": {"command": "gh-mcp", "args": ["--team"], "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"}},
    "docs": {"type": "http", "url": "https://docs.example/mcp", "headers": {"Authorization": "Bearer ${DOCS_TOKEN}"}}
  },
  "hooks": {"PostToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "gofmt -l . && go vet ./..."}]}]},
  "statusLine": {"type": "command", "command": "status.sh"},
  "big": 12345678901234567890
}`})
	pers := tier(t, base, "personal", map[string]string{"settings.json": `{
  "model": "opus",
  "env": {"B": "personal", "C": "personal"},
  "mcpServers": {"github": {"command": "gh-mcp-personal"}},
  "statusLine": "off",
  "permissions": {"allow": ["Bash(make:*)"]},
  "cleanupPeriodDays": 7
}`})
	res, dir := mustCompose(t, Options{Tiers: []Tier{team, pers}, MemoryDir: "/p/memory"})
	raw := read(t, filepath.Join(dir, "settings.json"))
	var got map[string]any
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if !bytes.Equal(g, w) {
			t.Errorf("%s = %s, want %s", what, g, w)
		}
	}
	check("model", got["model"], "opus")
	check("includeCoAuthoredBy", got["includeCoAuthoredBy"], false)
	check("env", got["env"], map[string]any{"A": "team", "B": "personal", "C": "personal"})
	check("permissions", got["permissions"], map[string]any{"allow": []any{"Bash(make:*)"}, "deny": []any{"Read(.env)"}})
	check("mcpServers.github", got["mcpServers"].(map[string]any)["github"], map[string]any{"command": "gh-mcp-personal"})
	check("mcpServers.docs", got["mcpServers"].(map[string]any)["docs"], map[string]any{
		"type": "http", "url": "https://docs.example/mcp", "headers": map[string]any{"Authorization": "Bearer ${DOCS_TOKEN}"}})
	check("statusLine", got["statusLine"], "off")
	check("cleanupPeriodDays", got["cleanupPeriodDays"], 7)
	check("autoMemoryEnabled", got["autoMemoryEnabled"], true)
	check("autoMemoryDirectory", got["autoMemoryDirectory"], "/p/memory")

	// Secrets stay references, commands read as written, numbers keep
	// their digits.
	for _, s := range []string{`"Bearer ${DOCS_TOKEN}"`, `gofmt -l . && go vet ./...`, `12345678901234567890`} {
		if !strings.Contains(raw, s) {
			t.Errorf("settings.json lacks %s:\n%s", s, raw)
		}
	}
	// Sorted keys at the top level and in merged objects.
	var order []string
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		order = append(order, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	if !slices.IsSorted(order) {
		t.Errorf("top-level keys not sorted: %v", order)
	}
	if strings.Index(raw, `"docs"`) > strings.Index(raw, `"github"`) {
		t.Errorf("mcpServers not sorted:\n%s", raw)
	}

	f := fileOf(t, res, "settings.json")
	eq(t, "settings tiers", f.Tiers, []string{"team", "personal", Injected})
	for _, c := range []struct {
		key       string
		tiers     []string
		overrides []string
	}{
		{"model", []string{"personal"}, []string{"team"}},
		{"includeCoAuthoredBy", []string{"team"}, nil},
		{"env", []string{"team", "personal"}, nil},
		{"env.A", []string{"team"}, nil},
		{"env.B", []string{"personal"}, []string{"team"}},
		{"env.C", []string{"personal"}, nil},
		{"mcpServers", []string{"team", "personal"}, nil},
		{"mcpServers.github", []string{"personal"}, []string{"team"}},
		{"mcpServers.docs", []string{"team"}, nil},
		{"permissions.allow", []string{"personal"}, []string{"team"}},
		{"permissions.deny", []string{"team"}, nil},
		{"statusLine", []string{"personal"}, []string{"team"}},
		{"autoMemoryEnabled", []string{Injected}, nil},
		{"autoMemoryDirectory", []string{Injected}, nil},
	} {
		k := keyOf(t, f, c.key)
		eq(t, c.key+" tiers", k.Tiers, c.tiers)
		eq(t, c.key+" overrides", k.Overrides, c.overrides)
	}
	if k := keyOf(t, f, "mcpServers.github"); k.Parent != "mcpServers" {
		t.Errorf("parent = %q", k.Parent)
	}
	if _, ok := f.Key("statusLine.command"); ok {
		t.Error("a replaced object keeps its old sub-keys' provenance")
	}

	// Claude reads MCP servers from --mcp-config, not settings.json.
	if res.MCPConfig != MCPConfigFile {
		t.Fatalf("MCPConfig = %q", res.MCPConfig)
	}
	var mcp struct {
		MCPServers map[string]map[string]any `json:"mcpServers"`
	}
	mraw := read(t, filepath.Join(dir, MCPConfigFile))
	if err := json.Unmarshal([]byte(mraw), &mcp); err != nil {
		t.Fatal(err)
	}
	if len(mcp.MCPServers) != 2 || mcp.MCPServers["github"]["command"] != "gh-mcp-personal" || !strings.Contains(mraw, "Bearer ${DOCS_TOKEN}") {
		t.Errorf("%s = %s", MCPConfigFile, mraw)
	}
	mf := fileOf(t, res, MCPConfigFile)
	eq(t, "mcp.json tiers", mf.Tiers, []string{"team", "personal"})
	eq(t, "mcp.json github", keyOf(t, mf, "mcpServers.github").Tiers, []string{"personal"})
}

func TestGeneratedFilesWinOverTierFiles(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{
		"settings.json": `{"mcpServers": {"a": {"command": "a"}}}`,
		"mcp.json":      `{"mcpServers": {"stale": {"command": "x"}}}`,
	})
	res, dir := mustCompose(t, Options{Tiers: []Tier{team}})
	if strings.Contains(read(t, filepath.Join(dir, "mcp.json")), "stale") {
		t.Error("tier's mcp.json copied over the composed one")
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "mcp.json from tier team") {
		t.Errorf("warnings = %v", res.Warnings)
	}
	// Without servers there is no mcp.json, and the tier's is copied.
	team2 := tier(t, t.TempDir(), "team", map[string]string{"mcp.json": `{}`})
	res, _ = mustCompose(t, Options{Tiers: []Tier{team2}})
	if res.MCPConfig != "" || fileOf(t, res, "mcp.json").Tier() != "team" {
		t.Errorf("MCPConfig = %q", res.MCPConfig)
	}
}

func TestSettingsInvalidJSONNamesFileAndPosition(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{"settings.json": "{\n  \"model\": \"x\",\n  \"env\": {,}\n}\n"})
	_, err := Plan(Options{Tiers: []Tier{team}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"tier team", filepath.Join(team.Dir, "settings.json"), "line 3, column 11"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	arr := tier(t, base, "personal", map[string]string{"settings.json": "[1]"})
	if _, err := Plan(Options{Tiers: []Tier{arr}}); err == nil || !strings.Contains(err.Error(), "must be a JSON object") {
		t.Errorf("array settings: %v", err)
	}
}

func TestInjectedMemorySettingsYieldToTiers(t *testing.T) {
	base := t.TempDir()
	pers := tier(t, base, "personal", map[string]string{"settings.json": `{"autoMemoryEnabled": false, "autoMemoryDirectory": "/elsewhere"}`})
	res, dir := mustCompose(t, Options{Tiers: []Tier{pers}, MemoryDir: "/p/memory"})
	var got map[string]any
	json.Unmarshal([]byte(read(t, filepath.Join(dir, "settings.json"))), &got)
	if got["autoMemoryEnabled"] != false || got["autoMemoryDirectory"] != "/elsewhere" {
		t.Fatalf("settings = %v", got)
	}
	f := fileOf(t, res, "settings.json")
	eq(t, "settings tiers", f.Tiers, []string{"personal"})
	for _, k := range f.Keys {
		if slices.Contains(k.Tiers, Injected) {
			t.Errorf("%s injected although a tier set it", k.Key)
		}
	}

	// No tier at all: still a settings.json turning memory on, and the
	// dir defaults to Data.Memory.
	res, dir = mustCompose(t, Options{Data: Data{Memory: "/m"}})
	json.Unmarshal([]byte(read(t, filepath.Join(dir, "settings.json"))), &got)
	if got["autoMemoryEnabled"] != true || got["autoMemoryDirectory"] != "/m" {
		t.Fatalf("settings = %v", got)
	}
	eq(t, "tiers", fileOf(t, res, "settings.json").Tiers, []string{Injected})
}

func TestMiseTablesMergeOneLevel(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{"mise.toml": `
[tools]
go = "1.24"
node = "20"

[env]
GOFLAGS = "-mod=mod"

[tasks.build]
run = "go build ./..."
depends = ["gen"]

[settings]
experimental = true
jobs = [1, 2]
`})
	pers := tier(t, base, "personal", map[string]string{"mise.toml": `
min_version = "2024.1.0"

[tools]
go = "1.25"

[tasks.build]
run = "make"

[settings]
jobs = [4]
`})
	res, dir := mustCompose(t, Options{Tiers: []Tier{team, pers}})
	var got map[string]any
	if err := toml.Unmarshal([]byte(read(t, filepath.Join(dir, "mise.toml"))), &got); err != nil {
		t.Fatal(err)
	}
	tools := got["tools"].(map[string]any)
	if tools["go"] != "1.25" || tools["node"] != "20" {
		t.Errorf("tools = %v", tools)
	}
	if got["env"].(map[string]any)["GOFLAGS"] != "-mod=mod" || got["min_version"] != "2024.1.0" {
		t.Errorf("mise = %v", got)
	}
	// One level deep: tasks.build is replaced whole, so depends is gone.
	build := got["tasks"].(map[string]any)["build"].(map[string]any)
	if build["run"] != "make" || build["depends"] != nil {
		t.Errorf("tasks.build = %v", build)
	}
	settings := got["settings"].(map[string]any)
	if settings["experimental"] != true || fmt.Sprint(settings["jobs"]) != "[4]" {
		t.Errorf("settings = %v", settings)
	}
	f := fileOf(t, res, "mise.toml")
	eq(t, "mise tiers", f.Tiers, []string{"team", "personal"})
	eq(t, "tools.go", keyOf(t, f, "tools.go").Tiers, []string{"personal"})
	eq(t, "tools.go overrides", keyOf(t, f, "tools.go").Overrides, []string{"team"})
	eq(t, "tools.node", keyOf(t, f, "tools.node").Tiers, []string{"team"})
	eq(t, "tasks.build", keyOf(t, f, "tasks.build").Tiers, []string{"personal"})
	eq(t, "min_version", keyOf(t, f, "min_version").Tiers, []string{"personal"})
}

func TestMiseFromOneTierKeepsItsText(t *testing.T) {
	base := t.TempDir()
	text := "# team toolchain\n[tools]\ngo = \"1.25\" # pinned\n"
	team := tier(t, base, "team", map[string]string{"mise.toml": text})
	_, dir := mustCompose(t, Options{Tiers: []Tier{team, tier(t, base, "personal", nil)}})
	if got := read(t, filepath.Join(dir, "mise.toml")); got != text {
		t.Fatalf("mise.toml = %q", got)
	}
}

func TestMiseInvalidTOMLNamesFileAndLine(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{"mise.toml": "[tools]\ngo = \"1.25\"\nnode = \n"})
	_, err := Plan(Options{Tiers: []Tier{team}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"tier team", filepath.Join(team.Dir, "mise.toml"), "line 3"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
}

func TestSkillsAndAgentsShadowWhole(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{
		"skills/review/SKILL.md":  "team review",
		"skills/review/helper.sh": "#!/bin/sh\necho team\n",
		"skills/review/ref/a.md":  "a",
		"skills/deploy/SKILL.md":  "deploy",
		"skills/deploy/run.sh":    "#!/bin/sh\necho deploy\n",
		"skills/.gitkeep":         "",
		"agents/reviewer.md":      "team reviewer",
		"agents/planner.md":       "planner",
	})
	pers := tier(t, base, "personal", map[string]string{
		"skills/review/SKILL.md": "my review",
		"skills/notes/SKILL.md":  "notes",
		"agents/reviewer.md":     "my reviewer",
	})
	res, dir := mustCompose(t, Options{Tiers: []Tier{team, pers}})
	if got := read(t, filepath.Join(dir, "skills/review/SKILL.md")); got != "my review" {
		t.Errorf("review = %q", got)
	}
	for _, gone := range []string{"skills/review/helper.sh", "skills/review/ref", "skills/.gitkeep"} {
		if exists(filepath.Join(dir, gone)) {
			t.Errorf("%s survived the personal skill shadowing it", gone)
		}
	}
	if got := read(t, filepath.Join(dir, "agents/reviewer.md")); got != "my reviewer" {
		t.Errorf("reviewer = %q", got)
	}
	info, err := os.Stat(filepath.Join(dir, "skills/deploy/run.sh"))
	if err != nil || info.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh lost its exec bit: %v %v", info.Mode(), err)
	}
	for _, c := range []struct {
		unit, tier string
		overrides  []string
	}{
		{"skills/review", "personal", []string{"team"}},
		{"skills/deploy", "team", nil},
		{"skills/notes", "personal", nil},
		{"agents/reviewer.md", "personal", []string{"team"}},
		{"agents/planner.md", "team", nil},
	} {
		u, ok := res.Unit(c.unit)
		if !ok {
			t.Fatalf("no unit %s", c.unit)
		}
		eq(t, c.unit+" tiers", u.Tiers, []string{c.tier})
		eq(t, c.unit+" overrides", u.Overrides, c.overrides)
	}
	if f := fileOf(t, res, "skills/deploy/run.sh"); f.Unit != "skills/deploy" || f.Tier() != "team" {
		t.Errorf("run.sh = %+v", f)
	}
	if _, ok := res.File("skills/review/helper.sh"); ok {
		t.Error("provenance lists a shadowed file")
	}
}

func TestOtherFilesShadowByPathAndDirsMerge(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{
		"commands/ship.md":   "team ship",
		"commands/test.md":   "test",
		"output-styles/a.md": "a",
		"statusline.sh":      "#!/bin/sh\n",
	})
	pers := tier(t, base, "personal", map[string]string{
		"commands/ship.md": "my ship",
		"commands/mine.md": "mine",
	})
	res, dir := mustCompose(t, Options{Tiers: []Tier{team, pers}})
	for p, want := range map[string]string{
		"commands/ship.md": "my ship", "commands/test.md": "test", "commands/mine.md": "mine", "output-styles/a.md": "a",
	} {
		if got := read(t, filepath.Join(dir, p)); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	f := fileOf(t, res, "commands/ship.md")
	eq(t, "ship tiers", f.Tiers, []string{"personal"})
	eq(t, "ship overrides", f.Overrides, []string{"team"})
	eq(t, "test tiers", fileOf(t, res, "commands/test.md").Tiers, []string{"team"})
}

func TestDirFileClashIsAnError(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{"commands/x.md": "x"})
	pers := tier(t, base, "personal", map[string]string{"commands": "a file"})
	target := filepath.Join(t.TempDir(), "agent")
	_, err := Compose(Options{Tiers: []Tier{team, pers}, Target: target})
	if err == nil || !strings.Contains(err.Error(), "commands is a dir in tier team but a file in tier personal") {
		t.Fatalf("err = %v", err)
	}
	if exists(target) {
		t.Error("target written despite the error")
	}
}

func TestMissingTiersAndFilesAreFine(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{"CLAUDE.md": "team"})
	res, dir := mustCompose(t, Options{Tiers: []Tier{
		{Name: "doctrine"},
		team,
		{Name: "profile:gone", Dir: filepath.Join(base, "no-such-profile")},
		{Name: "personal", Dir: filepath.Join(base, "no-personal", ".claude")},
	}})
	if !strings.Contains(read(t, filepath.Join(dir, "CLAUDE.md")), "team") {
		t.Error("team CLAUDE.md missing")
	}
	var present []string
	for _, ti := range res.Tiers {
		if ti.Present {
			present = append(present, ti.Name)
		}
	}
	eq(t, "present tiers", present, []string{"team"})
}

func TestTierNamesMustBeUnique(t *testing.T) {
	if _, err := Plan(Options{Tiers: []Tier{{Name: "team"}, {Name: "team"}}}); err == nil {
		t.Error("duplicate tier accepted")
	}
	if _, err := Plan(Options{Tiers: []Tier{{Name: Injected}}}); err == nil {
		t.Error("reserved tier name accepted")
	}
}

// Thirteen profiles between team and personal, each adding and
// overriding settings, MCP servers, skills, agents and tools.
func TestThirteenProfiles(t *testing.T) {
	base := t.TempDir()
	tiers := []Tier{
		{Name: "doctrine", Template: "doctrine for {{.Loop}}"},
		tier(t, base, "team", map[string]string{
			"CLAUDE.md":              "team",
			"settings.json":          `{"env": {"SHARED": "team", "TEAM": "1"}, "mcpServers": {"common": {"command": "team"}}, "model": "team"}`,
			"skills/shared/SKILL.md": "team shared",
			"skills/team/SKILL.md":   "team only",
			"agents/common.md":       "team common",
			"mise.toml":              "[tools]\nnode = \"team\"\n",
		}),
	}
	const n = 13
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("p%02d", i)
		files := map[string]string{
			"CLAUDE.md": "profile " + id,
			"settings.json": fmt.Sprintf(`{"env": {"SHARED": %q, "K_%s": "v"}, "mcpServers": {"common": {"command": %q}, "srv_%s": {"command": "s"}}}`,
				id, id, id, id),
			"skills/shared/SKILL.md":       "shared from " + id,
			"skills/s_" + id + "/SKILL.md": id,
			"agents/common.md":             "common from " + id,
			"agents/a_" + id + ".md":       id,
			"mise.toml":                    fmt.Sprintf("[tools]\nnode = %q\ntool_%s = \"1\"\n", id, id),
		}
		if i%2 == 0 { // every other profile also replaces the model
			files["settings.json"] = strings.Replace(files["settings.json"], "{", fmt.Sprintf(`{"model": %q, `, id), 1)
		}
		tiers = append(tiers, tier(t, base, "profile:"+id, files))
	}
	tiers = append(tiers, tier(t, base, "personal", map[string]string{
		"CLAUDE.md":             "personal",
		"settings.json":         `{"mcpServers": {"srv_p03": {"command": "mine"}}, "env": {"K_p07": "mine"}}`,
		"skills/s_p07/SKILL.md": "my p07",
		"agents/a_p05.md":       "my p05",
	}))
	res, dir := mustCompose(t, Options{Tiers: tiers, Data: Data{Loop: "stress"}})

	var profiles []string
	for i := 1; i <= n; i++ {
		profiles = append(profiles, fmt.Sprintf("profile:p%02d", i))
	}
	all := append(append([]string{"team"}, profiles...), "personal")
	eq(t, "CLAUDE.md tiers", fileOf(t, res, "CLAUDE.md").Tiers, append([]string{"doctrine"}, all...))

	st := fileOf(t, res, "settings.json")
	eq(t, "settings tiers", st.Tiers, append(slices.Clone(all), Injected))
	eq(t, "env.SHARED", keyOf(t, st, "env.SHARED").Tiers, []string{"profile:p13"})
	eq(t, "env.SHARED overrides", keyOf(t, st, "env.SHARED").Overrides, append([]string{"team"}, profiles[:12]...))
	eq(t, "env.TEAM", keyOf(t, st, "env.TEAM").Tiers, []string{"team"})
	eq(t, "env.K_p07", keyOf(t, st, "env.K_p07").Tiers, []string{"personal"})
	eq(t, "env.K_p07 overrides", keyOf(t, st, "env.K_p07").Overrides, []string{"profile:p07"})
	eq(t, "mcpServers.common", keyOf(t, st, "mcpServers.common").Tiers, []string{"profile:p13"})
	eq(t, "mcpServers.srv_p03", keyOf(t, st, "mcpServers.srv_p03").Tiers, []string{"personal"})
	eq(t, "mcpServers.srv_p03 overrides", keyOf(t, st, "mcpServers.srv_p03").Overrides, []string{"profile:p03"})
	eq(t, "mcpServers.srv_p11", keyOf(t, st, "mcpServers.srv_p11").Tiers, []string{"profile:p11"})
	eq(t, "model", keyOf(t, st, "model").Tiers, []string{"profile:p12"})
	eq(t, "model overrides", keyOf(t, st, "model").Overrides, []string{"team", "profile:p02", "profile:p04", "profile:p06", "profile:p08", "profile:p10"})
	var settings struct {
		Env        map[string]string
		MCPServers map[string]struct{ Command string } `json:"mcpServers"`
		Model      string
	}
	json.Unmarshal([]byte(read(t, filepath.Join(dir, "settings.json"))), &settings)
	if settings.Env["SHARED"] != "p13" || settings.Env["K_p07"] != "mine" || len(settings.Env) != n+2 {
		t.Errorf("env = %v", settings.Env)
	}
	if settings.MCPServers["common"].Command != "p13" || settings.MCPServers["srv_p03"].Command != "mine" || len(settings.MCPServers) != n+1 {
		t.Errorf("mcpServers = %v", settings.MCPServers)
	}
	if settings.Model != "p12" {
		t.Errorf("model = %q", settings.Model)
	}

	for _, c := range []struct {
		unit, tier string
		overrides  []string
	}{
		{"skills/shared", "profile:p13", append([]string{"team"}, profiles[:12]...)},
		{"skills/team", "team", nil},
		{"skills/s_p07", "personal", []string{"profile:p07"}},
		{"skills/s_p09", "profile:p09", nil},
		{"agents/common.md", "profile:p13", append([]string{"team"}, profiles[:12]...)},
		{"agents/a_p05.md", "personal", []string{"profile:p05"}},
		{"agents/a_p13.md", "profile:p13", nil},
	} {
		u, ok := res.Unit(c.unit)
		if !ok {
			t.Fatalf("no unit %s", c.unit)
		}
		eq(t, c.unit+" tiers", u.Tiers, []string{c.tier})
		eq(t, c.unit+" overrides", u.Overrides, c.overrides)
	}
	if got := read(t, filepath.Join(dir, "skills/shared/SKILL.md")); got != "shared from p13" {
		t.Errorf("shared skill = %q", got)
	}
	// Skills shared, team and s_*; agents common.md and a_*.
	if want := 2 + n + 1 + n; len(res.Units) != want {
		t.Errorf("%d units, want %d", len(res.Units), want)
	}

	mise := fileOf(t, res, "mise.toml")
	eq(t, "tools.node", keyOf(t, mise, "tools.node").Tiers, []string{"profile:p13"})
	eq(t, "tools.tool_p04", keyOf(t, mise, "tools.tool_p04").Tiers, []string{"profile:p04"})
	eq(t, "tools", keyOf(t, mise, "tools").Tiers, append([]string{"team"}, profiles...))
}

func TestCodexFormat(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{
		"CLAUDE.md": "team",
		"settings.json": `{"mcpServers": {
  "github": {"command": "gh-mcp", "args": ["--ro"]},
  "stream": {"type": "sse", "url": "https://sse.example/mcp"},
  "lint": {"command": "lint-mcp", "args": ["--token=${LINT_TOKEN}"]}
}}`,
		"skills/review/SKILL.md": "review",
		"agents/planner.md":      "planner",
		"commands/ship.md":       "ship",
	})
	pers := tier(t, base, "personal", map[string]string{
		"settings.json": `{"mcpServers": {
  "github": {"command": "gh-mcp", "args": ["--rw"], "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}", "GH_HOST": "example.com", "ALIAS": "${OTHER}"}},
  "docs": {"type": "http", "url": "https://docs.example/mcp", "headers": {"Authorization": "Bearer ${DOCS_TOKEN}", "X-Team": "${TEAM_ID}", "X-Static": "v"}}
}}`,
	})
	res, dir := mustCompose(t, Options{Tiers: []Tier{{Name: "doctrine", Template: "doctrine"}, team, pers}, Format: Codex, MemoryDir: "/m"})

	raw := read(t, filepath.Join(dir, "config.toml"))
	for _, s := range []string{"[mcp_servers.github]", "[mcp_servers.docs]"} {
		if !strings.Contains(raw, s) {
			t.Errorf("config.toml lacks %s:\n%s", s, raw)
		}
	}
	var cfg struct {
		MCPServers map[string]codexServer `toml:"mcp_servers"`
	}
	if err := toml.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	gh := cfg.MCPServers["github"]
	if gh.Command != "gh-mcp" || fmt.Sprint(gh.Args) != "[--rw]" || fmt.Sprint(gh.EnvVars) != "[GITHUB_TOKEN]" ||
		gh.Env["GH_HOST"] != "example.com" || gh.Env["ALIAS"] != "${OTHER}" || gh.URL != "" {
		t.Errorf("github = %+v", gh)
	}
	docs := cfg.MCPServers["docs"]
	if docs.URL != "https://docs.example/mcp" || docs.BearerTokenEnvVar != "DOCS_TOKEN" ||
		docs.EnvHTTPHeaders["X-Team"] != "TEAM_ID" || docs.HTTPHeaders["X-Static"] != "v" || len(docs.HTTPHeaders) != 1 || docs.Command != "" {
		t.Errorf("docs = %+v", docs)
	}
	if _, ok := cfg.MCPServers["stream"]; ok {
		t.Error("an SSE server reached Codex")
	}
	if lint := cfg.MCPServers["lint"]; lint.Args[0] != "--token=${LINT_TOKEN}" {
		t.Errorf("lint = %+v", lint)
	}
	warn := strings.Join(res.Warnings, "\n")
	for _, s := range []string{"mcpServers.stream uses SSE", "mcpServers.lint", "mcpServers.github"} {
		if !strings.Contains(warn, s) {
			t.Errorf("warnings lack %q:\n%s", s, warn)
		}
	}

	agents := read(t, filepath.Join(dir, "AGENTS.md"))
	if !strings.Contains(agents, "<!-- git loop: from team (") || !strings.Contains(agents, "doctrine") {
		t.Errorf("AGENTS.md = %q", agents)
	}
	if read(t, filepath.Join(dir, "skills/review/SKILL.md")) != "review" {
		t.Error("skill not copied")
	}
	for _, absent := range []string{"CLAUDE.md", "settings.json", "agents", "commands"} {
		if exists(filepath.Join(dir, absent)) {
			t.Errorf("codex agent dir has %s", absent)
		}
	}
	f := fileOf(t, res, "config.toml")
	eq(t, "config.toml tiers", f.Tiers, []string{"team", "personal"})
	eq(t, "mcp_servers.github", keyOf(t, f, "mcp_servers.github").Tiers, []string{"personal"})
	eq(t, "mcp_servers.github overrides", keyOf(t, f, "mcp_servers.github").Overrides, []string{"team"})
	eq(t, "mcp_servers.lint", keyOf(t, f, "mcp_servers.lint").Tiers, []string{"team"})
	if _, ok := f.Key("mcp_servers.stream"); ok {
		t.Error("provenance lists a server not written")
	}
}

func TestGenericFormat(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{
		"CLAUDE.md":              "team",
		"settings.json":          `{"model": "x"}`,
		"skills/review/SKILL.md": "review",
		"agents/planner.md":      "planner",
		"commands/ship.md":       "ship",
		"mise.toml":              "[tools]\ngo = \"1.25\"\n",
	})
	res, dir := mustCompose(t, Options{Tiers: []Tier{team}, Format: Generic})
	if res.Format != Generic {
		t.Fatalf("format = %s", res.Format)
	}
	var have []string
	for _, f := range res.Files {
		have = append(have, f.Path)
	}
	eq(t, "files", have, []string{"AGENTS.md", "agents/planner.md", "mise.toml", "skills/review/SKILL.md"})
	for _, p := range have {
		if !exists(filepath.Join(dir, p)) {
			t.Errorf("%s not written", p)
		}
	}
	for _, absent := range []string{"CLAUDE.md", "settings.json", "config.toml", "commands"} {
		if exists(filepath.Join(dir, absent)) {
			t.Errorf("generic agent dir has %s", absent)
		}
	}
}

func TestSymlinks(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.txt")
	writeTree(t, filepath.Dir(outside), map[string]string{"secret.txt": "secret"})

	refuse := []struct {
		name  string
		files map[string]string
		path  string
	}{
		{"relative escape in a skill", map[string]string{
			"skills/foo/SKILL.md": "foo", "skills/foo/leak": "symlink:../../../../secret.txt"}, "skills/foo/leak"},
		{"absolute escape", map[string]string{"docs/leak": "symlink:" + outside}, "docs/leak"},
		{"escaping CLAUDE.md", map[string]string{"CLAUDE.md": "symlink:" + outside}, "CLAUDE.md"},
		{"escaping settings.json", map[string]string{"settings.json": "symlink:../../x.json"}, "settings.json"},
		{"escaping skill dir", map[string]string{"skills/foo": "symlink:" + filepath.Dir(outside)}, "skills/foo"},
		{"escaping skills dir", map[string]string{"skills": "symlink:" + filepath.Dir(outside)}, "skills"},
		// Lexically d/../../../y stays inside, but d is itself a link to
		// "..", so the kernel would climb out of the tier.
		{"escape through another link", map[string]string{
			"s/t/d": "symlink:..", "s/t/x": "symlink:d/../../../secret.txt"}, "s/t/x"},
	}
	for _, c := range refuse {
		t.Run(c.name, func(t *testing.T) {
			team := tier(t, t.TempDir(), "team", c.files)
			target := filepath.Join(t.TempDir(), "agent")
			_, err := Compose(Options{Tiers: []Tier{team}, Target: target})
			want := filepath.Join(team.Dir, filepath.FromSlash(c.path))
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "leaves the tier dir") {
				t.Fatalf("err = %v, want one naming %s", err, want)
			}
			if exists(target) {
				t.Error("target written")
			}
		})
	}

	t.Run("links inside are kept as relative links", func(t *testing.T) {
		base := t.TempDir()
		team := tier(t, base, "team", map[string]string{
			"docs/ref.md":           "ref",
			"shared/bar/SKILL.md":   "bar",
			"skills/foo/SKILL.md":   "foo",
			"skills/foo/ref.md":     "symlink:../../docs/ref.md",
			"skills/bar":            "symlink:../shared/bar",
			"agents/alias.md":       "symlink:../docs/ref.md",
			"CLAUDE.md":             "symlink:docs/ref.md",
			"skills/foo/dangling":   "symlink:nowhere",
			"output-styles/same.md": "symlink:../docs/ref.md",
		})
		abs := filepath.Join(team.Dir, "skills/foo/abs.md")
		if err := os.Symlink(filepath.Join(team.Dir, "docs/ref.md"), abs); err != nil {
			t.Fatal(err)
		}
		res, dir := mustCompose(t, Options{Tiers: []Tier{team}})
		for link, want := range map[string]string{
			"skills/foo/ref.md":     "../../docs/ref.md",
			"skills/foo/abs.md":     "../../docs/ref.md",
			"skills/foo/dangling":   "nowhere",
			"output-styles/same.md": "../docs/ref.md",
		} {
			got, err := os.Readlink(filepath.Join(dir, link))
			if err != nil || got != want {
				t.Errorf("%s -> %q (%v), want %q", link, got, err, want)
			}
			if f := fileOf(t, res, link); f.Link != want {
				t.Errorf("%s provenance link = %q", link, f.Link)
			}
		}
		if read(t, filepath.Join(dir, "skills/foo/ref.md")) != "ref" {
			t.Error("link does not resolve in the agent dir")
		}
		// Skill and agent roots, and top-level files, are followed: the
		// agent dir holds their content.
		for p, want := range map[string]string{"skills/bar/SKILL.md": "bar", "agents/alias.md": "ref"} {
			info, err := os.Lstat(filepath.Join(dir, p))
			if err != nil || info.Mode()&fs.ModeSymlink != 0 || read(t, filepath.Join(dir, p)) != want {
				t.Errorf("%s: %v %v", p, info, err)
			}
		}
		if !strings.Contains(read(t, filepath.Join(dir, "CLAUDE.md")), "ref") {
			t.Error("CLAUDE.md link not followed")
		}
	})
}

// failFS fails to open one file, as a disk error would half way through
// the copy.
type failFS struct {
	fs.FS
	fail string
}

func (f failFS) Open(name string) (fs.File, error) {
	if name == f.fail {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("injected failure")}
	}
	return f.FS.Open(name)
}

func TestFailedCopyLeavesNoHalfDir(t *testing.T) {
	base := t.TempDir()
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("skills/s%03d/SKILL.md", i)] = "skill"
	}
	team := tier(t, base, "team", files)
	mem := fstest.MapFS{
		"CLAUDE.md":             {Data: []byte("personal")},
		"skills/aaa/SKILL.md":   {Data: []byte("a")},
		"skills/zzz/SKILL.md":   {Data: []byte("z")},
		"skills/zzz/helper.txt": {Data: []byte("h")},
	}
	pers := Tier{Name: "personal", FS: failFS{FS: mem, fail: "skills/zzz/helper.txt"}}
	parent := filepath.Join(t.TempDir(), "loop")
	target := filepath.Join(parent, "agent")
	_, err := Compose(Options{Tiers: []Tier{team, pers}, Target: target})
	if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "tier personal") {
		t.Fatalf("err = %v", err)
	}
	if exists(target) {
		t.Fatal("half-composed target exists")
	}
	left, _ := os.ReadDir(parent)
	if len(left) != 0 {
		t.Fatalf("left behind in %s: %v", parent, left)
	}

	// An empty target dir made by the caller is fine, and stays empty on
	// failure.
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Compose(Options{Tiers: []Tier{team, pers}, Target: target}); err == nil {
		t.Fatal("no error")
	}
	if ents, err := os.ReadDir(target); err != nil || len(ents) != 0 {
		t.Fatalf("target after failure: %v %v", ents, err)
	}
	// Without the failure the same tiers compose into it.
	pers.FS = mem
	res, err := Compose(Options{Tiers: []Tier{team, pers}, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(target, "skills/zzz/helper.txt")) != "h" || len(res.Units) != 202 {
		t.Errorf("units = %d", len(res.Units))
	}
}

// TestUnreadableFileLeavesNoHalfDir runs as a user other than root, who
// would read the file anyway.
func TestUnreadableFileLeavesNoHalfDir(t *testing.T) {
	if !sandboxtest.Unprivileged(t) {
		return
	}
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{"skills/a/SKILL.md": "a", "skills/b/SKILL.md": "b"})
	if err := os.Chmod(filepath.Join(team.Dir, "skills/b/SKILL.md"), 0); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	target := filepath.Join(parent, "agent")
	if _, err := Compose(Options{Tiers: []Tier{team}, Target: target}); err == nil {
		t.Fatal("no error")
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestTargetMustBeEmpty(t *testing.T) {
	target := t.TempDir()
	writeTree(t, target, map[string]string{"projects/x.jsonl": "{}"})
	_, err := Compose(Options{Target: target})
	if !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("err = %v", err)
	}
	if read(t, filepath.Join(target, "projects/x.jsonl")) != "{}" {
		t.Error("existing agent dir touched")
	}
}

func TestStaleStagingDirsAreRemoved(t *testing.T) {
	parent := t.TempDir()
	stale := filepath.Join(parent, ".agent"+tempInfix+"123")
	fresh := filepath.Join(parent, ".agent"+tempInfix+"456")
	other := filepath.Join(parent, ".other"+tempInfix+"789")
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{stale, fresh, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chtimes(stale, old, old)
	os.Chtimes(other, old, old)
	if _, err := Compose(Options{Target: filepath.Join(parent, "agent")}); err != nil {
		t.Fatal(err)
	}
	if exists(stale) || !exists(fresh) || !exists(other) {
		t.Errorf("stale %v fresh %v other %v", exists(stale), exists(fresh), exists(other))
	}
}

// The agent dir is a copy: editing a tier afterwards changes nothing.
func TestSnapshotIsFrozen(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{"skills/a/SKILL.md": "v1", "CLAUDE.md": "v1"})
	_, dir := mustCompose(t, Options{Tiers: []Tier{team}})
	writeTree(t, team.Dir, map[string]string{"skills/a/SKILL.md": "v2", "CLAUDE.md": "v2"})
	if read(t, filepath.Join(dir, "skills/a/SKILL.md")) != "v1" || strings.Contains(read(t, filepath.Join(dir, "CLAUDE.md")), "v2") {
		t.Error("agent dir follows the tier")
	}
}

func TestPrintAndJSON(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{
		"CLAUDE.md":              "team",
		"settings.json":          `{"mcpServers": {"github": {"command": "a"}, "docs": {"url": "u"}}}`,
		"skills/review/SKILL.md": "r",
		"skills/review/run.sh":   "#!/bin/sh\n",
		"agents/planner.md":      "p",
	})
	pers := tier(t, base, "personal", map[string]string{
		"settings.json":          `{"mcpServers": {"github": {"command": "b"}}}`,
		"skills/review/SKILL.md": "mine",
	})
	res, dir := mustCompose(t, Options{Tiers: []Tier{{Name: "doctrine", Template: "d"}, team, pers, {Name: "profile:none", Dir: filepath.Join(base, "none")}}, MemoryDir: "/m"})
	var b strings.Builder
	if err := res.Print(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		dir + " (claude)\n",
		"tiers: doctrine, team, personal, profile:none (absent)\n",
		"├── CLAUDE.md  ← doctrine, team\n",
		"settings.json  ← team, personal, git loop (injected)\n",
		".autoMemoryDirectory  ← git loop (injected)\n",
		".mcpServers  ← team, personal\n",
		".github  ← personal (overrides team)\n",
		".docs  ← team\n",
		"review/  ← personal (overrides team)\n",
		"planner.md  ← team\n",
		"└── SKILL.md\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("print lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "run.sh") {
		t.Errorf("print shows a shadowed file:\n%s", out)
	}

	// The same provenance is stored with the agent dir and reads back.
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(res)
	c, _ := json.Marshal(loaded)
	if !bytes.Equal(a, c) {
		t.Errorf("loaded provenance differs:\n%s\n%s", a, c)
	}
	var generic map[string]any
	json.Unmarshal(a, &generic)
	for _, k := range []string{"format", "dir", "tiers", "files", "units"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, a)
		}
	}
	if _, ok := res.File(ProvenanceFile); ok {
		t.Error("provenance file lists itself")
	}
}

func TestPlanWritesNothing(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{"skills/a/SKILL.md": "a"})
	target := filepath.Join(t.TempDir(), "agent")
	res, err := Plan(Options{Tiers: []Tier{team}, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	if exists(target) || len(res.Units) != 1 {
		t.Errorf("exists %v, units %v", exists(target), res.Units)
	}
}

// An embedded doctrine tier: template CLAUDE.md plus bundled skills.
func TestFSTier(t *testing.T) {
	doctrine := Tier{Name: "doctrine", Dir: "templates/doctrine", Template: "agent dir {{.AgentDir}}", FS: fstest.MapFS{
		"CLAUDE.md":               {Data: []byte("ignored: the template wins")},
		"skills/promote/SKILL.md": {Data: []byte("promote")},
	}}
	res, dir := mustCompose(t, Options{Tiers: []Tier{doctrine}})
	if got := read(t, filepath.Join(dir, "CLAUDE.md")); !strings.Contains(got, "agent dir "+dir) || strings.Contains(got, "ignored") {
		t.Errorf("CLAUDE.md = %q", got)
	}
	if f := fileOf(t, res, "skills/promote/SKILL.md"); f.Sources[0] != filepath.Join("templates/doctrine", "skills/promote/SKILL.md") {
		t.Errorf("source = %v", f.Sources)
	}
}

// TestCodexSettings: model, env, the permission mode and extra dirs reach
// Codex's config.toml, with the codex object over them; what Codex cannot
// carry is named in a warning, as it is for a generic agent and for
// Claude (the codex object).
func TestCodexSettings(t *testing.T) {
	base := t.TempDir()
	team := tier(t, base, "team", map[string]string{
		"settings.json": `{"model": "gpt-team", "env": {"CI": "1", "N": 2},
  "permissions": {"defaultMode": "acceptEdits", "allow": ["Bash(go test:*)"], "additionalDirectories": ["/srv/data"]},
  "hooks": {"Stop": []},
  "mcpServers": {"gh": {"command": "gh-mcp"}}}`,
	})
	pers := tier(t, base, "personal", map[string]string{
		"settings.json": `{"model": "gpt-5", "permissions": {"defaultMode": "bypassPermissions"},
  "codex": {"model_reasoning_effort": "high", "model_context_window": 200000, "tools": {"web_search": true}}}`,
	})
	res, dir := mustCompose(t, Options{Tiers: []Tier{team, pers}, Format: Codex})
	raw := read(t, filepath.Join(dir, "config.toml"))
	var cfg map[string]any
	if err := toml.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	for k, want := range map[string]any{
		"model": "gpt-5", "approval_policy": "never", "sandbox_mode": "danger-full-access",
		"model_reasoning_effort": "high", "model_context_window": int64(200000),
	} {
		if cfg[k] != want {
			t.Errorf("%s = %#v, want %#v\n%s", k, cfg[k], want, raw)
		}
	}
	if fmt.Sprint(cfg["shell_environment_policy"]) != "map[set:map[CI:1]]" ||
		fmt.Sprint(cfg["sandbox_workspace_write"]) != "map[writable_roots:[/srv/data]]" ||
		fmt.Sprint(cfg["tools"]) != "map[web_search:true]" || cfg["mcp_servers"] == nil {
		t.Errorf("config.toml:\n%s", raw)
	}
	warn := strings.Join(res.Warnings, "\n")
	for _, s := range []string{"env.N (from team)", "permissions.allow (from team)", "settings.json hooks (from team)"} {
		if !strings.Contains(warn, s) {
			t.Errorf("warnings lack %q:\n%s", s, warn)
		}
	}
	f := fileOf(t, res, "config.toml")
	eq(t, "model", keyOf(t, f, "model").Tiers, []string{"personal"})
	eq(t, "model overrides", keyOf(t, f, "model").Overrides, []string{"team"})
	eq(t, "sandbox_mode", keyOf(t, f, "sandbox_mode").Tiers, []string{"personal"})
	eq(t, "model_reasoning_effort", keyOf(t, f, "model_reasoning_effort").Tiers, []string{"personal"})

	res, _ = mustCompose(t, Options{Tiers: []Tier{team, pers}, Format: Generic})
	warn = strings.Join(res.Warnings, "\n")
	for _, s := range []string{"settings.json model (from personal)", "settings.json permissions (from team, personal)"} {
		if !strings.Contains(warn, s) {
			t.Errorf("generic warnings lack %q:\n%s", s, warn)
		}
	}
	res, _ = mustCompose(t, Options{Tiers: []Tier{team, pers}, Format: Claude})
	if warn := strings.Join(res.Warnings, "\n"); !strings.Contains(warn, "settings.json codex (from personal)") {
		t.Errorf("claude warnings lack the codex object:\n%s", warn)
	}
}
