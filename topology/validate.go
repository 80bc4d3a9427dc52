package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/onp-lab/onp/internal/yamlx"
	"github.com/onp-lab/onp/scenarios/spec"
)

// SetDefaults fills in everything a lab file may leave out. It is the only
// place defaults are applied, and it tolerates invalid input (validation
// reports that).
func SetDefaults(t *Topology) {
	if t.Defaults.VyOS.Version == "" {
		t.Defaults.VyOS.Version = "1.3"
	}
	if t.Defaults.VyOS.User == "" {
		t.Defaults.VyOS.User = "vyos"
	}
	if t.Defaults.VyOS.Password == "" {
		t.Defaults.VyOS.Password = "vyos"
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		for j := range n.Interfaces {
			n.Interfaces[j].Name = IfName(j)
		}
		if n.Forwarding == nil {
			f := RouterKinds[n.Kind]
			n.Forwarding = &f
		}
		if n.Kind == "vyos" {
			if n.VyOS == nil {
				n.VyOS = &VyOSSpec{}
			}
			d := t.Defaults.VyOS
			if n.VyOS.Version == "" {
				n.VyOS.Version = d.Version
			}
			if n.VyOS.User == "" {
				n.VyOS.User = d.User
			}
			if n.VyOS.Password == "" {
				n.VyOS.Password = d.Password
			}
			if len(n.VyOS.AuthorizedKeys) == 0 {
				n.VyOS.AuthorizedKeys = d.AuthorizedKeys
			}
		}
		if n.Kind == "sno" {
			if n.SNO == nil {
				n.SNO = &SNOSpec{}
			}
			if n.SNO.PodSubnet == "" {
				n.SNO.PodSubnet = "10.128.0.0/23"
			}
		}
	}
}

// InterfacePrefix returns the interface's address with its prefix length
// (taken from the network's subnet when the file gives only an address).
func (t *Topology) InterfacePrefix(i Interface) (netip.Prefix, error) {
	if strings.Contains(i.Address, "/") {
		return netip.ParsePrefix(i.Address)
	}
	a, err := netip.ParseAddr(i.Address)
	if err != nil {
		return netip.Prefix{}, err
	}
	nw := t.Network(i.Network)
	if nw == nil {
		return netip.Prefix{}, fmt.Errorf("unknown network %q", i.Network)
	}
	sub, err := netip.ParsePrefix(nw.Subnet)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, sub.Bits()), nil
}

// Validate checks the whole topology and returns every problem, each with
// its position in the file.
func Validate(t *Topology) error {
	v := &validator{t: t, doc: t.doc}
	if v.doc == nil {
		v.doc = &yamlx.Doc{File: t.Source}
	}
	v.run()
	return v.errs.Err()
}

type validator struct {
	t    *Topology
	doc  *yamlx.Doc
	errs yamlx.ErrorList
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, v.doc.Errorf(path, format, args...))
}

