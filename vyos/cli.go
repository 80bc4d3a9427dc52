package vyos

import (
	"fmt"
	"sort"
	"strings"
)

// CLIError is a rejected set/delete/edit: Lines are what VyOS prints (each
// indented by two spaces and framed by blank lines in the shell), ending in
// "Set failed" or "Delete failed" where VyOS says so.
type CLIError struct {
	Lines []string
}

func (e *CLIError) Error() string { return strings.Join(e.Lines, "\n") }

// SplitLine splits a command line into words the way bash does for VyOS's
// CLI: blanks separate words, single quotes are literal, double quotes
// allow \" \\ \$ \` escapes, a backslash outside quotes escapes the next
// character, and an unquoted # starts a comment.
func SplitLine(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(line)
		case c == '\'':
			inWord = true
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unexpected EOF while looking for matching `''")
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf("unexpected EOF while looking for matching `\"'")
			}
		case c == '\\':
			inWord = true
			if i+1 < len(line) {
				i++
				cur.WriteByte(line[i])
			}
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// quoteWord quotes a value for display in a command, as VyOS does with
// single quotes.
func quoteWord(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

type stepKind uint8

const (
	stepNode  stepKind = iota // a plain node, a tag node's name, or a leaf's name
	stepEntry                 // an entry of a tag node
	stepValue                 // the value of a leaf
)

type step struct {
	spec *spec
	word string
	kind stepKind
}

// resolved is a path checked against the schema.
type resolved struct {
	steps []step
}

func (r resolved) words() []string {
	out := make([]string, len(r.steps))
	for i, s := range r.steps {
		out[i] = s.word
	}
	return out
}

func (r resolved) last() step { return r.steps[len(r.steps)-1] }

// resolve walks words (an absolute path: edit level followed by what the
// user typed) through the schema, expanding unique prefixes of node names
// as VyOS does. base is how many leading words are the edit level; error
// messages show only the words after it. validate checks tag entry names
// and leaf values (set and edit do; delete and show do not).
func resolve(root *spec, words []string, base int, validate bool, op string) (resolved, *CLIError) {
	var r resolved
	cur := root
	atEntry := false // cur is a tag node and the next word names an entry
	rel := func(upto int) string { return strings.Join(words[base:upto], " ") }
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case atEntry:
			if validate {
				if strings.ContainsAny(w, " \t\n") {
					return r, failed(op, "Tag node value name must not contain whitespace")
				}
				if ok, msg := cur.typ.validate(w); !ok {
					return r, valueFailed(op, msg)
				}
			}
			r.steps = append(r.steps, step{spec: cur, word: w, kind: stepEntry})
			atEntry = false
		case cur.kind == kLeaf || cur.kind == kMulti:
			if len(r.steps) > 0 && r.steps[len(r.steps)-1].kind == stepValue {
				return r, invalidPath(op, rel(i), w)
			}
			if validate {
				if ok, msg := cur.typ.validate(w); !ok {
					return r, valueFailed(op, msg)
				}
			}
			r.steps = append(r.steps, step{spec: cur, word: w, kind: stepValue})
		case cur.kind == kFlag:
			return r, invalidPath(op, rel(i), w)
		default:
			next := cur.child(w)
			if next == nil {
				var matches []string
				for _, c := range cur.children {
					if strings.HasPrefix(c.name, w) {
						matches = append(matches, c.name)
					}
				}
				sort.Strings(matches)
				switch {
				case len(matches) == 1 && w != "":
					next = cur.child(matches[0])
					w = matches[0]
				case len(matches) > 1 && w != "":
					e := &CLIError{Lines: []string{fmt.Sprintf("Configuration path: %s is ambiguous", bracket(rel(i), w)), "", "Possible completions:"}}
					for _, m := range matches {
						e.Lines = append(e.Lines, fmt.Sprintf("  %-18s%s", m, cur.child(m).help))
					}
					e.Lines = append(e.Lines, "", op+" failed")
					return r, e
				default:
					return r, invalidPath(op, rel(i), w)
				}
			}
			r.steps = append(r.steps, step{spec: next, word: w, kind: stepNode})
			cur = next
			if cur.kind == kTag {
				atEntry = true
			}
		}
	}
	return r, nil
}

