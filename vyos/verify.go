package vyos

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Issue is one commit-time finding: an error that makes the commit fail,
// or a warning printed by a successful commit.
type Issue struct {
	// Path is the configuration subtree whose commit script reports it
	// ("protocols bgp", "protocols bgp 64512", "interfaces ethernet eth1");
	// VyOS prints it as "[[protocols bgp]] failed".
	Path string
	// Header is what VyOS prints in "[ ... ]" above the message; usually
	// Path, sometimes a deeper node (1.3's BGP checks).
	Header string
	// Message is VyOS's text, unwrapped.
	Message string
	// Indent prefixes every message line (1.3's BGP checks use two spaces).
	Indent string
	// Warning marks a warning: the commit goes on.
	Warning bool
}

// VerifyEnv tells Verify about the system the configuration is for.
type VerifyEnv struct {
	// InterfaceExists reports whether a network interface exists; nil
	// means every interface does.
	InterfaceExists func(name string) bool
	// IsLocalAddress reports whether an address is assigned to this
	// system; nil means none is.
	IsLocalAddress func(addr string) bool
}

// commitOrder is the order in which VyOS commits (and reports) subtrees.
var commitOrder = []string{"interfaces", "system", "policy", "protocols static", "protocols bfd", "protocols bgp", "service"}

func orderOf(path string) int {
	for i, p := range commitOrder {
		if strings.HasPrefix(path, p) {
			return i
		}
	}
	return len(commitOrder)
}

// Verify runs VyOS's commit-time checks on a configuration and returns the
// errors and warnings, in commit order. It is pure apart from env.
func Verify(c *Config, env VerifyEnv) []Issue {
	v := &verifier{c: c, env: env}
	v.interfaces()
	v.policy()
	v.bfd()
	if c.dialect == V14 {
		if bgp := c.root.get("protocols", "bgp"); bgp != nil {
			v.bgp14(bgp)
		}
	} else {
		for _, e := range c.root.entries("protocols", "bgp") {
			v.bgp13(e)
		}
	}
	sort.SliceStable(v.out, func(i, j int) bool { return orderOf(v.out[i].Path) < orderOf(v.out[j].Path) })
	return v.out
}

type verifier struct {
	c   *Config
	env VerifyEnv
	out []Issue
}

func (v *verifier) fail(path, msg string) {
	v.out = append(v.out, Issue{Path: path, Header: path, Message: msg})
}

func (v *verifier) warn(path, msg string) {
	v.out = append(v.out, Issue{Path: path, Header: path, Message: msg, Warning: true})
}

func (v *verifier) interfaces() {
	for _, e := range v.c.root.entries("interfaces", "ethernet") {
		if v.env.InterfaceExists != nil && !v.env.InterfaceExists(e.name) {
			v.fail("interfaces ethernet "+e.name, fmt.Sprintf("Interface %q does not exist!", e.name))
		}
	}
}

func (v *verifier) policy() {
	p := v.c.root.get("policy")
	if p == nil {
		return
	}
	for _, typ := range []string{"prefix-list", "prefix-list6", "route-map"} {
		for _, inst := range p.entries(typ) {
			for _, r := range inst.entries("rule") {
				mandatory := fmt.Sprintf("must be specified for \"%s %s rule %s\"!", typ, inst.name, r.name)
				if !r.has("action") {
					v.fail("policy", "Action "+mandatory)
					continue
				}
				if typ != "route-map" && !r.has("prefix") {
					v.fail("policy", "A prefix "+mandatory)
				}
				if typ == "route-map" {
					if r.value("action") == "deny" && r.has("continue") {
						v.fail("policy", fmt.Sprintf("rule %s \"continue\" or \"on-match\" cannot be used with action deny!", r.name))
					}
					if pl := r.value("match", "ip", "address", "prefix-list"); pl != "" && p.get("prefix-list", pl) == nil {
						v.fail("policy", fmt.Sprintf("prefix-list %s does not exist!", pl))
					}
					if pl := r.value("match", "ipv6", "address", "prefix-list"); pl != "" && p.get("prefix-list6", pl) == nil {
						v.fail("policy", fmt.Sprintf("prefix-list6 %s does not exist!", pl))
					}
				}
			}
		}
	}
}

