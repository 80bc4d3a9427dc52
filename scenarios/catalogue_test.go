package scenarios

import (
	"strings"
	"testing"
)

func TestBuiltinsAreValid(t *testing.T) {
	bs := Builtins()
	if len(bs) < 2 {
		t.Fatalf("builtins: %+v", bs)
	}
	for _, b := range bs {
		sc, err := Builtin(b.Name)
		if err != nil {
			t.Errorf("%s: %v", b.Name, err)
			continue
		}
		if b.Description == "" || sc.Name != b.Name || sc.Topology == nil || len(sc.Steps)+len(sc.Checks) == 0 {
			t.Errorf("%s: %+v", b.Name, b)
		}
	}
	if _, err := Resolve("nosuch"); err == nil || !strings.Contains(err.Error(), `no built-in scenario "nosuch" (built-ins: ebgp, etp-local, frr-ebgp,`) {
		t.Errorf("unknown built-in: %v", err)
	}
	if _, err := Resolve("./nosuch.yaml"); err == nil || !strings.Contains(err.Error(), "scenario file ./nosuch.yaml: no such file") {
		t.Errorf("missing file: %v", err)
	}
}
