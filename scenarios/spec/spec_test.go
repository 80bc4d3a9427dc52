package spec

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/yamlx"
)

var testLab = &Context{Nodes: []NodeInfo{
	{Name: "r1", Kind: "frr", Addrs: []netip.Addr{netip.MustParseAddr("10.20.0.1")}, Interfaces: []string{"eth0"}},
	{Name: "r2", Kind: "vyos", Addrs: []netip.Addr{netip.MustParseAddr("10.20.0.2")}, Interfaces: []string{"eth0"}},
	{Name: "h1", Kind: "host", Addrs: []netip.Addr{netip.MustParseAddr("10.99.1.10")}, Interfaces: []string{"eth0"}},
	{Name: "sno4", Kind: "sno", Addrs: []netip.Addr{netip.MustParseAddr("192.168.126.2")}, Interfaces: []string{"eth0"}},
}}

func TestInvalidChecksAllAtOnce(t *testing.T) {
	data, err := os.ReadFile("testdata/invalid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(data), "\n") {
		if w, ok := strings.CutPrefix(l, "# want: "); ok {
			want = append(want, "invalid.yaml:"+w)
		}
	}
	_, err = ParseFile("invalid.yaml", data, testLab)
	if err == nil {
		t.Fatal("no error")
	}
	got := strings.Split(err.Error(), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const valid = `
checks:
  - {type: bgp-session, node: r2, peer: r1}
  - {type: bgp-session, nodes: [r1, r2], peers: [r1, r2], state: established, wait: 1m}
  - {type: bgp-session, node: sno4, peer: 10.20.0.2}
  - type: bgp-route
    node: r2
    prefix: 10.0.0.10/32
    nexthops: [sno4]
    communities: ["65535:65282", no-export]
    largeCommunities: ["64512:1:100"]
    localPref: 100
    origin: IGP
    asPath: ""
    best: true
  - {type: bgp-route, node: r1, prefix: 2001:db8::/64, present: false}
  - {type: fib-route, node: h1, prefix: 0.0.0.0/0, nexthops: [10.99.1.1], interface: eth0}
  - {type: http, node: h1, url: "http://sno4:8080/", status: 200, bodyContains: hello, clientAddress: h1}
  - {type: tcp, node: h1, to: "r1:179", state: filtered}
  - {type: ping, nodes: [h1, r1], to: sno4, reachable: false, wait: 0s}
  - {type: service-ip, service: onp-metallb/echoserver, ip: 10.0.0.10}
  - {type: no-flap, node: r1, peer: r2, window: 5s}
  - {type: diagnosis, node: r2}
`

func TestValidChecks(t *testing.T) {
	cs, err := ParseFile("valid.yaml", []byte(valid), testLab)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 12 {
		t.Fatalf("got %d checks", len(cs))
	}
	if cs[0].Deadline() != 30*time.Second || cs[1].Deadline() != time.Minute || cs[8].Deadline() != 0 {
		t.Errorf("deadlines: %v %v %v", cs[0].Deadline(), cs[1].Deadline(), cs[8].Deadline())
	}
	if cs[1].ExpectedState() != "Established" || cs[7].ExpectedState() != "filtered" || cs[0].ExpectedState() != "Established" {
		t.Errorf("states: %q %q", cs[1].ExpectedState(), cs[7].ExpectedState())
	}
	if cs[10].WindowOrDefault() != 5*time.Second {
		t.Errorf("window %v", cs[10].WindowOrDefault())
	}
	if got := cs[3].Title(); got != "10.0.0.10/32 is in the BGP table of r2" {
		t.Errorf("title %q", got)
	}
	// Without a lab (no context), names are only checked for their form.
	if _, err := ParseFile("valid.yaml", []byte(valid), nil); err != nil {
		t.Errorf("without context: %v", err)
	}
}

func TestEveryTypeHasDefaultsAndFields(t *testing.T) {
	for _, typ := range Types {
		if _, ok := DefaultWait[typ]; !ok {
			t.Errorf("%s has no default wait", typ)
		}
		if len(Fields(typ)) < 3 {
			t.Errorf("%s has no fields", typ)
		}
		for _, f := range Fields(typ) {
			if _, ok := fieldIndex[f]; !ok {
				t.Errorf("%s lists field %q that Check does not have", typ, f)
			}
		}
	}
}

func TestCommunities(t *testing.T) {
	for s, want := range map[string]string{
		"65535:65282": "65535:65282", "no-advertise": "65535:65282", "noAdvertise": "65535:65282",
		"NO-EXPORT": "65535:65281", "local-AS": "65535:65283", "0:0": "0:0", "4294967295": "65535:65535",
		"blackhole": "65535:666", "graceful-shutdown": "65535:0",
	} {
		c, err := ParseCommunity(s)
		if err != nil || c.String() != want {
			t.Errorf("ParseCommunity(%q) = %v, %v; want %s", s, c, err, want)
		}
	}
	for _, s := range []string{"", "1:2:3", "65536:1", "a:b", "-1:0", "nope"} {
		if _, err := ParseCommunity(s); err == nil {
			t.Errorf("ParseCommunity(%q) accepted", s)
		}
	}
	if c, err := ParseLargeCommunity("4294967295:0:7"); err != nil || c.String() != "4294967295:0:7" {
		t.Errorf("large: %v %v", c, err)
	}
	for _, s := range []string{"1:2", "1:2:3:4", "4294967296:0:0", "a:b:c"} {
		if _, err := ParseLargeCommunity(s); err == nil {
			t.Errorf("ParseLargeCommunity(%q) accepted", s)
		}
	}
	if p, err := ParseASPath(" 65001  65002 "); err != nil || len(p) != 2 || p[1] != 65002 {
		t.Errorf("as path %v %v", p, err)
	}
	if p, err := ParseASPath(""); err != nil || len(p) != 0 {
		t.Errorf("empty as path %v %v", p, err)
	}
}

// A check survives a YAML round trip (the lab manager stores lab files
// with yaml.Marshal and reads them back strictly).
func TestRoundTrip(t *testing.T) {
	cs, err := ParseFile("valid.yaml", []byte(valid), testLab)
	if err != nil {
		t.Fatal(err)
	}
	out, err := yamlMarshal(File{Checks: cs})
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseFile("back.yaml", out, testLab)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(back) != len(cs) || back[1].Deadline() != time.Minute || *back[3].ASPath != "" || *back[3].LocalPref != 100 {
		t.Errorf("round trip changed the checks:\n%s", out)
	}
}

var _ = yamlx.Pos{}
