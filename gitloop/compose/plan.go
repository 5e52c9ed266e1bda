package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
)

// plan is everything one composition reads, decided before anything is
// written, so that every error (bad JSON, an escaping link, a clash) is
// found while the target is still untouched.
type plan struct {
	format Format
	srcs   []*source
	order  []string // tier names, weakest first

	parts []part

	settings        *merger[json.RawMessage]
	settingsSources []string

	mise        *merger[any]
	miseSources []string
	miseOnly    []byte // the one tier's bytes, kept when no merge happens

	units  map[string]*unitPlan  // "skills/x", "agents/y.md"
	others map[string]*otherPlan // every other path

	out []outEntry
	res *Result
}

type unitPlan struct {
	kind   string
	src    *source
	leaves []leaf
	origin Origin
}

type otherPlan struct {
	leaf
	src    *source
	origin Origin
}

// outEntry is one thing to create in the agent dir.
type outEntry struct {
	leaf
	src  *source // nil for generated content
	data []byte
}

func newPlan(opts Options) (*plan, error) {
	format := opts.Format
	if format == "" {
		format = Claude
	}
	switch format {
	case Claude, Codex, Generic:
	default:
		return nil, fmt.Errorf("compose: unknown format %q (want claude, codex or generic)", format)
	}
	if err := validTierNames(opts.Tiers); err != nil {
		return nil, err
	}
	data := opts.Data
	if data.AgentDir == "" {
		data.AgentDir = opts.Target
	}
	memory := opts.MemoryDir
	if memory == "" {
		memory = data.Memory
	}
	p := &plan{
		format:   format,
		settings: newMerger(jsonObject),
		mise:     newMerger(tomlTable),
		units:    map[string]*unitPlan{},
		others:   map[string]*otherPlan{},
		res:      &Result{Format: format, Dir: opts.Target},
	}
	// Tiers are read in parallel (most of the time is syscalls spent
	// listing skill dirs) and folded in order afterwards.
	scans := make([]*tierScan, len(opts.Tiers))
	errs := make([]error, len(opts.Tiers))
	for i, t := range opts.Tiers {
		s, err := openSource(t)
		if err != nil {
			p.close()
			return nil, err
		}
		p.srcs = append(p.srcs, s)
		p.order = append(p.order, t.Name)
		p.res.Tiers = append(p.res.Tiers, TierInfo{Name: t.Name, Dir: s.label, Present: s.present || t.Template != ""})
		scans[i] = &tierScan{src: s}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(scanWorkers, len(opts.Tiers)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(opts.Tiers) {
					return
				}
				errs[i] = scans[i].scan(opts.Tiers[i], data)
			}
		})
	}
	wg.Wait()
	for i, sc := range scans {
		if errs[i] != nil {
			p.close()
			return nil, errs[i]
		}
		if err := p.fold(sc); err != nil {
			p.close()
			return nil, err
		}
	}
	if err := p.build(memory); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

var scanWorkers = min(4, 2*runtime.GOMAXPROCS(0))

func (p *plan) close() {
	for _, s := range p.srcs {
		s.close()
	}
}

// tierScan is what one tier holds, read without looking at the others.
type tierScan struct {
	src   *source
	parts []part

	settings       map[string]json.RawMessage
	settingsSource string

	mise       map[string]any
	miseSource string
	miseData   []byte

	units  []scannedUnit
	others []leaf
}

type scannedUnit struct {
	path, kind string
	src        *source
	leaves     []leaf
}

