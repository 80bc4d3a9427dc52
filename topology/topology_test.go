package topology

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Fatalf("unexpected error:\n%v", err)
			}
		})
	}
}

// Each invalid fixture lists the exact errors it must produce in
// "# want: LINE:COL: PATH: MESSAGE" comments, in order.
func TestInvalidFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					want = append(want, f+":"+w)
				}
			}
			if len(want) == 0 {
				t.Fatal("fixture has no '# want:' lines")
			}
			_, err = Load(f)
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	top, err := Load("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sno := top.Node("sno4")
	if sno.Interfaces[1].Name != "eth1" || *sno.Forwarding {
		t.Errorf("sno4 defaults: %+v", sno)
	}
	v := top.Node("vyos")
	if v.VyOS.Version != "1.4" || v.VyOS.User != "admin" || v.VyOS.Password != "secret" || !*v.Forwarding {
		t.Errorf("vyos defaults from the defaults section: %+v", v.VyOS)
	}
	if *top.Node("frr1").Forwarding {
		t.Error("explicit forwarding: false was overridden")
	}
	p, err := top.InterfacePrefix(sno.Interfaces[0])
	if err != nil || p.String() != "192.168.126.2/24" {
		t.Errorf("prefix from subnet: %v %v", p, err)
	}
}

func TestBuiltins(t *testing.T) {
	bs := Builtins()
	if len(bs) < 2 {
		t.Fatalf("builtins: %v", bs)
	}
	for _, b := range bs {
		top, err := Builtin(b.Name)
		if err != nil {
			t.Fatalf("%s: %v", b.Name, err)
		}
		if b.Description == "" {
			t.Errorf("%s has no description", b.Name)
		}
		for _, n := range top.Nodes {
			if n.SNO != nil {
				for _, m := range n.SNO.Manifests {
					if _, err := top.ReadFile(m); err != nil {
						t.Errorf("%s: manifest %s: %v", b.Name, m, err)
					}
				}
			}
		}
	}
	ref, _ := Builtin("sno-bgp")
	if ref.Name != "onp" || ref.Node("sno4") == nil || ref.Node("vyos") == nil || ref.Node("client") == nil {
		t.Fatalf("sno-bgp is not the reference lab: %+v", ref)
	}
	p, _ := ref.InterfacePrefix(ref.Node("sno4").Interfaces[0])
	if p.String() != "192.168.126.2/24" || ref.Node("sno4").Interfaces[0].Network != "sno0" {
		t.Errorf("sno4 is not at 192.168.126.2 on sno0: %v", p)
	}
	if _, err := Builtin("nope"); err == nil || !strings.Contains(err.Error(), "built-ins: routed-hosts, sno-bgp") {
		t.Errorf("unknown builtin error: %v", err)
	}
}

func TestNames(t *testing.T) {
	if got := HostLinkName("onp", "sno0"); len(got) != 11 || !strings.HasPrefix(got, "onp") {
		t.Errorf("host link name %q", got)
	}
	if HostLinkName("a", "b") == HostLinkName("a", "c") {
		t.Error("host link names collide")
	}
	if NodeNamespace("onp", "sno4") != "onp-onp.sno4" || FabricNamespace("onp") != "onp-onp" {
		t.Error("namespace names changed")
	}
	for _, ok := range []string{"onp", "student07", "a", "a-b"} {
		if why := ValidLabName(ok); why != "" {
			t.Errorf("%q: %s", ok, why)
		}
	}
	for _, bad := range []string{"", "-a", "a.b", "A", "a_b", strings.Repeat("x", 25)} {
		if ValidLabName(bad) == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, pat := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml", "builtin/*.yaml"} {
		files, _ := filepath.Glob(pat)
		for _, file := range files {
			data, _ := os.ReadFile(file)
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		top, err := Parse("fuzz.yaml", data)
		if err == nil && top == nil {
			t.Fatal("nil topology without error")
		}
	})
}
