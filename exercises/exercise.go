// Package exercises holds break-fix exercises and workshops.
//
// An exercise is a lab (normally the reference lab), steps that break it
// once it is healthy, instructions a student reads, hints revealed one at a
// time, a solution (an explanation and the commands, as steps), and the
// checks that grade the fix. Its file reuses the scenario format
// (scenarios/format) for the lab, the steps and the checks, and the
// scenario runner for carrying out steps and running checks.
//
// Start builds the lab (or takes a running one of the same shape), makes
// sure its checks pass, breaks it, and confirms that a check now fails; the
// exercise's progress (which exercise, how many hints were shown) is kept
// in the lab's directory, so it goes away with the lab. A workshop is many
// labs with the same exercise and identical addressing, one per student,
// each in its own namespaces.
//
// The package never prints: it returns what happened and reports progress
// through a lab.Progress and a scenarios.Observer.
package exercises

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/onp-lab/onp/internal/yamlx"
	"github.com/onp-lab/onp/scenarios/format"
	"github.com/onp-lab/onp/scenarios/spec"
	"github.com/onp-lab/onp/topology"
)

// Exercise is an exercise file.
type Exercise struct {
	// Name names the exercise: lower-case letters, digits and '-'.
	Name string `yaml:"name"`
	// Description is one line a student reads in the list: the symptom,
	// not the cause.
	Description string `yaml:"description"`
	// Cause says what is broken, in a few words, for instructors (onp
	// exercise list --causes).
	Cause string `yaml:"cause,omitempty"`
	// Lab is a built-in lab's name, a lab file (relative to the exercise
	// file), or the lab inline.
	Lab yaml.Node `yaml:"lab"`
	// Setup are steps that make a freshly built lab healthy, when the lab
	// itself does not (manifests to apply, router commands to push). They
	// run before the lab is checked, also on a running lab.
	Setup []format.Step `yaml:"setup,omitempty"`
	// Break are the steps that break the healthy lab.
	Break []format.Step `yaml:"break"`
	// Instructions are what the student reads once the lab is broken: what
	// they see, what should work, which commands help.
	Instructions string `yaml:"instructions"`
	// Hints are revealed one at a time, in order.
	Hints []string `yaml:"hints,omitempty"`
	// Solution explains the fault and lists what fixes it.
	Solution Solution `yaml:"solution"`
	// Checks grade the fix; empty means the lab's own checks.
	Checks []spec.Check `yaml:"checks,omitempty"`

	// Topology is the resolved lab.
	Topology *topology.Topology `yaml:"-"`
	// Source names where the exercise came from: builtin:NAME or the
	// file's absolute path.
	Source string `yaml:"-"`

	scenario *format.Scenario
}

// Solution is what fixes an exercise.
type Solution struct {
	// Text explains the cause and the fix.
	Text string `yaml:"text"`
	// Steps are what a student does: router steps (typed into onp ssh, or
	// pushed), apply and delete steps (onp apply, onp delete), exec steps
	// (onp exec) and waits.
	Steps []format.Step `yaml:"steps,omitempty"`
}

// Builtin reports whether the exercise is embedded in the binary.
func (e *Exercise) Builtin() bool { return strings.HasPrefix(e.Source, "builtin:") }

// Scenario is the exercise's lab and files as a scenario without steps,
// for running the exercise's steps with scenarios.RunSteps.
func (e *Exercise) Scenario() *format.Scenario { return e.scenario }

// GradingChecks are the checks that grade the fix: the exercise's, or the
// lab's own when the exercise lists none.
func (e *Exercise) GradingChecks() []spec.Check {
	if len(e.Checks) > 0 {
		return e.Checks
	}
	return e.Topology.Checks
}

// solutionKinds are the steps a student can carry out.
var solutionKinds = []string{"router", "apply", "delete", "exec", "wait"}

// Parse decodes and validates an exercise; every problem comes back at
// once with file:line:col and the field path. fsys and dir locate the
// files it refers to.
func Parse(file string, data []byte, fsys fs.FS, dir string) (*Exercise, error) {
	return parse(file, data, fsys, dir, false)
}

