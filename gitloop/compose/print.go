package compose

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Print writes the composed agent dir as a tree, each file, skill, agent
// and merged key annotated with the tier it came from:
//
//	/…/loops/x/agent (claude)
//	tiers: doctrine, team, profile:go, personal
//	├── CLAUDE.md  ← doctrine, team, personal
//	├── settings.json  ← team, personal, git loop (injected)
//	│   ├── .autoMemoryEnabled  ← git loop (injected)
//	│   └── .mcpServers  ← team, personal
//	│       └── .github  ← personal (overrides team)
//	└── skills/
//	    └── review/  ← profile:go (overrides team)
//	        └── SKILL.md
func (r *Result) Print(w io.Writer) error {
	bw := bufio.NewWriter(w)
	dir := r.Dir
	if dir == "" {
		dir = "(agent dir)"
	}
	fmt.Fprintf(bw, "%s (%s)\n", dir, r.Format)
	var tiers []string
	for _, t := range r.Tiers {
		if t.Present {
			tiers = append(tiers, t.Name)
		} else {
			tiers = append(tiers, t.Name+" (absent)")
		}
	}
	fmt.Fprintf(bw, "tiers: %s\n", strings.Join(tiers, ", "))

	root := &node{}
	isFile := map[string]bool{}
	for _, f := range r.Files {
		isFile[f.Path] = true
	}
	for _, u := range r.Units {
		root.at(u.Path, !isFile[u.Path]).note = note(u.Origin)
	}
	for i := range r.Files {
		f := &r.Files[i]
		n := root.at(f.Path, false)
		if f.Link != "" {
			n.name += " -> " + f.Link
		}
		if f.Unit == "" {
			n.note = note(f.Origin)
		}
		for _, k := range f.Keys {
			parent := n
			name := k.Key
			if k.Parent != "" {
				parent = n.child("." + k.Parent)
				name = strings.TrimPrefix(k.Key, k.Parent+".")
			}
			parent.child("." + name).note = note(k.Origin)
		}
	}
	root.sort()
	root.print(bw, "")
	for _, warn := range r.Warnings {
		fmt.Fprintf(bw, "warning: %s\n", warn)
	}
	return bw.Flush()
}

func note(o Origin) string {
	if len(o.Tiers) == 0 {
		return ""
	}
	s := "← " + strings.Join(o.Tiers, ", ")
	if len(o.Overrides) > 0 {
		s += " (overrides " + strings.Join(o.Overrides, ", ") + ")"
	}
	return s
}

type node struct {
	key   string // name in the path, for lookup and order
	name  string // as shown
	note  string
	kids  []*node
	index map[string]*node
}

// sort orders each dir's entries by name, as ls does; units are added
// before files, so insertion order is not path order.
func (n *node) sort() {
	slices.SortStableFunc(n.kids, func(a, b *node) int {
		return strings.Compare(strings.TrimSuffix(a.key, "/"), strings.TrimSuffix(b.key, "/"))
	})
	for _, k := range n.kids {
		k.sort()
	}
}

func (n *node) child(name string) *node {
	if c, ok := n.index[name]; ok {
		return c
	}
	if n.index == nil {
		n.index = map[string]*node{}
	}
	c := &node{key: name, name: name}
	n.index[name] = c
	n.kids = append(n.kids, c)
	return c
}

// at finds the node for a slash path, making its parents dir nodes.
func (n *node) at(p string, dir bool) *node {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if i < len(parts)-1 || dir {
			part += "/"
		}
		n = n.child(part)
	}
	return n
}

func (n *node) print(w io.Writer, prefix string) {
	for i, k := range n.kids {
		branch, next := "├── ", "│   "
		if i == len(n.kids)-1 {
			branch, next = "└── ", "    "
		}
		if k.note != "" {
			fmt.Fprintf(w, "%s%s%s  %s\n", prefix, branch, k.name, k.note)
		} else {
			fmt.Fprintf(w, "%s%s%s\n", prefix, branch, k.name)
		}
		k.print(w, prefix+next)
	}
}