func (v *validator) run() {
	t := v.t
	if why := ValidLabName(t.Name); why != "" {
		v.errorf("name", "lab name %q %s", t.Name, why)
	}
	subnets := map[string]netip.Prefix{}
	netSeen := map[string]int{}
	for i, n := range t.Networks {
		p := fmt.Sprintf("networks[%d]", i)
		switch {
		case n.Name == "":
			v.errorf(p+".name", "a network needs a name")
		case len(n.Name) > MaxNetworkName:
			v.errorf(p+".name", "network name %q is longer than %d characters (it names a bridge and its ports)", n.Name, MaxNetworkName)
		case !netNameRE.MatchString(n.Name):
			v.errorf(p+".name", "network name %q must start with a lower-case letter and use only a-z, 0-9, '-' and '_'", n.Name)
		}
		if j, dup := netSeen[n.Name]; dup && n.Name != "" {
			v.errorf(p+".name", "duplicate network name %q (also networks[%d])", n.Name, j)
		} else {
			netSeen[n.Name] = i
		}
		sub, err := netip.ParsePrefix(n.Subnet)
		switch {
		case n.Subnet == "":
			v.errorf(p+".subnet", "a network needs a subnet, e.g. 192.168.126.0/24")
		case err != nil:
			v.errorf(p+".subnet", "invalid subnet %q: want a prefix such as 192.168.126.0/24", n.Subnet)
		case sub.Masked() != sub:
			v.errorf(p+".subnet", "subnet %q has host bits set; did you mean %s?", n.Subnet, sub.Masked())
		default:
			subnets[n.Name] = sub
			for other, op := range subnets {
				if other != n.Name && op.Overlaps(sub) {
					v.errorf(p+".subnet", "subnet %s overlaps network %q (%s)", sub, other, op)
				}
			}
		}
		if n.HostAccess != nil {
			v.address(p+".hostAccess.address", n.HostAccess.Address, sub, err == nil && n.Subnet != "")
		}
	}
	nodeSeen := map[string]int{}
	addrSeen := map[netip.Addr]string{}
	for i, n := range t.Networks {
		if n.HostAccess != nil {
			if a, err := netip.ParseAddr(n.HostAccess.Address); err == nil {
				addrSeen[a] = fmt.Sprintf("networks[%d].hostAccess.address", i)
			}
		}
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		p := fmt.Sprintf("nodes[%d]", i)
		switch {
		case n.Name == "":
			v.errorf(p+".name", "a node needs a name")
		case len(n.Name) > MaxNodeName:
			v.errorf(p+".name", "node name %q is longer than %d characters (it becomes part of interface names, which the kernel limits to 15)", n.Name, MaxNodeName)
		case !nodeNameRE.MatchString(n.Name):
			v.errorf(p+".name", "node name %q must start with a lower-case letter and use only a-z, 0-9 and '-'", n.Name)
		}
		if j, dup := nodeSeen[n.Name]; dup && n.Name != "" {
			v.errorf(p+".name", "duplicate node name %q (also nodes[%d])", n.Name, j)
		} else {
			nodeSeen[n.Name] = i
		}
		if !slices.Contains(Kinds, n.Kind) {
			if n.Kind == "" {
				v.errorf(p+".kind", "a node needs a kind (one of %s)", strings.Join(Kinds, ", "))
			} else {
				v.errorf(p+".kind", "unknown kind %q (known kinds: %s)", n.Kind, strings.Join(Kinds, ", "))
			}
		}
		v.kindSpec(p, n)
		connected := []netip.Prefix{}
		for j, ifc := range n.Interfaces {
			ip := fmt.Sprintf("%s.interfaces[%d]", p, j)
			sub, known := subnets[ifc.Network]
			if t.Network(ifc.Network) == nil {
				if ifc.Network == "" {
					v.errorf(ip+".network", "an interface needs a network")
				} else {
					v.errorf(ip+".network", "unknown network %q%s", ifc.Network, knownList(t))
				}
			}
			if port := PortName(n.Name, IfName(j)); len(port) > MaxIfName {
				v.errorf(ip, "interface %s of node %q gives the bridge port name %q, longer than 15 characters: use a shorter node name", IfName(j), n.Name, port)
			}
			if ifc.Address == "" {
				continue
			}
			pre, err := t.InterfacePrefix(ifc)
			if err != nil {
				v.errorf(ip+".address", "invalid address %q: want 192.168.126.2 or 192.168.126.2/24", ifc.Address)
				continue
			}
			if known {
				if pre.Bits() != sub.Bits() {
					v.errorf(ip+".address", "prefix length /%d differs from network %q (%s)", pre.Bits(), ifc.Network, sub)
				}
				v.address(ip+".address", pre.Addr().String(), sub, true)
			}
			connected = append(connected, pre.Masked())
			if prev, dup := addrSeen[pre.Addr()]; dup {
				v.errorf(ip+".address", "address %s is already used by %s", pre.Addr(), prev)
			} else {
				addrSeen[pre.Addr()] = ip + ".address"
			}
		}
		for j, r := range n.Routes {
			rp := fmt.Sprintf("%s.routes[%d]", p, j)
			if r.To != "default" {
				if pre, err := netip.ParsePrefix(r.To); err != nil {
					v.errorf(rp+".to", "invalid destination %q: want a prefix such as 10.0.0.0/24, or default", r.To)
				} else if pre.Masked() != pre {
					v.errorf(rp+".to", "destination %q has host bits set; did you mean %s?", r.To, pre.Masked())
				}
			}
			via, err := netip.ParseAddr(r.Via)
			if err != nil {
				v.errorf(rp+".via", "invalid next hop %q: want an address on one of the node's networks", r.Via)
				continue
			}
			onLink := false
			for _, c := range connected {
				onLink = onLink || c.Contains(via)
			}
			if !onLink {
				v.errorf(rp+".via", "next hop %s is not on any network of node %q", via, n.Name)
			}
		}
	}
	v.errs = append(v.errs, spec.Validate(v.doc, "checks", t.Checks, CheckContext(t))...)
}

// CheckContext describes the topology's nodes for validating and running
// checks: names, kinds, interface names and addresses.
func CheckContext(t *Topology) *spec.Context {
	ctx := &spec.Context{}
	for _, n := range t.Nodes {
		ni := spec.NodeInfo{Name: n.Name, Kind: n.Kind}
		for j, ifc := range n.Interfaces {
			ni.Interfaces = append(ni.Interfaces, IfName(j))
			if ifc.Address == "" {
				continue
			}
			if p, err := t.InterfacePrefix(ifc); err == nil {
				ni.Addrs = append(ni.Addrs, p.Addr())
			}
		}
		ctx.Nodes = append(ctx.Nodes, ni)
	}
	return ctx
}

