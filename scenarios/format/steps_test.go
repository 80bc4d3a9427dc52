package format

import (
	"strings"
	"testing"
	"testing/fstest"

	"go.yaml.in/yaml/v3"

	"github.com/onp-lab/onp/internal/yamlx"
)

// exec steps, reject and route faults: valid forms and every error.
func TestExecRejectRouteSteps(t *testing.T) {
	fsys := fstest.MapFS{}
	head := "name: s\nlab: routed-hosts\nsteps:\n"
	for _, c := range []struct{ steps, err string }{
		{"  - exec: {node: h1, command: [nft, list, ruleset]}\n", ""},
		{"  - exec: {node: h1, command: [sh], stdin: \"echo hi\\n\"}\n", ""},
		{"  - fault: {action: reject, node: r1, protocol: tcp, port: 179}\n", ""},
		{"  - fault: {action: route-delete, node: h1, to: default}\n", ""},
		{"  - fault: {action: route-delete, node: h1, to: 10.1.2.0/24, via: 10.1.1.1}\n", ""},
		{"  - fault: {action: route-add, node: h1, to: 10.1.2.0/24, via: 10.1.1.1}\n", ""},
		{"  - exec: {node: h9, command: [true]}\n", `s.yaml:4:18: steps[0].exec.node: unknown node "h9"`},
		{"  - exec: {node: h1}\n", `s.yaml:4:11: steps[0].exec.command: give the command as a list`},
		{"  - exec: {node: h1, command: [x], shell: true}\n", `steps[0].exec.shell: unknown field "shell"`},
		{"  - fault: {action: reject, node: r1, protocol: icmp, port: 1}\n", `steps[0].fault.protocol: protocol must be tcp or udp`},
		{"  - fault: {action: route-add, node: h1, to: 10.1.2.0/24}\n", `steps[0].fault: give via: the next hop of the route to add`},
		{"  - fault: {action: route-delete, node: h1, to: 10.1.2.1/24}\n", `steps[0].fault.to: to 10.1.2.1/24 has host bits set: did you mean 10.1.2.0/24?`},
		{"  - fault: {action: route-delete, node: h1}\n", `steps[0].fault.to: give to: the route's destination`},
		{"  - fault: {action: route-delete, node: h1, to: 10.1.2.0/24, via: r1}\n", `steps[0].fault.via: via must be an address`},
		{"  - fault: {action: block, node: h1, protocol: tcp, port: 1, to: default}\n", `steps[0].fault.to: field "to" does not apply to fault block`},
		{"  - {exec: {node: h1, command: [x]}, wait: 1s}\n", `a step does one thing, this one has wait and exec`},
	} {
		_, err := Parse("s.yaml", []byte(head+c.steps), fsys, "d")
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.steps, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: got %v, want %s", c.steps, err, c.err)
		}
	}
}

// Parts validates scenario parts under other keys, with the document's
// positions.
func TestParts(t *testing.T) {
	src := "name: Bad_Name\nlab: routed-hosts\nbreak:\n  - fault: {action: stop, node: h9, service: x}\n  - apply: {file: m.yaml}\n"
	var d struct {
		Name  string    `yaml:"name"`
		Lab   yaml.Node `yaml:"lab"`
		Break []Step    `yaml:"break"`
	}
	pd, err := yamlx.Decode("e.yaml", []byte(src), &d)
	if err != nil {
		t.Fatal(err)
	}
	p := NewParts("e.yaml", []byte(src), pd, fstest.MapFS{"d/m.yaml": {Data: []byte("kind: x\n")}}, "d", true)
	p.Name("name", "exercise", d.Name)
	if top := p.Lab(d.Lab); top == nil || top.Name != "routed" {
		t.Fatalf("lab: %+v", top)
	}
	p.Steps("break", d.Break)
	got := p.Err().Error()
	for _, want := range []string{
		`e.yaml:1:7: name: exercise name "Bad_Name" must be lower-case`,
		`e.yaml:4:33: break[0].fault.node: unknown node "h9"`,
		`e.yaml:5:12: break[1].apply: the lab has no cluster node`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if string(d.Break[1].Data()) != "kind: x\n" {
		t.Errorf("apply file not read: %q", d.Break[1].Data())
	}
	if sc := p.Scenario("n", "d"); sc.Topology == nil || sc.Source != "e.yaml" {
		t.Errorf("scenario: %+v", sc)
	}
}
