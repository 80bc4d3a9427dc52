package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/onp-lab/onp/internal/testutil"
)

func onpIn(t *testing.T, home, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"--home", home}, args...), strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// The reference lab built by hand, as the README's ONP-style steps do it:
// onp sno4, the seed manifests piped to onp apply, onp vyos, the seed
// commands typed into onp ssh vyos, then the reference checks.
func TestReferenceLabByHand(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	home := shortHome(t)
	name := testutil.RandName("m", 6)
	if r := onp(t, home, "sno4", "LAB="+name); r.code != 0 {
		t.Fatalf("sno4: %+v", r)
	}
	defer onp(t, home, "down", name)
	var seed strings.Builder
	for _, f := range []string{"01-metallb-operator.yaml", "02-metallb-bgp.yaml", "03-echoserver.yaml"} {
		b, err := os.ReadFile("../../topology/builtin/seed/" + f)
		if err != nil {
			t.Fatal(err)
		}
		seed.Write(b) // concatenated exactly as cat does it (no --- between files)
	}
	r := onpIn(t, home, seed.String(), "apply", "--lab", name, "-f", "-")
	if r.code != 0 || !strings.Contains(r.stdout, "service/echoserver created") || !strings.Contains(r.stdout, "bgppeer.metallb.io/onp-bgp-peer created") {
		t.Fatalf("apply: %+v", r)
	}
	if r := onp(t, home, "vyos", "NETWORK=sno0", "LAB="+name); r.code != 0 {
		t.Fatalf("vyos: %+v", r)
	}
	typed, err := os.ReadFile("../../topology/builtin/seed/04-vyos-commands.txt")
	if err != nil {
		t.Fatal(err)
	}
	r = onpIn(t, home, string(typed)+"exit\n", "ssh", "--lab", name, "vyos")
	for _, want := range []string{"vyos@vyos:~$ configure", "[edit]", "vyos@vyos# commit", "Saving configuration to '/config/config.boot'..."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("typed session lacks %q:\n%s", want, r.stdout)
		}
	}
	r = onp(t, home, "check", "--lab", name, "-f", "../../examples/reference-checks.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "[SUCCESS] 6 checks passed") {
		t.Fatalf("checks: %+v", r)
	}
	r = onp(t, home, "get", "--lab", name, "svc", "-n", "onp-metallb")
	if !strings.Contains(r.stdout, "10.0.0.10") || !strings.Contains(r.stdout, "EXTERNAL-IP") {
		t.Errorf("get svc: %+v", r)
	}
}