func (v *verifier) bfd() {
	b := v.c.root.get("protocols", "bfd")
	if b == nil {
		return
	}
	const path = "protocols bfd"
	for _, p := range b.entries("peer") {
		addr, _ := netip.ParseAddr(p.name)
		if addr.Is6() && !p.has("source", "address") {
			v.fail(path, "BFD IPv6 peers require explicit local address setting")
			continue
		}
		if p.has("multihop") {
			if !p.has("source", "address") {
				v.fail(path, "BFD multihop require source address")
				continue
			}
			if p.has("echo-mode") {
				v.fail(path, "BFD multihop and echo-mode cannot be used together")
				continue
			}
			if p.has("source", "interface") {
				v.fail(path, "BFD multihop and source interface cannot be used together")
				continue
			}
		}
		if p.has("minimum-ttl") && !p.has("multihop") {
			v.fail(path, "Minimum TTL is only available for multihop BFD sessions!")
			continue
		}
		if prof := p.value("profile"); prof != "" && b.get("profile", prof) == nil {
			v.fail(path, fmt.Sprintf("BFD profile %q does not exist!", prof))
		}
	}
}

// peerRemoteAS reports whether a neighbor has a remote-as of its own or
// through its peer-group.
func peerRemoteAS(bgp, peer *Node) bool {
	if peer.has("remote-as") {
		return true
	}
	if pg := peer.value("peer-group"); pg != "" {
		return bgp.has("peer-group", pg, "remote-as")
	}
	return false
}

func (v *verifier) bgp14(bgp *Node) {
	const path = "protocols bgp"
	if !bgp.has("system-as") {
		v.fail(path, "BGP system-as number must be defined!")
		return
	}
	asn := bgp.value("system-as")
	v.bgpCommon(bgp, path, asn, false)
}

func (v *verifier) bgp13(bgp *Node) {
	path := "protocols bgp " + bgp.name
	v.bgpCommon(bgp, path, bgp.name, true)
}

