package format

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// The invalid fixture lists its exact errors in "# want:" comments.
func TestInvalidScenarioAllErrorsAtOnce(t *testing.T) {
	data, err := os.ReadFile("testdata/invalid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(data), "\n") {
		if w, ok := strings.CutPrefix(l, "# want: "); ok {
			want = append(want, "testdata/invalid.yaml:"+w)
		}
	}
	_, err = Load("testdata/invalid.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	got := strings.Split(err.Error(), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLabReferences(t *testing.T) {
	fsys := fstest.MapFS{
		"d/lab.yaml":    {Data: []byte("name: x\nnetworks: [{name: n1, subnet: 10.1.0.0/24}]\nnodes: [{name: a, kind: host, interfaces: [{network: n1, address: 10.1.0.2}]}]\n")},
		"d/broken.yaml": {Data: []byte("name: x\nnodes: [{name: a, kind: blimp}]\n")},
		"d/cmds.txt":    {Data: []byte("configure\nset system host-name r\ncommit\n")},
	}
	for _, c := range []struct{ src, err string }{
		{"name: s\nlab: routed-hosts\nchecks: [{type: ping, node: h1, to: h2}]\n", ""},
		{"name: s\nlab: lab.yaml\nchecks: [{type: ping, node: a, to: 10.1.0.1}]\n", ""},
		{"name: s\nlab: lab.yaml\nchecks: [{type: ping, node: b, to: a}]\n", `s.yaml:3:29: checks[0].node: unknown node "b" (nodes: a)`},
		{"name: s\nlab: nosuch-lab\nchecks: [{type: ping, node: a, to: a}]\n", `s.yaml:2:6: lab: no built-in lab "nosuch-lab"`},
		{"name: s\nlab: broken.yaml\nchecks: [{type: ping, node: a, to: 10.1.0.1}]\n", `broken.yaml:2:25: nodes[0].kind: unknown kind "blimp"`},
		{"name: s\nlab: {name: x, nodes: [{name: a, kind: hots}]}\nsteps: [{wait: 1s}]\n", `s.yaml:2:40: lab.nodes[0].kind: unknown kind "hots"`},
		{"name: s\nlab: lab.yaml\nsteps: [{router: {node: a, file: cmds.txt}}]\n", `s.yaml:3:25: steps[0].router.node: node "a" is a host node; this step needs a vyos node`},
	} {
		_, err := Parse("s.yaml", []byte(c.src), fsys, "d")
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.src, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: got %v, want %s", c.src, err, c.err)
		}
	}
}

func TestConfigLines(t *testing.T) {
	got := ConfigLines(strings.Split("configure\n# a comment\nset a b\n\n  delete c  \ncommit\nsave\nexit", "\n"))
	if strings.Join(got, "|") != "set a b|delete c" {
		t.Errorf("%q", got)
	}
	w := WrapConfigure([]string{"set a b", ""})
	if strings.Join(w, "|") != "configure|set a b|commit|save|exit" {
		t.Errorf("%q", w)
	}
	if w := WrapConfigure([]string{"configure", "set a b", "commit"}); len(w) != 3 {
		t.Errorf("%q", w)
	}
}

func FuzzParse(f *testing.F) {
	// The built-in catalogue and its files, as a file system.
	fsys := fstest.MapFS{"d/lab.yaml": {Data: []byte("name: x\n")}}
	ents, _ := os.ReadDir("../builtin")
	for _, e := range ents {
		if b, err := os.ReadFile("../builtin/" + e.Name()); err == nil {
			f.Add(b)
		}
	}
	for _, sub := range []string{"labs", "seed"} {
		ents, _ := os.ReadDir("../builtin/" + sub)
		for _, e := range ents {
			b, _ := os.ReadFile("../builtin/" + sub + "/" + e.Name())
			fsys["d/"+sub+"/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	bad, _ := os.ReadFile("testdata/invalid.yaml")
	f.Add(bad)
	f.Add([]byte("name: s\nlab: {name: x}\nsteps: [{}, {wait: 1s, check: []}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse("f.yaml", data, fsys, "d")
		if err == nil && (sc.Topology == nil || sc.Name == "") {
			t.Fatalf("valid scenario without a lab or name: %q", data)
		}
	})
}