func (sc *tierScan) scan(t Tier, data Data) error {
	s := sc.src
	if t.Template != "" {
		text, err := render(t, data)
		if err != nil {
			return err
		}
		sc.addPart(t.Name, "template", text)
	}
	if !s.present {
		return nil
	}
	ents, err := fs.ReadDir(s.fsys, ".")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return s.errorf("%w", err)
	}
	for _, e := range ents {
		name := e.Name()
		switch name {
		case "CLAUDE.md":
			if t.Template != "" {
				continue
			}
			b, ok, err := s.readRegular(e)
			if err != nil {
				return err
			}
			if ok {
				sc.addPart(t.Name, s.display(name), string(b))
			}
		case "settings.json":
			b, ok, err := s.readRegular(e)
			if err != nil || !ok {
				return err
			}
			top, err := parseSettings(b, s.display(name))
			if err != nil {
				return s.errorf("%w", err)
			}
			sc.settings, sc.settingsSource = top, s.display(name)
			if sc.settings == nil {
				sc.settings = map[string]json.RawMessage{}
			}
		case "mise.toml":
			b, ok, err := s.readRegular(e)
			if err != nil || !ok {
				return err
			}
			top, err := parseTOML(b, s.display(name))
			if err != nil {
				return s.errorf("%w", err)
			}
			sc.mise, sc.miseSource, sc.miseData = top, s.display(name), b
			if sc.mise == nil {
				sc.mise = map[string]any{}
			}
		case "skills", "agents":
			if err := sc.scanUnits(e); err != nil {
				return err
			}
		case ".git", ProvenanceFile:
			// Not configuration; the provenance file is always ours.
		default:
			leaves, err := s.collect(name, e, false)
			if err != nil {
				return err
			}
			sc.others = append(sc.others, leaves...)
		}
	}
	return nil
}

func (sc *tierScan) addPart(tier, source, text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	sc.parts = append(sc.parts, part{tier: tier, source: source, text: text})
}

func (sc *tierScan) scanUnits(d fs.DirEntry) error {
	s := sc.src
	dir := d.Name()
	kind := strings.TrimSuffix(dir, "s")
	if d.Type()&fs.ModeSymlink != 0 {
		if _, err := s.checkLink(dir); err != nil {
			return err
		}
	}
	v, err := s.view(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a dangling link: no skills
	}
	if err != nil {
		return s.errorf("%s: %w", s.display(dir), err)
	}
	ents, err := fs.ReadDir(v.fsys, ".")
	if err != nil {
		return s.errorf("%s: %w", s.display(dir), err)
	}
	for _, e := range ents {
		if hidden(e.Name()) {
			continue
		}
		up := dir + "/" + e.Name()
		// A linked skill usually points elsewhere in the tier, outside
		// the view, so it is followed from the tier.
		from := v
		if e.Type()&fs.ModeSymlink != 0 {
			from = s
		}
		leaves, err := from.collect(up, e, true)
		if err != nil {
			return err
		}
		sc.units = append(sc.units, scannedUnit{path: up, kind: kind, src: from, leaves: leaves})
	}
	return nil
}

// fold adds one tier's content over the tiers before it.
func (p *plan) fold(sc *tierScan) error {
	name := sc.src.name
	p.parts = append(p.parts, sc.parts...)
	if sc.settings != nil {
		p.settings.add(name, sc.settings)
		p.settingsSources = append(p.settingsSources, sc.settingsSource)
	}
	if sc.mise != nil {
		p.mise.add(name, sc.mise)
		p.miseSources = append(p.miseSources, sc.miseSource)
		p.miseOnly = sc.miseData
	}
	for _, su := range sc.units {
		u := &unitPlan{kind: su.kind, src: su.src, leaves: su.leaves, origin: Origin{Tiers: []string{name}}}
		if old := p.units[su.path]; old != nil {
			u.origin.Overrides = append(slices.Clone(old.origin.Overrides), old.origin.Tiers...)
		}
		p.units[su.path] = u
	}
	for _, l := range sc.others {
		if err := p.addOther(sc.src, l); err != nil {
			return err
		}
	}
	return nil
}

