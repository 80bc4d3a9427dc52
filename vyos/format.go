package vyos

import (
	"fmt"
	"strings"
)

// showOpts select how a tree is printed.
type showOpts struct {
	defaults bool // include leaves that hold their default value
	secrets  bool // replace password-like values with asterisks
	markers  bool // a one-column +/-/> marker before every line (config mode)
}

// needsQuote mirrors VyOS: values that are empty or contain blanks,
// braces, ';' or '*' are shown in double quotes.
func needsQuote(v string) bool {
	return v == "" || strings.ContainsAny(v, "*}{;\t\n\v\f\r ")
}

func showValue(name, v string, o showOpts) string {
	if o.secrets {
		for _, s := range []string{"passphrase", "password", "pre-shared-secret", "key"} {
			if strings.HasSuffix(name, s) {
				return "****************"
			}
		}
	}
	if needsQuote(v) {
		return `"` + v + `"`
	}
	return v
}

type printer struct {
	b    strings.Builder
	opts showOpts
}

func (p *printer) line(mark string, level int, text string) {
	if p.opts.markers {
		p.b.WriteString(mark)
	}
	p.b.WriteString(strings.Repeat("    ", level))
	p.b.WriteString(text)
	p.b.WriteByte('\n')
}

// union returns the children of a and b matched by name, in VyOS order.
func union(a, b *Node) (names []string, ca, cb map[string]*Node) {
	ca, cb = map[string]*Node{}, map[string]*Node{}
	tmp := &Node{}
	for _, n := range []*Node{a, b} {
		if n == nil {
			continue
		}
		for _, k := range n.children {
			if n == a {
				ca[k.name] = k
			} else {
				cb[k.name] = k
			}
			if tmp.find(k.name) == nil {
				tmp.addChild(&Node{name: k.name})
			}
		}
	}
	for _, k := range tmp.children {
		names = append(names, k.name)
	}
	return names, ca, cb
}

func markFor(a, b *Node) string {
	switch {
	case a == nil:
		return "+"
	case b == nil:
		return "-"
	}
	return " "
}

// diffTree prints the children of nodes a (active) and b (working) at a
// level; either may be nil (a subtree only on one side).
func (p *printer) diffTree(a, b *Node, level int) {
	names, ca, cb := union(a, b)
	for _, name := range names {
		x, y := ca[name], cb[name]
		n := y
		if n == nil {
			n = x
		}
		mark := markFor(x, y)
		switch n.spec.kind {
		case kLeaf:
			if n.deflt && !p.opts.defaults {
				continue
			}
			v := n.values[0]
			if x != nil && y != nil && x.values[0] != y.values[0] {
				mark = ">"
			}
			p.line(mark, level, name+" "+showValue(name, v, p.opts))
		case kMulti:
			if n.deflt && !p.opts.defaults {
				continue
			}
			vals, marks := multiDiff(x, y)
			for i, v := range vals {
				p.line(marks[i], level, name+" "+showValue(name, v, p.opts))
			}
		case kFlag:
			p.line(mark, level, name)
		case kTag:
			if n.entry {
				continue
			}
			enames, ea, eb := union(x, y)
			for _, en := range enames {
				ex, ey := ea[en], eb[en]
				em := markFor(ex, ey)
				v := en
				if strings.ContainsAny(v, "*}{;\t\n\v\f\r ") {
					v = `"` + v + `"`
				}
				p.line(em, level, name+" "+v+" {")
				p.diffTree(ex, ey, level+1)
				p.line(em, level, "}")
			}
		default:
			p.line(mark, level, name+" {")
			p.diffTree(x, y, level+1)
			p.line(mark, level, "}")
		}
	}
}

// multiDiff compares the values of a multi-value leaf like VyOS: removed
// values first ("-"), then the working values ("+" new, " " same place,
// ">" moved).
func multiDiff(a, b *Node) ([]string, []string) {
	var av, bv []string
	if a != nil {
		av = a.values
	}
	if b != nil {
		bv = b.values
	}
	if a == nil || b == nil {
		m := "+"
		vals := bv
		if b == nil {
			m, vals = "-", av
		}
		marks := make([]string, len(vals))
		for i := range marks {
			marks[i] = m
		}
		return vals, marks
	}
	var vals, marks []string
	for _, v := range av {
		if !contains(bv, v) {
			vals, marks = append(vals, v), append(marks, "-")
		}
	}
	for i, v := range bv {
		vals = append(vals, v)
		switch {
		case !contains(av, v):
			marks = append(marks, "+")
		case i < len(av) && av[i] == v:
			marks = append(marks, " ")
		default:
			marks = append(marks, ">")
		}
	}
	return vals, marks
}

// String returns the configuration in VyOS's curly format as op-mode
// "show configuration" prints it (defaults hidden, secrets masked).
func (c *Config) String() string {
	p := &printer{opts: showOpts{secrets: true}}
	p.diffTree(c.root, c.root, 0)
	return p.b.String()
}

// Boot returns config.boot: the whole tree including defaults, then
// VyOS's version footer.
func (c *Config) Boot() string {
	p := &printer{opts: showOpts{defaults: true}}
	p.diffTree(c.root, c.root, 0)
	return p.b.String() + c.dialect.bootFooter()
}

