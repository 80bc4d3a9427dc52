package kube

import (
	"fmt"
	"strings"

	"github.com/onp-lab/onp/metallb/api"
)

// ParseSelector parses a label selector in kubectl syntax into a
// LabelSelector: comma-separated requirements, each one of
//
//	key=value  key==value  key!=value
//	key in (v1,v2)  key notin (v1,v2)
//	key  !key
//
// An empty string selects everything. Keys and values are checked as the
// API server checks them.
func ParseSelector(s string) (api.LabelSelector, error) {
	var sel api.LabelSelector
	p := &selParser{s: s}
	p.skipSpace()
	if p.eof() {
		return sel, nil
	}
	for {
		r, err := p.requirement()
		if err != nil {
			return api.LabelSelector{}, fmt.Errorf("invalid label selector %q: %w", s, err)
		}
		if _, dup := sel.MatchLabels[r.Key]; r.Operator == api.SelectorOpIn && len(r.Values) == 1 && p.equality && !dup {
			if sel.MatchLabels == nil {
				sel.MatchLabels = map[string]string{}
			}
			sel.MatchLabels[r.Key] = r.Values[0]
		} else {
			sel.MatchExpressions = append(sel.MatchExpressions, r)
		}
		p.skipSpace()
		if p.eof() {
			break
		}
		if !p.take(",") {
			return api.LabelSelector{}, fmt.Errorf("invalid label selector %q: expected ',' at position %d", s, p.i)
		}
	}
	if err := sel.Validate(); err != nil {
		return api.LabelSelector{}, fmt.Errorf("invalid label selector %q: %w", s, err)
	}
	return sel, nil
}

type selParser struct {
	s string
	i int
	// equality is set when the last requirement was key=value.
	equality bool
}

func (p *selParser) eof() bool { return p.i >= len(p.s) }

func (p *selParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *selParser) take(tok string) bool {
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

// word reads a key or value: everything up to a delimiter.
func (p *selParser) word() string {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(" \t,=!()", rune(p.s[p.i])) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *selParser) requirement() (api.LabelSelectorRequirement, error) {
	p.equality = false
	p.skipSpace()
	if p.take("!") {
		p.skipSpace()
		k := p.word()
		if k == "" {
			return api.LabelSelectorRequirement{}, fmt.Errorf("expected a label key after '!' at position %d", p.i)
		}
		return api.LabelSelectorRequirement{Key: k, Operator: api.SelectorOpDoesNotExist}, nil
	}
	k := p.word()
	if k == "" {
		return api.LabelSelectorRequirement{}, fmt.Errorf("expected a label key at position %d", p.i)
	}
	p.skipSpace()
	switch {
	case p.eof() || p.s[p.i] == ',':
		return api.LabelSelectorRequirement{Key: k, Operator: api.SelectorOpExists}, nil
	case p.take("!="):
		p.skipSpace()
		return api.LabelSelectorRequirement{Key: k, Operator: api.SelectorOpNotIn, Values: []string{p.word()}}, nil
	case p.take("=="), p.take("="):
		p.skipSpace()
		p.equality = true
		return api.LabelSelectorRequirement{Key: k, Operator: api.SelectorOpIn, Values: []string{p.word()}}, nil
	}
	op := p.word()
	var operator string
	switch op {
	case "in":
		operator = api.SelectorOpIn
	case "notin":
		operator = api.SelectorOpNotIn
	default:
		return api.LabelSelectorRequirement{}, fmt.Errorf("unknown operator %q after key %q (use =, ==, !=, in, notin)", op, k)
	}
	p.skipSpace()
	if !p.take("(") {
		return api.LabelSelectorRequirement{}, fmt.Errorf("expected '(' after %s at position %d", op, p.i)
	}
	var vals []string
	for {
		p.skipSpace()
		v := p.word()
		vals = append(vals, v)
		p.skipSpace()
		if p.take(")") {
			break
		}
		if !p.take(",") {
			return api.LabelSelectorRequirement{}, fmt.Errorf("expected ',' or ')' at position %d", p.i)
		}
	}
	if len(vals) == 1 && vals[0] == "" {
		vals = nil
	}
	return api.LabelSelectorRequirement{Key: k, Operator: operator, Values: vals}, nil
}