func render(t Tier, data Data) (string, error) {
	tmpl, err := template.New(t.Name).Option("missingkey=error").Parse(t.Template)
	if err != nil {
		return "", fmt.Errorf("compose: tier %s: template: %w", t.Name, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("compose: tier %s: template: %w", t.Name, err)
	}
	return b.String(), nil
}

// addOther records a path outside the merged files, skills and agents:
// a later tier's file at the same path replaces the earlier one; dirs
// merge. A path that is a dir in one tier and a file in another has no
// sensible merge, so it is an error.
func (p *plan) addOther(s *source, l leaf) error {
	old := p.others[l.name]
	if old == nil {
		p.others[l.name] = &otherPlan{leaf: l, src: s, origin: Origin{Tiers: []string{s.name}}}
		return nil
	}
	if (old.kind == leafDir) != (l.kind == leafDir) {
		dirTier, fileTier := old.src.name, s.name
		if l.kind == leafDir {
			dirTier, fileTier = s.name, old.src.name
		}
		return fmt.Errorf("compose: %s is a dir in tier %s but a file in tier %s; rename one of them", l.name, dirTier, fileTier)
	}
	if l.kind == leafDir {
		return nil
	}
	p.others[l.name] = &otherPlan{leaf: l, src: s, origin: Origin{
		Tiers:     []string{s.name},
		Overrides: append(slices.Clone(old.origin.Overrides), old.origin.Tiers...),
	}}
	return nil
}

// build decides the agent dir's content for the format, and its
// provenance.
func (p *plan) build(memory string) error {
	res := p.res
	gen := func(f File, data []byte) {
		res.Files = append(res.Files, f)
		p.out = append(p.out, outEntry{leaf: leaf{name: f.Path, kind: leafFile}, data: data})
	}

	if len(p.parts) > 0 {
		name := "AGENTS.md"
		if p.format == Claude {
			name = "CLAUDE.md"
		}
		f := File{Path: name}
		for _, pt := range p.parts {
			f.Tiers = append(f.Tiers, pt.tier)
			f.Sources = append(f.Sources, pt.source)
		}
		gen(f, joinInstructions(p.parts))
	}

	switch p.format {
	case Claude:
		// Claude Code's settings.json names for these are
		// autoMemoryEnabled and autoMemoryDirectory (the latter is
		// honoured in user settings, which is what CLAUDE_CONFIG_DIR's
		// settings.json is, but not in a project's .claude/).
		if !p.settings.has("autoMemoryEnabled") {
			p.settings.set("autoMemoryEnabled", json.RawMessage("true"), Injected)
		}
		if memory != "" && !p.settings.has("autoMemoryDirectory") {
			b, err := json.Marshal(memory)
			if err != nil {
				return err
			}
			p.settings.set("autoMemoryDirectory", b, Injected)
		}
		data, err := p.settings.encodeJSON()
		if err != nil {
			return fmt.Errorf("compose: settings.json: %w", err)
		}
		gen(File{
			Path:    "settings.json",
			Origin:  Origin{Tiers: p.settings.contributors(append(slices.Clone(p.order), Injected))},
			Sources: p.settingsSources,
			Keys:    p.settings.provenance(),
		}, data)
		// Claude Code reads no mcpServers from settings.json (user-scope
		// servers live in its own state file, .claude.json), so the
		// merged servers also go to a file for "claude --mcp-config".
		if k := p.settings.keys["mcpServers"]; k != nil && len(k.obj) > 0 {
			m := newMerger(jsonObject)
			m.keys["mcpServers"] = k
			data, err := m.encodeJSON()
			if err != nil {
				return fmt.Errorf("compose: %s: %w", MCPConfigFile, err)
			}
			f := File{Path: MCPConfigFile, Origin: k.origin, Sources: p.settingsSources, Keys: m.provenance()}
			gen(f, data)
			res.MCPConfig = MCPConfigFile
		}
	case Codex:
		var servers map[string]json.RawMessage
		var subs map[string]*Origin
		if k := p.settings.keys["mcpServers"]; k != nil {
			if k.obj == nil {
				res.Warnings = append(res.Warnings, "mcpServers in settings.json is not an object; no MCP servers in config.toml")
			}
			servers, subs = k.obj, k.sub
		}
		settings, swarn := codexSettings(p.settings.keys)
		res.Warnings = append(res.Warnings, swarn...)
		data, written, warn, err := codexConfig(servers, settings)
		if err != nil {
			return fmt.Errorf("compose: config.toml: %w", err)
		}
		res.Warnings = append(res.Warnings, warn...)
		f := File{Path: "config.toml"}
		used := map[string]bool{}
		var keys, servKeys []Key
		for _, c := range settings {
			for _, t := range c.origin.Tiers {
				used[t] = true
			}
			keys = append(keys, Key{Key: c.key, Origin: c.origin})
		}
		for _, n := range written {
			o := *subs[n]
			for _, t := range o.Tiers {
				used[t] = true
			}
			servKeys = append(servKeys, Key{Key: "mcp_servers." + n, Parent: "mcp_servers", Origin: o})
		}
		for _, t := range p.order {
			if used[t] {
				f.Tiers = append(f.Tiers, t)
			}
		}
		if len(servKeys) > 0 {
			var servTiers []string
			for _, t := range p.order {
				for _, k := range servKeys {
					if slices.Contains(k.Tiers, t) {
						servTiers = append(servTiers, t)
						break
					}
				}
			}
			keys = append(keys, Key{Key: "mcp_servers", Origin: Origin{Tiers: servTiers}})
			keys = append(keys, servKeys...)
		}
		f.Keys = keys
		if len(f.Tiers) > 0 {
			f.Sources = p.settingsSources
		} else {
			f.Tiers = []string{Injected}
		}
		gen(f, data)
	}

	switch p.format {
	case Generic:
		// A generic agent reads no settings file: name what is lost.
		for _, k := range sortedKeys(p.settings.keys) {
			if k == "autoMemoryEnabled" || k == "autoMemoryDirectory" {
				continue
			}
			res.Warnings = append(res.Warnings, "settings.json "+k+" (from "+strings.Join(p.settings.keys[k].origin.Tiers, ", ")+") is not carried: a generic agent reads no settings")
		}
	case Claude:
		if k := p.settings.keys[CodexKey]; k != nil {
			res.Warnings = append(res.Warnings, "settings.json "+CodexKey+" (from "+strings.Join(k.origin.Tiers, ", ")+") is Codex's own config.toml; Claude Code does not read it")
		}
	}

	if len(p.miseSources) > 0 {
		data := p.miseOnly
		if len(p.miseSources) > 1 {
			var err error
			if data, err = p.mise.encodeTOML(); err != nil {
				return fmt.Errorf("compose: mise.toml: %w", err)
			}
		}
		gen(File{
			Path:    "mise.toml",
			Origin:  Origin{Tiers: p.mise.contributors(p.order)},
			Sources: p.miseSources,
			Keys:    p.mise.provenance(),
		}, data)
	}

	for _, up := range sortedKeys(p.units) {
		u := p.units[up]
		if u.kind == "agent" && p.format == Codex {
			continue // Codex has no subagent files to read
		}
		res.Units = append(res.Units, Unit{Path: up, Kind: u.kind, Source: u.src.display(up), Origin: u.origin})
		for _, l := range u.leaves {
			p.out = append(p.out, outEntry{leaf: l, src: u.src})
			if l.kind != leafDir {
				res.Files = append(res.Files, File{
					Path:    l.name,
					Origin:  Origin{Tiers: u.origin.Tiers},
					Sources: []string{u.src.display(l.name)},
					Link:    l.target,
					Unit:    up,
				})
			}
		}
	}

	// Other files (hooks, commands, output styles, files CLAUDE.md
	// imports) only mean something to Claude.
	if p.format == Claude {
		generated := map[string]bool{}
		for _, f := range res.Files {
			generated[f.Path] = true
		}
		for _, name := range sortedKeys(p.others) {
			o := p.others[name]
			if generated[name] {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s from tier %s is not copied: git loop writes its own", name, o.src.name))
				continue
			}
			p.out = append(p.out, outEntry{leaf: o.leaf, src: o.src})
			if o.kind != leafDir {
				res.Files = append(res.Files, File{
					Path:    name,
					Origin:  o.origin,
					Sources: []string{o.src.display(name)},
					Link:    o.target,
				})
			}
		}
	}

	slices.SortFunc(res.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return nil
}