func bracket(prefix, w string) string {
	if prefix == "" {
		return "[" + w + "]"
	}
	return prefix + " [" + w + "]"
}

func invalidPath(op, prefix, w string) *CLIError {
	return &CLIError{Lines: []string{fmt.Sprintf("Configuration path: %s is not valid", bracket(prefix, w)), op + " failed"}}
}

func valueFailed(op, msg string) *CLIError {
	var lines []string
	if msg != "" {
		lines = append(lines, strings.Split(msg, "\n")...)
		lines = append(lines, "")
	}
	lines = append(lines, "Value validation failed", op+" failed")
	return &CLIError{Lines: lines}
}

func failed(op, msg string) *CLIError {
	return &CLIError{Lines: []string{msg, op + " failed"}}
}

// Set adds a path to the configuration (words are an absolute path, e.g.
// "protocols", "bgp", "64512", "neighbor", "192.0.2.1", "remote-as",
// "64512"). It returns an informational message ("... already exists") or
// a *CLIError with VyOS's text.
func (c *Config) Set(words ...string) (string, error) { return c.set(words, 0) }

func (c *Config) set(words []string, base int) (string, error) {
	if len(words) == base {
		return "", &CLIError{Lines: []string{"Need to specify the config node to set", "Set failed"}}
	}
	r, err := resolve(c.root.spec, words, base, true, "Set")
	if err != nil {
		return "", err
	}
	last := r.last()
	rel := strings.Join(words[base:], " ")
	if last.kind == stepNode && (last.spec.kind == kLeaf || last.spec.kind == kMulti || last.spec.kind == kTag) {
		return "", &CLIError{Lines: []string{fmt.Sprintf("Configuration path: [%s] requires a value", rel), "Set failed"}}
	}
	changed := false
	n := c.root
	for _, s := range r.steps {
		switch s.kind {
		case stepNode, stepEntry:
			k := n.find(s.word)
			if k == nil && s.kind == stepEntry && s.spec.limit > 0 && len(n.children) >= s.spec.limit {
				return "", &CLIError{Lines: []string{fmt.Sprintf("Cannot set node %q: number of values exceeds limit(%d allowed)", s.word, s.spec.limit), "Set failed"}}
			}
			if k == nil {
				k = n.addChild(&Node{name: s.word, spec: s.spec, entry: s.kind == stepEntry})
				changed = true
				c.createDefaults(k)
			}
			n = k
		case stepValue:
			switch {
			case s.spec.kind == kMulti:
				if !contains(n.values, s.word) {
					n.values = append(n.values, s.word)
					changed = true
				}
			case len(n.values) != 1 || n.values[0] != s.word || n.deflt:
				n.values = []string{s.word}
				n.deflt = false
				changed = true
			}
		}
	}
	if !changed {
		return fmt.Sprintf("Configuration path: [%s] already exists", rel), nil
	}
	return "", nil
}

// createDefaults adds the default-valued leaves below a new node (VyOS 1.3
// stores them in the tree; 1.4 does not).
func (c *Config) createDefaults(n *Node) {
	if c.dialect != V13 || n.spec.kind == kTag && !n.entry {
		return
	}
	for _, s := range n.spec.children {
		if s.def != "" && (s.kind == kLeaf || s.kind == kMulti) && n.find(s.name) == nil {
			n.addChild(&Node{name: s.name, spec: s, values: []string{s.def}, deflt: true})
		}
	}
}

// Delete removes a path (a node, a tag entry, a leaf, or one value of a
// multi-value leaf). Deleting a missing path is not an error; the returned
// message says "Nothing to delete ...".
func (c *Config) Delete(words ...string) (string, error) { return c.delete(words, 0) }

