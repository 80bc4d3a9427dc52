package vyos

import (
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	cases := []struct {
		d     Dialect
		lines string
		want  string // "" = no error; otherwise the first error's message
		warn  string
	}{
		{V14, "set protocols bgp neighbor 192.0.2.1 remote-as 1", "BGP system-as number must be defined!", ""},
		{V14, "set protocols bgp system-as 1\nset protocols bgp neighbor 192.0.2.1 remote-as 2", "", `BGP neighbor "192.0.2.1" requires address-family!`},
		{V14, "set protocols bgp system-as 1\nset protocols bgp neighbor 192.0.2.1 password x", `Neighbor "192.0.2.1" remote-as must be set!`, ""},
		{V14, "set protocols bgp system-as 1\nset protocols bgp peer-group PG remote-as 2\nset protocols bgp neighbor 192.0.2.1 peer-group PG\nset protocols bgp neighbor 192.0.2.1 remote-as 3",
			`Peer-group member "192.0.2.1" cannot override remote-as of peer-group "PG"!`, ""},
		{V14, "set protocols bgp system-as 1\nset protocols bgp peer-group PG remote-as 2\nset protocols bgp peer-group PG address-family ipv4-unicast\nset protocols bgp neighbor 192.0.2.1 peer-group PG", "", ""},
		{V14, "set protocols bgp system-as 1\nset protocols bgp neighbor 192.0.2.1 remote-as 2\nset protocols bgp neighbor 192.0.2.1 address-family ipv4-unicast route-reflector-client", "route-reflector-client only supported for iBGP peers", ""},
		{V14, "set protocols bgp system-as 1\nset protocols bgp listen range 192.0.2.0/24 peer-group PG", `Peer-group "PG" for listen range "192.0.2.0/24" does not exist!`, ""},
		{V14, "set protocols bgp system-as 1\nset protocols bgp parameters tcp-keepalive idle 5", "TCP keepalive incomplete - idle, keepalive and probes must be set", ""},
		{V13, "set protocols bgp 1 neighbor 192.0.2.1 passive", "must set remote-as or peer-group with remote-as defined", ""},
		{V13, "set protocols bgp 1 parameters default no-ipv4-unicast\nset protocols bgp 1 neighbor 192.0.2.1 passive", "", ""},
		{V13, "set protocols bgp 1 neighbor 192.0.2.1 remote-as 2\nset protocols bgp 1 neighbor 192.0.2.1 peer-group X", "protocols bgp 1 peer-group X doesn't exist", ""},
		{V13, "set protocols bgp 1 neighbor 192.0.2.1 remote-as 2\nset protocols bgp 1 neighbor 192.0.2.1 address-family ipv4-unicast route-map import RM", "route-map RM doesn't exist", ""},
		{V13, "set protocols bgp 1 neighbor 192.0.2.1 remote-as 2\nset protocols bgp 1 neighbor 192.0.2.1 ebgp-multihop 2\nset protocols bgp 1 neighbor 192.0.2.1 ttl-security hops 2", "you can't set both ebgp-multihop and ttl-security hops", ""},
		{V14, "set protocols bfd peer 192.0.2.1 multihop", "BFD multihop require source address", ""},
		{V14, "set protocols bfd peer 2001:db8::1", "BFD IPv6 peers require explicit local address setting", ""},
		{V14, "set protocols bfd peer 192.0.2.1 profile P", `BFD profile "P" does not exist!`, ""},
		{V14, "set policy prefix-list PL rule 10 action permit", `A prefix must be specified for "prefix-list PL rule 10"!`, ""},
		{V14, "set policy route-map RM rule 10 set local-preference 5", `Action must be specified for "route-map RM rule 10"!`, ""},
		{V14, "set policy route-map RM rule 10 action permit\nset policy route-map RM rule 10 match ip address prefix-list NOPE", "prefix-list NOPE does not exist!", ""},
	}
	for _, c := range cases {
		cfg, err := ParseCommands(c.d, c.lines)
		if err != nil {
			t.Fatalf("%s: %v", c.lines, err)
		}
		var gotErr, gotWarn string
		for _, is := range Verify(cfg, VerifyEnv{}) {
			if is.Warning && gotWarn == "" {
				gotWarn = is.Message
			}
			if !is.Warning && gotErr == "" {
				gotErr = is.Message
			}
		}
		if gotErr != c.want || gotWarn != c.warn {
			t.Errorf("%s %q:\n got error %q warning %q\nwant error %q warning %q", c.d, c.lines, gotErr, gotWarn, c.want, c.warn)
		}
	}
}

func TestVerifyInterfaces(t *testing.T) {
	cfg, _ := ParseCommands(V14, "set interfaces ethernet eth0 address 192.0.2.1/24\nset interfaces ethernet eth3 address 192.0.2.9/24")
	issues := Verify(cfg, VerifyEnv{InterfaceExists: func(n string) bool { return n == "eth0" }})
	if len(issues) != 1 || issues[0].Path != "interfaces ethernet eth3" || issues[0].Message != `Interface "eth3" does not exist!` {
		t.Errorf("issues: %+v", issues)
	}
}

