package vyos

import (
	"sort"
	"strings"
)

// Config is a VyOS configuration tree of one dialect.
type Config struct {
	dialect Dialect
	root    *Node
}

// Node is one node of a configuration tree: a plain node ("protocols"), a
// tag node ("neighbor") whose children are its entries ("192.0.2.1"), or a
// leaf carrying values.
type Node struct {
	name     string
	spec     *spec
	entry    bool     // an entry of a tag node; name is its value
	values   []string // values of a leaf (one for single-value leaves)
	deflt    bool     // a leaf holding its default value (1.3 semantics)
	children []*Node  // sorted in VyOS order
}

// NewConfig returns an empty configuration of a dialect.
func NewConfig(d Dialect) *Config {
	if d != V14 {
		d = V13
	}
	return &Config{dialect: d, root: &Node{spec: schemaFor(d)}}
}

// Dialect returns the configuration's dialect.
func (c *Config) Dialect() Dialect { return c.dialect }

// Clone returns a deep copy.
func (c *Config) Clone() *Config { return &Config{dialect: c.dialect, root: c.root.clone()} }

func (n *Node) clone() *Node {
	if n == nil {
		return nil
	}
	m := &Node{name: n.name, spec: n.spec, entry: n.entry, deflt: n.deflt}
	m.values = append([]string(nil), n.values...)
	for _, k := range n.children {
		m.children = append(m.children, k.clone())
	}
	return m
}

// Equal reports whether two configurations hold the same nodes and values.
func (c *Config) Equal(o *Config) bool {
	return c.dialect == o.dialect && nodesEqual(c.root, o.root)
}

func nodesEqual(a, b *Node) bool {
	if a.name != b.name || a.entry != b.entry || len(a.values) != len(b.values) || len(a.children) != len(b.children) {
		return false
	}
	for i := range a.values {
		if a.values[i] != b.values[i] {
			return false
		}
	}
	for i := range a.children {
		if !nodesEqual(a.children[i], b.children[i]) {
			return false
		}
	}
	return true
}

// IsEmpty reports whether the configuration has no nodes.
func (c *Config) IsEmpty() bool { return len(c.root.children) == 0 }

// Name returns the node's name (an entry's value for tag entries).
func (n *Node) Name() string { return n.name }

// Values returns the values of a leaf.
func (n *Node) Values() []string { return n.values }

// Children returns the child nodes in VyOS order.
func (n *Node) Children() []*Node { return n.children }

func (n *Node) find(name string) *Node {
	if n == nil {
		return nil
	}
	for _, k := range n.children {
		if k.name == name {
			return k
		}
	}
	return nil
}

// get walks names from n; it returns nil when any is missing.
func (n *Node) get(path ...string) *Node {
	for _, p := range path {
		n = n.find(p)
		if n == nil {
			return nil
		}
	}
	return n
}

// has reports whether the path exists below n.
func (n *Node) has(path ...string) bool { return n.get(path...) != nil }

// value returns the (first) value of the leaf at path, or "".
func (n *Node) value(path ...string) string {
	l := n.get(path...)
	if l == nil || len(l.values) == 0 {
		return ""
	}
	return l.values[0]
}

// list returns the values of a multi leaf at path.
func (n *Node) list(path ...string) []string {
	l := n.get(path...)
	if l == nil {
		return nil
	}
	return l.values
}

// entries returns the entries of the tag node at path, in VyOS order.
func (n *Node) entries(path ...string) []*Node {
	t := n.get(path...)
	if t == nil {
		return nil
	}
	return t.children
}

// Get returns the node at path from the root, or nil.
func (c *Config) Get(path ...string) *Node { return c.root.get(path...) }

// Root returns the root node.
func (c *Config) Root() *Node { return c.root }

// addChild inserts a child keeping VyOS's order and returns it.
func (n *Node) addChild(k *Node) *Node {
	i := sort.Search(len(n.children), func(i int) bool { return debCompare(n.children[i].name, k.name) >= 0 })
	n.children = append(n.children, nil)
	copy(n.children[i+1:], n.children[i:])
	n.children[i] = k
	return k
}

func (n *Node) removeChild(k *Node) {
	for i, c := range n.children {
		if c == k {
			n.children = append(n.children[:i], n.children[i+1:]...)
			return
		}
	}
}

// debCompare orders names the way VyOS's configuration backend does
// (Debian version comparison): digit runs compare numerically, so eth2
// sorts before eth10 and 192.0.2.9 before 192.0.2.10.
func debCompare(a, b string) int {
	order := func(s string, i int) int {
		if i >= len(s) {
			return 0
		}
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			return 0
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			return int(c)
		case c == '~':
			return -1
		}
		return int(c) + 256
	}
	isDigit := func(s string, i int) bool { return i < len(s) && s[i] >= '0' && s[i] <= '9' }
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a, i)) || (j < len(b) && !isDigit(b, j)) {
			ac, bc := order(a, i), order(b, j)
			if ac != bc {
				return ac - bc
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		first := 0
		for isDigit(a, i) && isDigit(b, j) {
			if first == 0 {
				first = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if isDigit(a, i) {
			return 1
		}
		if isDigit(b, j) {
			return -1
		}
		if first != 0 {
			return first
		}
	}
	return strings.Compare(a, b)
}