func (c *Config) delete(words []string, base int) (string, error) {
	if len(words) == base {
		return "", &CLIError{Lines: []string{"Need to specify the config node to delete", "Delete failed"}}
	}
	r, err := resolve(c.root.spec, words, base, false, "Delete")
	if err != nil {
		return "", err
	}
	// Walk to the parent of the node to remove.
	chain := []*Node{c.root}
	n := c.root
	last := r.last()
	for i, s := range r.steps {
		if s.kind == stepValue {
			break
		}
		k := n.find(s.word)
		if k == nil {
			what := "node"
			if last.kind == stepValue {
				what = "value"
			}
			return fmt.Sprintf("Nothing to delete (the specified %s does not exist)", what), nil
		}
		n = k
		chain = append(chain, n)
		_ = i
	}
	if last.kind == stepValue {
		if !contains(n.values, last.word) || n.deflt {
			return "Nothing to delete (the specified value does not exist)", nil
		}
		var keep []string
		for _, v := range n.values {
			if v != last.word {
				keep = append(keep, v)
			}
		}
		n.values = keep
		if len(keep) > 0 {
			return "", nil
		}
	}
	// Remove n from its parent; a leaf with a default goes back to it.
	parent := chain[len(chain)-2]
	if c.dialect == V13 && n.spec.def != "" && !n.entry && (n.spec.kind == kLeaf || n.spec.kind == kMulti) {
		if n.deflt {
			return "Nothing to delete (the specified node does not exist)", nil
		}
		n.values, n.deflt = []string{n.spec.def}, true
		return "", nil
	}
	parent.removeChild(n)
	// A tag node without entries disappears with its last entry.
	for i := len(chain) - 2; i > 0; i-- {
		p := chain[i]
		if p.spec.kind == kTag && !p.entry && len(p.children) == 0 {
			chain[i-1].removeChild(p)
			continue
		}
		break
	}
	return "", nil
}

// Commands returns the configuration as "set ..." lines with quoted
// values, as "show configuration commands" prints it (defaults omitted).
func (c *Config) Commands() []string {
	var out []string
	var walk func(n *Node, prefix string)
	walk = func(n *Node, prefix string) {
		for _, k := range n.children {
			p := prefix + " " + k.name
			switch {
			case k.spec.kind == kLeaf || k.spec.kind == kMulti:
				if k.deflt {
					continue
				}
				for _, v := range k.values {
					out = append(out, p+" "+quoteWord(v))
				}
			case k.spec.kind == kTag && !k.entry:
				for _, e := range k.children {
					ep := p + " " + e.name
					if len(e.children) == 0 || onlyDefaults(e) {
						out = append(out, ep)
					}
					walk(e, ep)
				}
			default:
				if len(k.children) == 0 || onlyDefaults(k) {
					out = append(out, p)
				}
				walk(k, p)
			}
		}
	}
	walk(c.root, "set")
	return out
}

func onlyDefaults(n *Node) bool {
	for _, k := range n.children {
		if !k.deflt {
			return false
		}
	}
	return true
}

// ParseCommands builds a configuration from "set ..." lines (blank lines
// and # comments ignored). The first rejected line is returned as an error
// naming its line number.
func ParseCommands(d Dialect, text string) (*Config, error) {
	c := NewConfig(d)
	for i, line := range strings.Split(text, "\n") {
		words, err := SplitLine(line)
		if err != nil {
			return nil, fmt.Errorf("vyos: line %d: %w", i+1, err)
		}
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "set":
			_, err = c.Set(words[1:]...)
		case "delete":
			_, err = c.Delete(words[1:]...)
		default:
			err = fmt.Errorf("only set and delete lines are accepted, got %q", words[0])
		}
		if err != nil {
			return nil, fmt.Errorf("vyos: line %d: %q: %s", i+1, line, strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	}
	return c, nil
}
