package compose

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchTiers builds doctrine → team → profiles → personal with 1,000
// skill dirs spread over the tiers (some shadowing others), each tier
// also carrying CLAUDE.md, settings.json with MCP servers, mise.toml and
// agents.
func benchTiers(b *testing.B, profiles int) []Tier {
	base := b.TempDir()
	body := strings.Repeat("Use this skill when the task calls for it. ", 15)
	tierFiles := func(id string, skills []string) map[string]string {
		files := map[string]string{
			"CLAUDE.md": "# " + id + "\n" + body,
			"settings.json": fmt.Sprintf(`{"env": {"TIER": %q, "K_%s": "1"}, "permissions": {"allow": ["Bash(make:*)"]},
 "mcpServers": {"common": {"command": "mcp-%s"}, "own_%s": {"type": "http", "url": "https://%s.example/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}}}`,
				id, id, id, id, id),
			"mise.toml": fmt.Sprintf("[tools]\nnode = %q\ntool_%s = \"1\"\n[env]\nTIER = %q\n", id, id, id),
		}
		for i := range 3 {
			files[fmt.Sprintf("agents/%s_%d.md", id, i)] = "agent " + id
		}
		for _, s := range skills {
			files["skills/"+s+"/SKILL.md"] = "---\nname: " + s + "\n---\n" + body
		}
		return files
	}
	// 1,000 skill dirs in all: profiles share 300, team and personal
	// hold the rest; every profile and personal shadow a few team skills.
	perProfile := 300 / profiles
	teamN := 1000 - 300 - 100
	var team []string
	for i := range teamN {
		team = append(team, fmt.Sprintf("team_%04d", i))
	}
	tiers := []Tier{
		{Name: "doctrine", Template: "Loop {{.Loop}} in {{.Workdir}}; notes {{.Notes}}.\n" + body},
		tier(b, base, "team", tierFiles("team", team)),
	}
	for p := range profiles {
		id := fmt.Sprintf("p%02d", p)
		var skills []string
		for i := range perProfile {
			if i < 3 {
				skills = append(skills, fmt.Sprintf("team_%04d", p*3+i))
			} else {
				skills = append(skills, fmt.Sprintf("%s_%03d", id, i))
			}
		}
		tiers = append(tiers, tier(b, base, "profile:"+id, tierFiles(id, skills)))
	}
	var personal []string
	for i := range 100 + 300 - perProfile*profiles {
		if i < 20 {
			personal = append(personal, fmt.Sprintf("team_%04d", 500+i))
		} else {
			personal = append(personal, fmt.Sprintf("mine_%03d", i))
		}
	}
	tiers = append(tiers, tier(b, base, "personal", tierFiles("personal", personal)))
	return tiers
}

func BenchmarkCompose(b *testing.B) {
	for _, c := range []struct {
		name     string
		profiles int
	}{
		{"5tiers", 2},      // doctrine, team, 2 profiles, personal
		{"20profiles", 20}, // doctrine, team, 20 profiles, personal
	} {
		b.Run(c.name, func(b *testing.B) {
			tiers := benchTiers(b, c.profiles)
			out := b.TempDir()
			data := Data{Loop: "bench", Workdir: "/w", Notes: "/n", Memory: "/p/memory"}
			durs := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				res, err := Compose(Options{Tiers: tiers, Data: data, Target: filepath.Join(out, fmt.Sprint(i))})
				durs = append(durs, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					skills := 0
					for _, u := range res.Units {
						if u.Kind == "skill" {
							skills++
						}
					}
					b.ReportMetric(float64(skills), "skills")
				}
			}
			slices.Sort(durs)
			b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "ms-median")
		})
	}
}

// BenchmarkComposeFloor is the raw cost of the same output on the same
// disk: making the agent dir's dirs and writing its files from memory,
// one after another, with no reading, merging or checking. Compose can
// only approach it; on a busy disk both move together.
func BenchmarkComposeFloor(b *testing.B) {
	for _, c := range []struct {
		name     string
		profiles int
	}{{"5tiers", 2}, {"20profiles", 20}} {
		b.Run(c.name, func(b *testing.B) {
			res, err := Plan(Options{Tiers: benchTiers(b, c.profiles)})
			if err != nil {
				b.Fatal(err)
			}
			dirs := map[string]bool{}
			for _, f := range res.Files {
				for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
					dirs[d] = true
				}
			}
			sorted := sortedKeys(dirs)
			data := []byte(strings.Repeat("x", 700))
			out := b.TempDir()
			durs := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				root := filepath.Join(out, fmt.Sprint(i))
				if err := os.Mkdir(root, 0o755); err != nil {
					b.Fatal(err)
				}
				for _, d := range sorted {
					if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
						b.Fatal(err)
					}
				}
				for _, f := range res.Files {
					if err := os.WriteFile(filepath.Join(root, f.Path), data, 0o644); err != nil {
						b.Fatal(err)
					}
				}
				durs = append(durs, time.Since(start))
			}
			slices.Sort(durs)
			b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "ms-median")
		})
	}
}
