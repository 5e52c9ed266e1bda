package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// merger merges top-level keys one level deep (docs/context.md, "Composition"): two objects
// at the same key merge key by key, later wins; anything else is replaced
// whole by the later tier. V is json.RawMessage for settings.json and any
// for mise.toml.
type merger[V any] struct {
	keys  map[string]*mkey[V]
	asObj func(V) (map[string]V, bool)
}

type mkey[V any] struct {
	val    V
	obj    map[string]V // set when the value is an object / table
	origin Origin
	sub    map[string]*Origin
}

func newMerger[V any](asObj func(V) (map[string]V, bool)) *merger[V] {
	return &merger[V]{keys: map[string]*mkey[V]{}, asObj: asObj}
}

func (m *merger[V]) add(tier string, top map[string]V) {
	for k, v := range top {
		obj, isObj := m.asObj(v)
		cur := m.keys[k]
		if cur != nil && cur.obj != nil && isObj {
			if len(obj) > 0 && cur.origin.Tier() != tier {
				cur.origin.Tiers = append(cur.origin.Tiers, tier)
			}
			for sk, sv := range obj {
				o := cur.sub[sk]
				if o == nil {
					cur.sub[sk] = &Origin{Tiers: []string{tier}}
				} else {
					o.Overrides = append(o.Overrides, o.Tiers...)
					o.Tiers = []string{tier}
				}
				cur.obj[sk] = sv
			}
			continue
		}
		next := &mkey[V]{val: v, origin: Origin{Tiers: []string{tier}}}
		if cur != nil {
			next.origin.Overrides = append(slices.Clone(cur.origin.Overrides), cur.origin.Tiers...)
		}
		if isObj {
			next.obj = make(map[string]V, len(obj))
			next.sub = make(map[string]*Origin, len(obj))
			for sk, sv := range obj {
				next.obj[sk] = sv
				next.sub[sk] = &Origin{Tiers: []string{tier}}
			}
		}
		m.keys[k] = next
	}
}

func (m *merger[V]) set(k string, v V, tier string) {
	m.keys[k] = &mkey[V]{val: v, origin: Origin{Tiers: []string{tier}}}
}

func (m *merger[V]) has(k string) bool { _, ok := m.keys[k]; return ok }

// provenance lists every top-level key, each followed by its sub-keys.
func (m *merger[V]) provenance() []Key {
	var out []Key
	for _, k := range sortedKeys(m.keys) {
		e := m.keys[k]
		out = append(out, Key{Key: k, Origin: e.origin})
		for _, sk := range sortedKeys(e.sub) {
			out = append(out, Key{Key: k + "." + sk, Parent: k, Origin: *e.sub[sk]})
		}
	}
	return out
}

// contributors are the tiers that gave the file any key, in tier order.
func (m *merger[V]) contributors(order []string) []string {
	seen := map[string]bool{}
	for _, e := range m.keys {
		for _, t := range e.origin.Tiers {
			seen[t] = true
		}
	}
	var out []string
	for _, t := range order {
		if seen[t] {
			out = append(out, t)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// settings.json

func jsonObject(v json.RawMessage) (map[string]json.RawMessage, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) != nil {
		return nil, false
	}
	return obj, true
}

// parseSettings reads one tier's settings.json. Errors carry the line
// and column, because the file is hand-edited.
func parseSettings(data []byte, file string) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var top map[string]json.RawMessage
	err := json.Unmarshal(data, &top)
	if err == nil {
		return top, nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := lineCol(data, syn.Offset)
		return nil, fmt.Errorf("%s: line %d, column %d: %v", file, line, col, err)
	case errors.As(err, &typ):
		return nil, fmt.Errorf("%s: line 1: settings must be a JSON object, not %s", file, typ.Value)
	}
	return nil, fmt.Errorf("%s: %w", file, err)
}

func lineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}

// encodeSettings writes the merged settings with sorted keys at the two
// merged levels; deeper values keep the order their tier wrote them in.
func (m *merger[V]) encodeJSON() ([]byte, error) {
	out := make(map[string]any, len(m.keys))
	for k, e := range m.keys {
		if e.obj != nil {
			out[k] = e.obj
		} else {
			out[k] = e.val
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Commands in settings ("a && b", "<file>") must read as written.
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// mise.toml

func tomlTable(v any) (map[string]any, bool) {
	t, ok := v.(map[string]any)
	return t, ok
}

func parseTOML(data []byte, file string) (map[string]any, error) {
	var top map[string]any
	if err := toml.Unmarshal(data, &top); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, col := de.Position()
			return nil, fmt.Errorf("%s: line %d, column %d: %v", file, line, col, err)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return top, nil
}

func (m *merger[V]) encodeTOML() ([]byte, error) {
	out := make(map[string]any, len(m.keys))
	for k, e := range m.keys {
		if e.obj != nil {
			out[k] = e.obj
		} else {
			out[k] = e.val
		}
	}
	return toml.Marshal(out)
}

// CLAUDE.md

type part struct {
	tier   string
	source string
	text   string
}

// joinInstructions concatenates the parts, each under a comment naming
// where it came from, so the agent (and the user reading the file) can
// tell team doctrine from personal preference.
func joinInstructions(parts []part) []byte {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "<!-- git loop: from %s (%s) -->\n", commentSafe(p.tier), commentSafe(p.source))
		b.WriteString(strings.TrimRight(p.text, "\n"))
		b.WriteString("\n")
	}
	return []byte(b.String())
}

// commentSafe keeps a path from closing the HTML comment early.
func commentSafe(s string) string { return strings.ReplaceAll(s, "-->", "--&gt;") }