// showAt renders config-mode "show [path]": the working subtree at path
// with +/-/> markers against the active one.
func showAt(active, working *Config, path []string) string {
	a, b := active.root.get(path...), working.root.get(path...)
	p := &printer{opts: showOpts{markers: true}}
	if len(path) > 0 {
		n := b
		if n == nil {
			n = a
		}
		if n != nil && n.spec.isLeaf() {
			// "show system host-name" prints the leaf itself.
			parentA, parentB := active.root.get(path[:len(path)-1]...), working.root.get(path[:len(path)-1]...)
			pa, pb := &Node{}, &Node{}
			if parentA != nil {
				if k := parentA.find(n.name); k != nil {
					pa.children = []*Node{k}
				}
			}
			if parentB != nil {
				if k := parentB.find(n.name); k != nil {
					pb.children = []*Node{k}
				}
			}
			if a == nil {
				pa = nil
			}
			if b == nil {
				pb = nil
			}
			p.diffTree(pa, pb, 0)
			return p.b.String()
		}
	}
	if a == nil && b == nil {
		return ""
	}
	p.diffTree(a, b, 0)
	return p.b.String()
}

// compare renders config-mode "compare": only the differences, each group
// under an "[edit ...]" header.
func compare(active, working *Config) string {
	var b strings.Builder
	last := "\x00"
	header := func(path []string) {
		h := "[edit"
		if len(path) > 0 {
			h += " " + strings.Join(path, " ")
		}
		h += "]"
		if h != last {
			b.WriteString(h + "\n")
			last = h
		}
	}
	var walk func(x, y *Node, path []string)
	walk = func(x, y *Node, path []string) {
		names, ca, cb := union(x, y)
		for _, name := range names {
			a, c := ca[name], cb[name]
			n := c
			if n == nil {
				n = a
			}
			if a == nil || c == nil {
				if n.deflt {
					continue
				}
				header(path)
				p := &printer{opts: showOpts{markers: true}}
				one := &Node{children: []*Node{n}}
				if a == nil {
					p.diffTree(nil, one, 0)
				} else {
					p.diffTree(one, nil, 0)
				}
				b.WriteString(p.b.String())
				continue
			}
			switch n.spec.kind {
			case kLeaf:
				if a.values[0] != c.values[0] {
					header(path)
					fmt.Fprintf(&b, ">%s %s\n", name, showValue(name, c.values[0], showOpts{}))
				}
			case kMulti:
				vals, marks := multiDiff(a, c)
				for i, v := range vals {
					if marks[i] != " " {
						header(path)
						fmt.Fprintf(&b, "%s%s %s\n", marks[i], name, showValue(name, v, showOpts{}))
					}
				}
			case kFlag:
			case kTag:
				if n.entry {
					continue
				}
				enames, ea, eb := union(a, c)
				for _, en := range enames {
					ex, ey := ea[en], eb[en]
					if ex == nil || ey == nil {
						header(path)
						p := &printer{opts: showOpts{markers: true}}
						tagOnly := func(e *Node) *Node {
							if e == nil {
								return nil
							}
							return &Node{children: []*Node{{name: name, spec: n.spec, children: []*Node{e}}}}
						}
						p.diffTree(tagOnly(ex), tagOnly(ey), 0)
						b.WriteString(p.b.String())
						continue
					}
					walk(ex, ey, append(append(append([]string(nil), path...), name), en))
				}
			default:
				walk(a, c, append(append([]string(nil), path...), name))
			}
		}
	}
	walk(active.root, working.root, nil)
	return b.String()
}

// ParseBoot reads a configuration in VyOS's curly format (config.boot).
// Comments (/* */ and // lines) are ignored; every node is checked against
// the dialect's schema, and the first problem is reported with its line.
func ParseBoot(d Dialect, text string) (*Config, error) {
	c := NewConfig(d)
	var stack [][]string
	depth := func() []string {
		var out []string
		for _, s := range stack {
			out = append(out, s...)
		}
		return out
	}
	inComment := false
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if inComment {
			if j := strings.Index(line, "*/"); j >= 0 {
				inComment = false
				line = strings.TrimSpace(line[j+2:])
			} else {
				continue
			}
		}
		if strings.HasPrefix(line, "/*") {
			if j := strings.Index(line, "*/"); j >= 0 {
				line = strings.TrimSpace(line[j+2:])
			} else {
				inComment = true
				continue
			}
		}
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		if line == "}" {
			if len(stack) == 0 {
				return nil, fmt.Errorf("vyos: config.boot line %d: unbalanced '}'", i+1)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		open := strings.HasSuffix(line, "{")
		if open {
			line = strings.TrimSpace(strings.TrimSuffix(line, "{"))
		}
		words, err := SplitLine(line)
		if err != nil || len(words) == 0 || len(words) > 2 {
			return nil, fmt.Errorf("vyos: config.boot line %d: cannot parse %q", i+1, strings.TrimSpace(raw))
		}
		path := append(depth(), words...)
		if _, err := c.Set(path...); err != nil {
			return nil, fmt.Errorf("vyos: config.boot line %d: %q: %s", i+1, strings.TrimSpace(raw), strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		if open {
			stack = append(stack, words)
		}
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("vyos: config.boot: %d unclosed '{'", len(stack))
	}
	return c, nil
}