func parse(file string, data []byte, fsys fs.FS, dir string, builtin bool) (*Exercise, error) {
	e := &Exercise{Source: file}
	doc, derr := yamlx.Decode(file, data, e)
	if derr != nil && len(doc.Pos) == 0 {
		return nil, derr
	}
	p := format.NewParts(file, data, doc, fsys, dir, builtin)
	p.Name("name", "exercise", e.Name)
	if strings.TrimSpace(e.Description) == "" {
		p.Errorf("description", "an exercise needs a description: one line saying what the student sees")
	} else if strings.Contains(strings.TrimSpace(e.Description), "\n") {
		p.Errorf("description", "the description is one line (the list shows it); put the rest in instructions")
	}
	e.Topology = p.Lab(e.Lab)
	p.Steps("setup", e.Setup)
	if len(e.Break) == 0 {
		p.Errorf("break", "an exercise needs break: the steps that break the healthy lab (router commands, manifests, faults)")
	}
	p.Steps("break", e.Break)
	if strings.TrimSpace(e.Instructions) == "" {
		p.Errorf("instructions", "an exercise needs instructions: what the student sees, what should work, which commands help")
	}
	for i, h := range e.Hints {
		if strings.TrimSpace(h) == "" {
			p.Errorf(fmt.Sprintf("hints[%d]", i), "a hint cannot be empty")
		}
	}
	if strings.TrimSpace(e.Solution.Text) == "" {
		p.Errorf("solution.text", "a solution needs text: the cause and the fix, in words")
	}
	for i, st := range e.Solution.Steps {
		if k := st.Kind(); k != "" && !contains(solutionKinds, k) {
			p.Errorf(fmt.Sprintf("solution.steps[%d].%s", i, k), "a solution lists what a student does: %s steps, not %s", strings.Join(solutionKinds, ", "), k)
		}
	}
	p.Steps("solution.steps", e.Solution.Steps)
	p.Checks("checks", e.Checks)
	if len(e.Checks) == 0 && e.Topology != nil && len(e.Topology.Checks) == 0 {
		p.Errorf("checks", "an exercise needs checks to grade the fix: list them here, or use a lab that has checks")
	}
	if err := yamlx.Merge(derr, p.Err()); err != nil {
		return nil, err
	}
	e.scenario = p.Scenario(e.Name, e.Description)
	return e, nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Load reads an exercise file; its Source is the file's absolute path.
func Load(file string) (*Exercise, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read exercise file: %w", err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	e, err := Parse(file, data, os.DirFS("/"), strings.TrimPrefix(filepath.Dir(abs), "/"))
	if err != nil {
		return nil, err
	}
	e.Source = abs
	return e, nil
}

//go:embed builtin
var builtinFS embed.FS

// layered reads a file from the first file system that has it: the
// catalogue, then the built-in labs' files (the seed manifests).
type layered []fs.FS

func (l layered) Open(name string) (fs.File, error) {
	for _, f := range l {
		if file, err := f.Open(name); err == nil {
			return file, nil
		}
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// catalogueFS holds the built-in exercises and the files they refer to.
func catalogueFS() fs.FS { return layered{builtinFS, topology.BuiltinFS()} }

// Info describes a built-in exercise.
type Info struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Cause       string `json:"cause,omitempty"`
	Lab         string `json:"lab"`
	Hints       int    `json:"hints"`
}

// Builtins lists the exercises embedded in the binary, by name.
func Builtins() []Info {
	var out []Info
	for _, name := range builtinNames() {
		info := Info{Name: name}
		if e, err := Builtin(name); err == nil {
			info.Description, info.Cause, info.Hints = strings.TrimSpace(e.Description), e.Cause, len(e.Hints)
			info.Lab = e.Topology.Name
			if n, ok := strings.CutPrefix(e.Topology.Source, "builtin:"); ok && e.Lab.Kind == yaml.ScalarNode {
				info.Lab = n
			}
		}
		out = append(out, info)
	}
	return out
}

func builtinNames() []string { return yamlx.Names(builtinFS, "builtin") }

// ErrUnknown is returned (wrapped) for a name that is neither a built-in
// exercise nor a file.
var ErrUnknown = errors.New("no such exercise")

// BuiltinSource returns the YAML text of a built-in exercise; an unknown
// name's error lists the valid ones.
func BuiltinSource(name string) ([]byte, error) {
	data, err := builtinFS.ReadFile(path.Join("builtin", name+".yaml"))
	if err != nil || name == "" || strings.ContainsAny(name, "/.") {
		return nil, fmt.Errorf("%w: %q is not a built-in exercise (exercises: %s; or give an exercise file: ./mine.yaml)", ErrUnknown, name, strings.Join(builtinNames(), ", "))
	}
	return data, nil
}

// Builtin loads a built-in exercise.
func Builtin(name string) (*Exercise, error) {
	data, err := BuiltinSource(name)
	if err != nil {
		return nil, err
	}
	e, err := parse("builtin:"+name, data, catalogueFS(), "builtin", true)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Resolve loads arg as an exercise file when it names an existing file
// (or looks like a path), and as a built-in exercise otherwise.
func Resolve(arg string) (*Exercise, error) {
	if _, err := os.Stat(arg); err == nil {
		return Load(arg)
	}
	if strings.ContainsAny(arg, "/") || strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
		return nil, fmt.Errorf("%w: exercise file %s does not exist", ErrUnknown, arg)
	}
	return Builtin(arg)
}

// FromSource loads an exercise from its Source (builtin:NAME or a path),
// as kept in a lab's state.
func FromSource(src string) (*Exercise, error) {
	if name, ok := strings.CutPrefix(src, "builtin:"); ok {
		return Builtin(name)
	}
	e, err := Load(src)
	if err != nil {
		return nil, fmt.Errorf("the exercise of this lab came from %s: %w", src, err)
	}
	return e, nil
}
