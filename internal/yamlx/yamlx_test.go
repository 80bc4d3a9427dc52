package yamlx

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

type meta struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

type inner struct {
	Network string `yaml:"network"`
	Address string `yaml:"address"`
}

type sample struct {
	meta    `json:",inline"`
	Count   int            `yaml:"count"`
	Port    uint16         `yaml:"port"`
	On      bool           `yaml:"on"`
	Wait    time.Duration  `yaml:"wait"`
	Addr    netip.Addr     `yaml:"addr"`
	Items   []inner        `yaml:"items"`
	Opt     *inner         `yaml:"opt"`
	Extra   map[string]any `yaml:"extra"`
	Skip    string         `yaml:"-"`
	Unnamed string
}

func TestDecodeValid(t *testing.T) {
	src := `
name: a
labels: {app: echo, "a.b/c": x}
count: 0x10
port: 179
on: true
wait: 1m30s
addr: 192.168.126.2
items:
  - network: sno0
    address: 192.168.126.2/24
opt: null
extra: {k: [1, 2]}
unnamed: u
`
	var s sample
	doc, err := Decode("f.yaml", []byte(src), &s)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "a" || s.Labels["a.b/c"] != "x" || s.Count != 16 || s.Port != 179 || !s.On || s.Wait != 90*time.Second ||
		s.Addr != netip.MustParseAddr("192.168.126.2") || len(s.Items) != 1 || s.Items[0].Network != "sno0" || s.Opt != nil || s.Unnamed != "u" {
		t.Fatalf("decoded wrong: %+v", s)
	}
	if p := doc.Pos["items[0].network"]; p != (Pos{10, 14}) {
		t.Errorf("items[0].network at %v, want 10:14", p)
	}
	if p := doc.Lookup("items[0].missing"); p != (Pos{10, 5}) {
		t.Errorf("lookup of a missing field = %v, want the item's position 10:5", p)
	}
	if p := doc.Pos[`labels["a.b/c"]`]; p.Line != 3 {
		t.Errorf("quoted label path position = %v", p)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"unknown field with suggestion", "nmae: a\n", []string{`f.yaml:1:1: nmae: unknown field "nmae" (did you mean "name"?)`}},
		{"unknown nested", "items:\n  - network: a\n    adress: b\n", []string{`f.yaml:3:5: items[0].adress: unknown field "adress" (did you mean "address"?)`}},
		{"type errors all at once", "count: x\nport: -1\non: maybe\nwait: 5\n", []string{
			`f.yaml:1:8: count: expected an integer, got "x"`,
			`f.yaml:2:7: port: expected a non-negative integer, got "-1"`,
			`f.yaml:3:5: on: expected true or false, got "maybe"`,
			`f.yaml:4:7: wait: invalid duration "5" (use a number with a unit: 500ms, 30s, 2m)`,
		}},
		{"out of range", "port: 70000\n", []string{`f.yaml:1:7: port: 70000 is out of range (at most 65535)`}},
		{"duplicate key", "name: a\nname: b\n", []string{`f.yaml:2:1: name: duplicate key "name"`}},
		{"list expected", "items: {a: 1}\n", []string{`f.yaml:1:8: items: expected a list, got a mapping`}},
		{"text unmarshaler", "addr: 999.1.1.1\n", []string{`f.yaml:1:7: addr: ParseAddr("999.1.1.1"): IPv4 field has value >255`}},
		{"syntax", "name: [a\n", []string{`f.yaml:1:1: invalid YAML: did not find expected ',' or ']'`}},
		{"empty", "", []string{`f.yaml:1:1: the file is empty`}},
		{"scalar document", "hello\n", []string{`f.yaml:1:1: expected a mapping, got "hello"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s sample
			_, err := Decode("f.yaml", []byte(c.src), &s)
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestMergeKeysAndAnchors(t *testing.T) {
	src := "base: &b {network: n1, address: a1}\nitems:\n  - <<: *b\n    address: a2\n"
	type withBase struct {
		Base  inner   `yaml:"base"`
		Items []inner `yaml:"items"`
	}
	var s withBase
	if _, err := Decode("f.yaml", []byte(src), &s); err != nil {
		t.Fatal(err)
	}
	if s.Items[0] != (inner{"n1", "a2"}) {
		t.Fatalf("merge: %+v", s.Items[0])
	}
}

func TestDocuments(t *testing.T) {
	docs, err := Documents("m.yaml", []byte("---\na: 1\n---\n# only a comment\n---\nb: 2\n"))
	if err != nil || len(docs) != 2 {
		t.Fatalf("docs=%d err=%v", len(docs), err)
	}
	if docs[1].Content[0].Line != 6 {
		t.Fatalf("second document at line %d", docs[1].Content[0].Line)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("name: a\nitems:\n - network: x\n")
	f.Add("a: &x [*x]\n")
	f.Add("<<: {name: b}\ncount: 1e3\n")
	f.Fuzz(func(t *testing.T, src string) {
		var s sample
		Decode("f.yaml", []byte(src), &s)
	})
}