func TestFormatFailureWraps(t *testing.T) {
	long := `Peer-group member "2001:db8:1234:5678:90ab:cdef:1234:5678" cannot override remote-as of peer-group "UPSTREAM-TRANSIT"!`
	out := formatFailure([]Issue{{Path: "protocols bgp", Header: "protocols bgp", Message: long}})
	want := "[ protocols bgp ]\n" +
		"Peer-group member \"2001:db8:1234:5678:90ab:cdef:1234:5678\" cannot\n" +
		"override remote-as of peer-group \"UPSTREAM-TRANSIT\"!\n" +
		"\n[[protocols bgp]] failed\nCommit failed\n"
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 72 {
			t.Errorf("line longer than 72 columns: %q", l)
		}
	}
	w := formatIssues([]Issue{{Header: "protocols bgp", Message: `BGP neighbor "192.0.2.1" requires address-family!`, Warning: true}})
	if w != "[ protocols bgp ]\n\nWARNING: BGP neighbor \"192.0.2.1\" requires address-family!\n\n" {
		t.Errorf("warning: %q", w)
	}
}

func TestSetDeleteSemantics(t *testing.T) {
	c := NewConfig(V13)
	must := func(msg string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	must(c.Set("service", "ssh"))
	if c.Get("service", "ssh", "port").Values()[0] != "22" {
		t.Error("1.3 creates the default ssh port")
	}
	if strings.Contains(c.String(), "port") {
		t.Error("defaults are hidden in show")
	}
	if !strings.Contains(c.Boot(), "port 22") {
		t.Error("1.3 saves defaults")
	}
	must(c.Set("service", "ssh", "port", "2222"))
	must(c.Delete("service", "ssh", "port"))
	if v := c.Get("service", "ssh", "port").Values(); v[0] != "22" {
		t.Errorf("delete of a defaulted leaf resets it: %v", v)
	}
	must(c.Set("interfaces", "ethernet", "eth0", "address", "192.0.2.1/24"))
	must(c.Set("interfaces", "ethernet", "eth0", "address", "192.0.2.2/24"))
	must(c.Set("interfaces", "ethernet", "eth10", "address", "192.0.2.3/24"))
	must(c.Set("interfaces", "ethernet", "eth2", "address", "192.0.2.4/24"))
	var names []string
	for _, e := range c.Get("interfaces", "ethernet").Children() {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "eth0,eth2,eth10" {
		t.Errorf("VyOS order: %v", names)
	}
	if msg := must(c.Delete("interfaces", "ethernet", "eth0", "address", "192.0.2.9/24")); msg != "Nothing to delete (the specified value does not exist)" {
		t.Errorf("msg %q", msg)
	}
	must(c.Delete("interfaces", "ethernet", "eth0", "address", "192.0.2.1/24"))
	if v := c.Get("interfaces", "ethernet", "eth0", "address").Values(); len(v) != 1 || v[0] != "192.0.2.2/24" {
		t.Errorf("multi delete: %v", v)
	}
	must(c.Delete("interfaces", "ethernet", "eth0"))
	must(c.Delete("interfaces", "ethernet", "eth2"))
	must(c.Delete("interfaces", "ethernet", "eth10"))
	if c.Get("interfaces", "ethernet") != nil || c.Get("interfaces") == nil {
		t.Error("a tag node goes with its last entry; plain nodes stay")
	}
}

func TestParseBootVyOSFile(t *testing.T) {
	// The shape of a VyOS 1.3 config.boot: quoted values, comments, footer.
	boot := `interfaces {
    ethernet eth0 {
        address 192.0.2.100/25
        description "uplink: to core"
        hw-id 52:54:00:12:34:56
    }
    loopback lo {
    }
}
policy {
    prefix-list BGP-IN {
        description "Inbound routes"
        rule 10 {
            action deny
            prefix 0.0.0.0/0
        }
    }
}
protocols {
    bgp 65001 {
        neighbor 192.0.2.1 {
            remote-as 65000
        }
    }
}
/* a comment */
// Warning: Do not remove the following line.
// vyos-config-version: "bgp@1:interfaces@22"
// Release version: 1.3.8
`
	c, err := ParseBoot(V13, boot)
	if err != nil {
		t.Fatal(err)
	}
	if c.Get("interfaces", "ethernet", "eth0", "description").Values()[0] != "uplink: to core" {
		t.Error("quoted description")
	}
	if _, err := ParseBoot(V14, boot); err == nil || !strings.Contains(err.Error(), "line 20") {
		t.Errorf("1.4 must reject the 1.3 BGP syntax with a line number: %v", err)
	}
}