// bgpCommon holds the checks both dialects make, with each dialect's text.
func (v *verifier) bgpCommon(bgp *Node, path, asn string, v13 bool) {
	fail13 := func(header, msg string) {
		v.out = append(v.out, Issue{Path: path, Header: header, Message: msg, Indent: "  "})
	}
	policy := v.c.root.get("policy")
	for _, kind := range []string{"neighbor", "peer-group"} {
		for _, peer := range bgp.entries(kind) {
			name := peer.name
			if pg := peer.value("peer-group"); pg != "" && bgp.get("peer-group", pg) == nil {
				if v13 {
					fail13(path+" "+kind+" "+name+" peer-group "+pg, fmt.Sprintf("protocols bgp %s peer-group %s doesn't exist", asn, pg))
				} else {
					// VyOS 1.4 names the node type here, not the peer.
					v.fail(path, fmt.Sprintf("Specified peer-group %q for neighbor %q does not exist!", pg, kind))
				}
				return
			}
			if peer.has("ebgp-multihop") && peer.has("ttl-security") {
				if v13 {
					fail13(path+" "+kind+" "+name+" ttl-security hops", "you can't set both ebgp-multihop and ttl-security hops")
				} else {
					v.fail(path, "You can not set both ebgp-multihop and ttl-security hops")
				}
				return
			}
			if peer.has("override-capability") && peer.has("strict-capability-match") {
				v.fail(path, fmt.Sprintf("Neighbor %q cannot have both override-capability and strict-capability-match configured at the same time!", name))
				return
			}
			if pw := peer.value("password"); strings.ContainsAny(pw, " \t") {
				v.fail(path, "Whitespace is not allowed in passwords!")
				return
			}
			if prof := peer.value("bfd", "profile"); prof != "" && v.c.root.get("protocols", "bfd", "profile", prof) == nil {
				v.fail(path, fmt.Sprintf("BFD profile %q does not exist!", prof))
				return
			}
			if kind == "neighbor" {
				if !peerRemoteAS(bgp, peer) {
					if v13 {
						if !bgp.has("parameters", "default", "no-ipv4-unicast") {
							fail13(path+" neighbor "+name, "must set remote-as or peer-group with remote-as defined")
							return
						}
					} else {
						v.fail(path, fmt.Sprintf("Neighbor %q remote-as must be set!", name))
						return
					}
				}
				if pg := peer.value("peer-group"); pg != "" && peer.has("remote-as") && bgp.has("peer-group", pg, "remote-as") {
					if v13 {
						fail13(path+" neighbor "+name, "remote-as should not be defined in both neighbor and peer-group")
					} else {
						v.fail(path, fmt.Sprintf("Peer-group member %q cannot override remote-as of peer-group %q!", name, pg))
					}
					return
				}
				if !v13 && !peer.has("address-family") {
					if pg := peer.value("peer-group"); pg == "" || !bgp.has("peer-group", pg, "address-family") {
						v.warn(path, fmt.Sprintf("BGP neighbor %q requires address-family!", name))
					}
				}
				if v.env.IsLocalAddress != nil && v.env.IsLocalAddress(name) {
					if v13 {
						fail13(path+" neighbor "+name, "Can't set neighbor address to local system IP.")
					} else {
						v.fail(path, fmt.Sprintf("Can not configure local address as neighbor %q", name))
					}
					return
				}
			}
			for _, afi := range []string{"ipv4-unicast", "ipv6-unicast"} {
				a := peer.get("address-family", afi)
				if a == nil {
					continue
				}
				family := ""
				if afi == "ipv6-unicast" {
					family = "6"
				}
				for _, dir := range []string{"import", "export"} {
					if pl := a.value("prefix-list", dir); pl != "" && policy.get("prefix-list"+family, pl) == nil {
						if v13 {
							fail13(path+" "+kind+" "+name+" address-family "+afi+" prefix-list "+dir, fmt.Sprintf("prefix-list%s %s doesn't exist", family, pl))
						} else {
							v.fail(path, fmt.Sprintf("Specified prefix-list%s %q does not exist!", family, pl))
						}
						return
					}
					if rm := a.value("route-map", dir); rm != "" && policy.get("route-map", rm) == nil {
						if v13 {
							fail13(path+" "+kind+" "+name+" address-family "+afi+" route-map "+dir, fmt.Sprintf("route-map %s doesn't exist", rm))
						} else {
							v.fail(path, fmt.Sprintf("Specified route-map %q does not exist!", rm))
						}
						return
					}
				}
				if a.has("route-reflector-client") {
					ras := peer.value("remote-as")
					if ras == "" {
						ras = bgp.value("peer-group", peer.value("peer-group"), "remote-as")
					}
					if ras != "internal" && ras != asn {
						v.fail(path, "route-reflector-client only supported for iBGP peers")
						return
					}
				}
			}
		}
	}
	for _, r := range bgp.entries("listen", "range") {
		pg := r.value("peer-group")
		switch {
		case pg == "":
			v.fail(path, fmt.Sprintf("Listen range for prefix %q has no peer group configured.", r.name))
		case bgp.get("peer-group", pg) == nil:
			v.fail(path, fmt.Sprintf("Peer-group %q for listen range %q does not exist!", pg, r.name))
		case !bgp.has("peer-group", pg, "remote-as"):
			v.fail(path, fmt.Sprintf("Peer-group %q requires remote-as to be set!", pg))
		default:
			continue
		}
		return
	}
	if tk := bgp.get("parameters", "tcp-keepalive"); tk != nil && (!tk.has("idle") || !tk.has("interval") || !tk.has("probes")) {
		v.fail(path, "TCP keepalive incomplete - idle, keepalive and probes must be set")
	}
}

// wrap fills text to width like Python's textwrap.fill (which VyOS uses
// for ConfigError): whitespace runs collapse, words are not broken.
func wrap(text string, width int) string {
	var lines []string
	var cur string
	for _, w := range strings.Fields(text) {
		switch {
		case cur == "":
			cur = w
		case len(cur)+1+len(w) <= width:
			cur += " " + w
		default:
			lines = append(lines, cur)
			cur = w
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return strings.Join(lines, "\n")
}
