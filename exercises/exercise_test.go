package exercises

import (
	"errors"
	"fmt"
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
	if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), `"asn-mismatc" is not a built-in exercise (exercises: asn-mismatch, asn-mismatch-speaker, bfd-one-side, ebgp-multihop,`) {
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

func TestStudentLabs(t *testing.T) {
	for _, c := range []struct {
		ws   string
		n    int
		want string
		err  string
	}{
		{DefaultWorkshop, 3, "student01 student02 student03", ""},
		{"bgp101", 2, "bgp101-s01 bgp101-s02", ""},
		{DefaultWorkshop, 0, "", "a workshop has 1 to 200 students, not 0"},
		{"twenty-characters-xy", 120, "", `makes the lab name "twenty-characters-xy-s001"`},
	} {
		got, err := StudentLabs(c.ws, c.n)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %d: %v, want %s", c.ws, c.n, err, c.err)
			}
		case err != nil || strings.Join(got, " ") != c.want:
			t.Errorf("%s %d: %v %v", c.ws, c.n, got, err)
		}
	}
	got, _ := StudentLabs(DefaultWorkshop, 120)
	if got[0] != "student001" || got[119] != "student120" {
		t.Errorf("120 students: %s … %s", got[0], got[119])
	}
}

func TestSameShape(t *testing.T) {
	ref, _ := Builtin("asn-mismatch")
	v14, _ := Builtin("vyos14-no-ipv4-unicast")
	mh, _ := Builtin("ebgp-multihop")
	if err := SameShape(ref.Topology, ref.Topology); err != nil {
		t.Errorf("same: %v", err)
	}
	if err := SameShape(ref.Topology, v14.Topology); err == nil || err.Error() != "its router vyos speaks VyOS 1.3, not 1.4" {
		t.Errorf("1.3 vs 1.4: %v", err)
	}
	if err := SameShape(ref.Topology, mh.Topology); err == nil || err.Error() != "it has no network core" {
		t.Errorf("reference vs multihop: %v", err)
	}
}

// Solution steps become the commands a student types.
func TestCommands(t *testing.T) {
	src := `name: c
description: d
lab: sno-bgp
break: [{wait: 1s}]
instructions: i
solution:
  text: t
  steps:
    - router: {node: vyos, typed: true, commands: [set a b]}
    - router: {node: vyos, commands: [set c d]}
    - apply: {manifests: "kind: X\n"}
    - delete: {objects: [{kind: Service, namespace: ns, name: s}]}
    - exec: {node: sno4, command: [sh, -c, "echo 'hi there'"]}
    - wait: 2s
`
	e, err := Parse("c.yaml", []byte(src), nil, ".")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range Commands("s07", e.Solution.Steps) {
		lines = append(lines, fmt.Sprintf("%s|%q|%q|%s", c.Line(), c.Stdin, c.Typed, c.Wait))
	}
	want := []string{
		`onp ssh --lab s07 vyos|""|["configure" "set a b" "commit" "save" "exit" "exit"]|0s`,
		`onp vyos configure --lab s07 vyos -f -|"set c d\n"|[]|0s`,
		`onp apply --lab s07 -f -|"kind: X\n"|[]|0s`,
		`onp delete --lab s07 Service s -n ns|""|[]|0s`,
		`onp exec --lab s07 sno4 -- sh -c 'echo '\''hi there'\'''|""|[]|0s`,
		`|""|[]|2s`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if c := Commands(DefaultLab, e.Solution.Steps[:1]); c[0].Line() != "onp ssh vyos" {
		t.Errorf("default lab: %q", c[0].Line())
	}
}

// Parse never panics, and what it accepts has a lab and checks.
func FuzzParse(f *testing.F) {
	for _, name := range builtinNames() {
		b, _ := BuiltinSource(name)
		f.Add(b)
	}
	f.Add([]byte("name: x\nlab: {name: y}\nbreak: [{}]\nsolution: {steps: [{wait: 1s}]}\n"))
	fsys := catalogueFS()
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse("f.yaml", data, fsys, "builtin")
		if err == nil && (e.Topology == nil || len(e.GradingChecks()) == 0 || len(e.Break) == 0) {
			t.Fatalf("accepted without a lab, checks or break steps: %q", data)
		}
	})
}