func knownList(t *Topology) string {
	if len(t.Networks) == 0 {
		return " (the file defines no networks)"
	}
	names := make([]string, len(t.Networks))
	for i, n := range t.Networks {
		names[i] = n.Name
	}
	return " (networks: " + strings.Join(names, ", ") + ")"
}

// address checks that s is a host address inside sub.
func (v *validator) address(path, s string, sub netip.Prefix, subOK bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		v.errorf(path, "invalid address %q", s)
		return
	}
	if !subOK {
		return
	}
	if !sub.Contains(a) {
		v.errorf(path, "address %s is outside the network's subnet %s", a, sub)
		return
	}
	if a.Is4() && sub.Bits() <= 30 {
		if a == sub.Addr() {
			v.errorf(path, "address %s is the network address of %s", a, sub)
		} else if a == lastAddr(sub) {
			v.errorf(path, "address %s is the broadcast address of %s", a, sub)
		}
	}
	if a.Is6() && sub.Bits() < 127 && a == sub.Addr() {
		v.errorf(path, "address %s is the subnet-router anycast address of %s", a, sub)
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func (v *validator) kindSpec(p string, n *Node) {
	specs := []struct {
		kind, field string
		set         bool
	}{
		{"host", "host", n.Host != nil}, {"vyos", "vyos", n.VyOS != nil}, {"sno", "sno", n.SNO != nil}, {"frr", "frr", n.FRR != nil},
		{"bird", "bird", n.BIRD != nil}, {"gobgp", "gobgp", n.GoBGP != nil},
	}
	for _, s := range specs {
		if s.set && n.Kind != s.kind {
			v.errorf(p+"."+s.field, "settings %q are for kind %s, but the node's kind is %q", s.field, s.kind, n.Kind)
		}
	}
	if n.VyOS != nil && n.Kind == "vyos" {
		if n.VyOS.Version != "1.3" && n.VyOS.Version != "1.4" {
			v.errorf(p+".vyos.version", "unknown VyOS version %q: use \"1.3\" (AS as a tag) or \"1.4\" (system-as)", n.VyOS.Version)
		}
		for j, c := range n.VyOS.Config {
			w := strings.Fields(c)
			if len(w) == 0 || (w[0] != "set" && w[0] != "delete") {
				v.errorf(fmt.Sprintf("%s.vyos.config[%d]", p, j), "%q is not a configuration command: use set ... or delete ... (onp adds configure, commit and save)", c)
			}
		}
	}
	if n.Host != nil {
		seen := map[string]bool{}
		for j, sv := range n.Host.Services {
			sp := fmt.Sprintf("%s.host.services[%d]", p, j)
			if !nodeNameRE.MatchString(sv.Name) {
				v.errorf(sp+".name", "service name %q must start with a lower-case letter and use only a-z, 0-9 and '-'", sv.Name)
			} else if seen[sv.Name] {
				v.errorf(sp+".name", "duplicate service name %q", sv.Name)
			}
			seen[sv.Name] = true
			if len(sv.Command) == 0 {
				v.errorf(sp+".command", "a service needs a command, e.g. [python3, -m, http.server, \"8080\"]")
			}
			if sv.Restart != "" && sv.Restart != "always" && sv.Restart != "on-failure" && sv.Restart != "never" {
				v.errorf(sp+".restart", "unknown restart policy %q: use always, on-failure or never", sv.Restart)
			}
		}
	}
	if n.Kind == "vyos" && len(n.Routes) > 0 {
		v.errorf(p+".routes", "a vyos node takes its routes from its configuration: add set protocols static route ... to vyos.config")
	}
	for _, d := range []struct {
		field string
		spec  *DaemonSpec
	}{{"frr", n.FRR}, {"bird", n.BIRD}, {"gobgp", n.GoBGP}} {
		if d.spec != nil && d.spec.Config != "" && d.spec.ConfigFile != "" {
			v.errorf(p+"."+d.field, "give either config or configFile, not both")
		}
	}
	if (n.Kind == "bird" && (n.BIRD == nil || n.BIRD.Config == "" && n.BIRD.ConfigFile == "")) ||
		(n.Kind == "gobgp" && (n.GoBGP == nil || n.GoBGP.Config == "" && n.GoBGP.ConfigFile == "")) {
		v.errorf(p+"."+n.Kind, "a %s node needs its daemon configuration (%s.config or %s.configFile)", n.Kind, n.Kind, n.Kind)
	}
	if n.SNO != nil && n.SNO.PodSubnet != "" {
		if _, err := netip.ParsePrefix(n.SNO.PodSubnet); err != nil {
			v.errorf(p+".sno.podSubnet", "invalid pod subnet %q", n.SNO.PodSubnet)
		}
	}
}
