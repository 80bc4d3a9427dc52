package format

import (
	"io/fs"

	"go.yaml.in/yaml/v3"

	"github.com/onp-lab/onp/internal/yamlx"
	"github.com/onp-lab/onp/scenarios/spec"
	"github.com/onp-lab/onp/topology"
)

// Parts validates a document that holds scenario parts under keys of its
// own — a lab at the top-level key "lab", lists of steps, lists of checks —
// as an exercise file does. The rules are the scenario file's, and every
// problem comes back at once with the document's positions.
type Parts struct {
	v *scenarioValidator
}

// NewParts starts validating a document that yamlx.Decode decoded from
// data (doc holds its positions). fsys and dir locate the files the
// document refers to; builtin restricts them to fsys, as for a built-in
// scenario.
func NewParts(file string, data []byte, doc *yamlx.Doc, fsys fs.FS, dir string, builtin bool) *Parts {
	s := &Scenario{Source: file, fsys: fsys, dir: dir, builtin: builtin, doc: doc}
	return &Parts{v: &scenarioValidator{s: s, doc: doc, data: data}}
}

// Name checks a name with the rules of scenario names (it names labs);
// what says what is named ("exercise").
func (p *Parts) Name(path, what, name string) { p.v.name(path, what, name) }

// Lab resolves and validates the lab written at the document's top-level
// key "lab" (n is its decoded node): a built-in lab's name, a lab file or
// the lab inline. It returns nil when the lab is invalid. Call it before
// Steps and Checks, which check node references against the lab.
func (p *Parts) Lab(n yaml.Node) *topology.Topology {
	v := p.v
	v.s.Lab = n
	v.lab()
	if v.s.Topology != nil {
		v.top = v.s.Topology
	}
	if v.top != nil {
		v.ctx = topology.CheckContext(v.top)
	}
	return v.s.Topology
}

// Steps validates a list of steps at path. Steps read the files they name
// here (Step.Data).
func (p *Parts) Steps(path string, steps []Step) {
	for i := range steps {
		p.v.step(path+"["+itoa(i)+"]", &steps[i])
	}
}

// Checks validates a list of checks at path.
func (p *Parts) Checks(path string, checks []spec.Check) {
	p.v.errs = append(p.v.errs, spec.Validate(p.v.doc, path, checks, p.v.ctx)...)
}

// Errorf records a problem at path.
func (p *Parts) Errorf(path, format string, args ...any) { p.v.errorf(path, format, args...) }

// Written reports whether the document sets path.
func (p *Parts) Written(path string) bool { return p.v.written(path) }

// Err returns every problem found, or nil.
func (p *Parts) Err() error { return p.v.errs.Err() }

// Scenario returns a scenario of the document's lab and files, without
// steps or checks, for running the document's steps in a lab
// (scenarios.RunSteps).
func (p *Parts) Scenario(name, description string) *Scenario {
	s := *p.v.s
	s.Name, s.Description = name, description
	return &s
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
