package cluster

import (
	"bytes"
	"errors"
	"sort"
)

// canonicalJSON rewrites compact JSON (as json.Marshal writes it) with the
// keys of every object sorted, as json.Marshal writes a map[string]any,
// leaving out the top-level keys in drop. Strings and numbers are copied
// as they are. It is what decoding into map[string]any and encoding again
// gives, without building the values.
func canonicalJSON(b []byte, drop ...string) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(b))
	p := &canonParser{b: b}
	if err := p.value(&out, drop); err != nil {
		return nil, err
	}
	if p.i != len(b) {
		return nil, errors.New("canonical JSON: trailing data")
	}
	return out.Bytes(), nil
}

type canonParser struct {
	b []byte
	i int
}

var errCanon = errors.New("canonical JSON: not compact JSON")

// value copies one value at p.i to out; drop applies to an object's keys.
func (p *canonParser) value(out *bytes.Buffer, drop []string) error {
	if p.i >= len(p.b) {
		return errCanon
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(out, drop)
	case c == '[':
		p.i++
		out.WriteByte('[')
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			out.WriteByte(']')
			return nil
		}
		for {
			if err := p.value(out, nil); err != nil {
				return err
			}
			if p.i >= len(p.b) {
				return errCanon
			}
			switch p.b[p.i] {
			case ',':
				p.i++
				out.WriteByte(',')
			case ']':
				p.i++
				out.WriteByte(']')
				return nil
			default:
				return errCanon
			}
		}
	case c == '"':
		start := p.i
		if err := p.skipString(); err != nil {
			return err
		}
		out.Write(p.b[start:p.i])
		return nil
	default:
		start := p.i
		for p.i < len(p.b) && p.b[p.i] != ',' && p.b[p.i] != ']' && p.b[p.i] != '}' {
			p.i++
		}
		tok := p.b[start:p.i]
		// A map[string]any holds numbers as float64: a number that does
		// not survive that as it is written is left to that path.
		if len(tok) == 0 || (tok[0] == '-' || tok[0] >= '0' && tok[0] <= '9') && (len(tok) > 15 || bytes.ContainsAny(tok, ".eE")) {
			return errCanon
		}
		out.Write(tok)
		return nil
	}
}

func (p *canonParser) skipString() error {
	p.i++ // opening quote
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			p.i += 2
		case '"':
			p.i++
			return nil
		default:
			p.i++
		}
	}
	return errCanon
}

type canonMember struct {
	key       string
	keyStart  int
	keyEnd    int
	valueJSON []byte
}

func (p *canonParser) object(out *bytes.Buffer, drop []string) error {
	p.i++ // {
	var members []canonMember
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		out.WriteString("{}")
		return nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return errCanon
		}
		ks := p.i
		if err := p.skipString(); err != nil {
			return err
		}
		ke := p.i
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return errCanon
		}
		p.i++
		var v bytes.Buffer
		if err := p.value(&v, nil); err != nil {
			return err
		}
		key := string(p.b[ks+1 : ke-1])
		if bytes.IndexByte(p.b[ks:ke], '\\') >= 0 {
			// An escaped key sorts by its decoded form; none of the
			// cluster's keys are, so leave such objects alone.
			return errCanon
		}
		dropped := false
		for _, d := range drop {
			if key == d {
				dropped = true
			}
		}
		if !dropped {
			members = append(members, canonMember{key: key, keyStart: ks, keyEnd: ke, valueJSON: v.Bytes()})
		}
		if p.i >= len(p.b) {
			return errCanon
		}
		if p.b[p.i] == '}' {
			p.i++
			break
		}
		if p.b[p.i] != ',' {
			return errCanon
		}
		p.i++
	}
	sort.Slice(members, func(i, j int) bool { return members[i].key < members[j].key })
	out.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			out.WriteByte(',')
		}
		out.Write(p.b[m.keyStart:m.keyEnd])
		out.WriteByte(':')
		out.Write(m.valueJSON)
	}
	out.WriteByte('}')
	return nil
}
