package exercises

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every built-in exercise parses, has hints and a solution a student can
// carry out, and its commands render.
func TestCatalogue(t *testing.T) {
	infos := Builtins()
	if len(infos) < 20 {
		t.Fatalf("%d built-in exercises", len(infos))
	}
	for _, info := range infos {
		e, err := Builtin(info.Name)
		if err != nil {
			t.Errorf("%s: %v", info.Name, err)
			continue
		}
		if e.Name != info.Name {
			t.Errorf("%s: file says name %s", info.Name, e.Name)
		}
		if len(e.Hints) < 2 || len(e.Solution.Steps) == 0 || e.Cause == "" {
			t.Errorf("%s: %d hints, %d solution steps, cause %q", e.Name, len(e.Hints), len(e.Solution.Steps), e.Cause)
		}
		if len(e.GradingChecks()) == 0 {
			t.Errorf("%s: no grading checks", e.Name)
		}
		cmds := Commands("student07", e.Solution.Steps)
		if len(cmds) == 0 {
			t.Errorf("%s: no commands", e.Name)
		}
		for _, c := range cmds {
			if c.Wait == 0 && !strings.Contains(c.Line(), "--lab student07") {
				t.Errorf("%s: %q does not name the lab", e.Name, c.Line())
			}
		}
	}
}

func TestUnknownNamesListTheValidOnes(t *testing.T) {
	_, err := Resolve("asn-mismatc")
	if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), `"asn-mismatc" is not a built-in exercise (exercises: asn-mismatch, asn-mismatch-speaker, ebgp-multihop,`) {
		t.Errorf("%v", err)
	}
	_, err = Resolve("./nosuch.yaml")
	if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "exercise file ./nosuch.yaml does not exist") {
		t.Errorf("%v", err)
	}
}

// An exercise file: every problem at once, with positions.
func TestInvalidExerciseFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.yaml")
	os.WriteFile(file, []byte(`name: Bad
description: |
  two
  lines
lab: sno-bgp
break:
  - fault: {action: block, node: sno5, protocol: tcp, port: 179}
solution:
  steps:
    - fault: {action: unblock, node: sno4, protocol: tcp, port: 179}
hints: [""]
checks:
  - {type: bgp-sesion, node: vyos}
colour: red
`), 0o644)
	_, err := Load(file)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`bad.yaml:14:1: colour: unknown field "colour"`,
		`bad.yaml:1:7: name: exercise name "Bad" must be lower-case`,
		`bad.yaml:2:14: description: the description is one line`,
		`bad.yaml:7:34: break[0].fault.node: unknown node "sno5" (nodes: sno4, vyos, client)`,
		`bad.yaml:1:1: instructions: an exercise needs instructions`,
		`bad.yaml:11:9: hints[0]: a hint cannot be empty`,
		`solution.text: a solution needs text`,
		`bad.yaml:10:14: solution.steps[0].fault: a solution lists what a student does: router, apply, delete, exec, wait steps, not fault`,
		`bad.yaml:13:12: checks[0].type: unknown check type "bgp-sesion" (did you mean "bgp-session"?)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
