package kubeproxy

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/metallb/api"
)

// The ruleset follows kube-proxy's nftables mode, in one table:
//
//	map service-ips            ipv4_addr . inet_proto . inet_service : verdict   ClusterIPs, LB and external IPs
//	map service-nodeports      inet_proto . inet_service : verdict               node ports (on local addresses)
//	map no-endpoint-services   same key as service-ips: goto reject-chain
//	map no-endpoint-nodeports  same key as service-nodeports: goto reject-chain
//	chain nat-prerouting, nat-output    (dstnat)  jump services
//	chain nat-postrouting               (srcnat)  jump masquerading
//	chain filter-prerouting (dstnat - 10), filter-input, filter-forward, filter-output (filter - 10)
//	                                    ct state new: no-endpoint checks
//	chain service-<H>-<ns>/<svc>/<proto>/<port>     ClusterIP entry: masquerade off-cluster clients, pick an endpoint
//	chain external-<H>-<ns>/<svc>/<proto>/<port>    LB/node port entry: externalTrafficPolicy
//	chain endpoint-<H>-<ns>/<svc>/<proto>/<port>__<ip>/<port>   hairpin masquerade, DNAT
//
// Per-service chains are written only when their content changes, map
// elements added and removed one by one: an update is one netlink batch
// proportional to what changed.

const masqBit = 0x4000

// chainSpec is one regular chain and its rules.
type chainSpec struct {
	name  string
	rules []ruleSpec
}

// ruleSpec is a rule and its nft-like text (for hashing and debugging).
type ruleSpec struct {
	text  string
	exprs []expr.Any
}

// hash identifies a chain's content.
func (c chainSpec) hash() uint64 {
	h := fnv.New64a()
	for _, r := range c.rules {
		h.Write([]byte(r.text))
		h.Write([]byte{'\n'})
	}
	return h.Sum64()
}

// element is one map entry: key → goto chain.
type element struct {
	set   string
	key   []byte
	chain string
}

func (e element) id() string { return e.set + "|" + string(e.key) }

// desired is the ruleset for a set of services.
type desired struct {
	chains   map[string]chainSpec
	elements map[string]element
}

// Port is one service port as kube-proxy programs it.
type Port struct {
	ID        string // ns/name/proto/port-or-name
	Proto     string
	ClusterIP netip.Addr
	Port      uint16
	NodePort  uint16
	External  []netip.Addr // LB ingress and spec.externalIPs
	Local     bool         // externalTrafficPolicy: Local
	Endpoints []Endpoint
}

// Endpoint is one backend address of a port.
type Endpoint struct {
	IP    netip.Addr
	Port  uint16
	Local bool // on this node
}

func protoNum(p string) (byte, bool) {
	switch p {
	case api.ProtocolTCP, "":
		return unix.IPPROTO_TCP, true
	case api.ProtocolUDP:
		return unix.IPPROTO_UDP, true
	case api.ProtocolSCTP:
		return unix.IPPROTO_SCTP, true
	}
	return 0, false
}

// Ports turns services and their EndpointSlices into the ports to program
// on node (IPv4 only).
func Ports(svcs []*api.Service, slices []*api.EndpointSlice, node string) []Port {
	bySvc := map[string][]*api.EndpointSlice{}
	for _, s := range slices {
		if s.AddressType != api.EndpointSliceAddressTypeIPv4 {
			continue
		}
		n := s.Labels[api.LabelServiceName]
		bySvc[s.Namespace+"/"+n] = append(bySvc[s.Namespace+"/"+n], s)
	}
	var out []Port
	for _, svc := range svcs {
		sp := svc.Spec
		if sp.Type == api.ServiceTypeExternalName {
			continue
		}
		cip, _ := netip.ParseAddr(sp.ClusterIP)
		if cip.IsValid() && !cip.Is4() {
			cip = netip.Addr{}
		}
		var ext []netip.Addr
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil && a.Is4() {
				ext = append(ext, a)
			}
		}
		for _, e := range sp.ExternalIPs {
			if a, err := netip.ParseAddr(e); err == nil && a.Is4() {
				ext = append(ext, a)
			}
		}
		for _, p := range sp.Ports {
			if _, ok := protoNum(p.Protocol); !ok || p.Port <= 0 {
				continue
			}
			proto := p.Protocol
			if proto == "" {
				proto = api.ProtocolTCP
			}
			name := p.Name
			if name == "" {
				name = strconv.Itoa(int(p.Port))
			}
			port := Port{
				ID:    svc.Namespace + "/" + svc.Name + "/" + strings.ToLower(proto) + "/" + name,
				Proto: proto, ClusterIP: cip, Port: uint16(p.Port), NodePort: uint16(p.NodePort),
				External: ext, Local: sp.ExternalTrafficPolicy == api.ServiceExternalTrafficLocal,
			}
			if !cip.IsValid() && len(ext) == 0 && p.NodePort == 0 {
				continue
			}
			port.Endpoints = endpointsFor(bySvc[svc.Namespace+"/"+svc.Name], p.Name, proto, node)
			out = append(out, port)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// endpointsFor picks the ready endpoints of a service port; when none is
// ready, the serving ones (terminating endpoints still serving), as
// kube-proxy does.
func endpointsFor(slices []*api.EndpointSlice, portName, proto, node string) []Endpoint {
	var ready, serving []Endpoint
	seen := map[string]bool{}
	for _, s := range slices {
		var port uint16
		found := false
		for _, p := range s.Ports {
			pn, pp := "", api.ProtocolTCP
			if p.Name != nil {
				pn = *p.Name
			}
			if p.Protocol != nil {
				pp = *p.Protocol
			}
			if pn == portName && pp == proto && p.Port != nil {
				port, found = uint16(*p.Port), true
			}
		}
		if !found {
			continue
		}
		for _, ep := range s.Endpoints {
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || !ip.Is4() || seen[a] {
					continue
				}
				seen[a] = true
				e := Endpoint{IP: ip, Port: port, Local: ep.NodeName != nil && *ep.NodeName == node}
				c := ep.Conditions
				switch {
				case c.Ready == nil || *c.Ready:
					ready = append(ready, e)
				case c.Serving != nil && *c.Serving:
					serving = append(serving, e)
				}
			}
		}
	}
	out := ready
	if len(out) == 0 {
		out = serving
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out
}

func hashID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:8]
}

// chain names stay below the kernel's 256 bytes.
func chainName(prefix, id string) string {
	n := prefix + "-" + hashID(id) + "-" + id
	if len(n) > 200 {
		n = n[:200]
	}
	return n
}

// build computes the desired ruleset.
func build(ports []Port, podSubnet netip.Prefix) desired {
	d := desired{chains: map[string]chainSpec{}, elements: map[string]element{}}
	add := func(e element) { d.elements[e.id()] = e }
	for _, p := range ports {
		proto, _ := protoNum(p.Proto)
		svcChain := chainName("service", p.ID)
		extChain := chainName("external", p.ID)
		if len(p.Endpoints) == 0 {
			if p.ClusterIP.IsValid() {
				add(element{"no-endpoint-services", ipProtoPort(p.ClusterIP, proto, p.Port), "reject-chain"})
			}
			for _, ip := range p.External {
				add(element{"no-endpoint-services", ipProtoPort(ip, proto, p.Port), "reject-chain"})
			}
			if p.NodePort != 0 {
				add(element{"no-endpoint-nodeports", protoPort(proto, p.NodePort), "reject-chain"})
			}
			continue
		}
		var all, local []string
		for _, e := range p.Endpoints {
			id := fmt.Sprintf("%s__%s/%d", p.ID, e.IP, e.Port)
			name := chainName("endpoint", id)
			d.chains[name] = chainSpec{name: name, rules: []ruleSpec{
				{fmt.Sprintf("ip saddr %s jump mark-for-masquerade", e.IP), concat(matchAddr(12, e.IP), jump("mark-for-masquerade"))},
				{fmt.Sprintf("meta l4proto %d dnat to %s:%d", proto, e.IP, e.Port), concat(matchL4(proto), dnat(e.IP, e.Port))},
			}}
			all = append(all, name)
			if e.Local {
				local = append(local, name)
			}
		}
		svc := chainSpec{name: svcChain}
		if p.ClusterIP.IsValid() {
			svc.rules = append(svc.rules, ruleSpec{
				fmt.Sprintf("ip daddr %s ip saddr != %s jump mark-for-masquerade", p.ClusterIP, podSubnet),
				concat(matchAddr(16, p.ClusterIP), notInPrefix(12, podSubnet), jump("mark-for-masquerade")),
			})
		}
		svc.rules = append(svc.rules, dispatch(all)...)
		d.chains[svcChain] = svc
		if p.ClusterIP.IsValid() {
			add(element{"service-ips", ipProtoPort(p.ClusterIP, proto, p.Port), svcChain})
		}
		if len(p.External) == 0 && p.NodePort == 0 {
			continue
		}
		ext := chainSpec{name: extChain}
		if !p.Local {
			ext.rules = []ruleSpec{
				{"jump mark-for-masquerade", concat(jump("mark-for-masquerade"))},
				{"goto " + svcChain, concat(gotoChain(svcChain))},
			}
		} else {
			ext.rules = []ruleSpec{
				{"fib saddr type local jump mark-for-masquerade", concat(fibSaddrLocal(), jump("mark-for-masquerade"))},
				{"fib saddr type local goto " + svcChain, concat(fibSaddrLocal(), gotoChain(svcChain))},
				{fmt.Sprintf("ip saddr %s goto %s", podSubnet, svcChain), concat(inPrefix(12, podSubnet), gotoChain(svcChain))},
			}
			if len(local) == 0 {
				ext.rules = append(ext.rules, ruleSpec{"drop (no local endpoints)", concat(verdict(expr.VerdictDrop))})
			} else {
				ext.rules = append(ext.rules, dispatch(local)...)
			}
		}
		d.chains[extChain] = ext
		for _, ip := range p.External {
			add(element{"service-ips", ipProtoPort(ip, proto, p.Port), extChain})
		}
		if p.NodePort != 0 {
			add(element{"service-nodeports", protoPort(proto, p.NodePort), extChain})
		}
	}
	return d
}

// dispatch spreads new connections evenly over endpoint chains: rule i
// takes 1/(n-i) of what reaches it.
func dispatch(chains []string) []ruleSpec {
	var out []ruleSpec
	n := len(chains)
	for i, c := range chains {
		if i == n-1 {
			out = append(out, ruleSpec{"goto " + c, concat(gotoChain(c))})
			break
		}
		mod := uint32(n - i)
		out = append(out, ruleSpec{
			fmt.Sprintf("numgen random mod %d == 0 goto %s", mod, c),
			concat([]expr.Any{
				&expr.Numgen{Register: 1, Modulus: mod, Type: unix.NFT_NG_RANDOM},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
			}, gotoChain(c)),
		})
	}
	return out
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ipProtoPort(ip netip.Addr, proto byte, port uint16) []byte {
	b := make([]byte, 12)
	a := ip.As4()
	copy(b, a[:])
	b[4] = proto
	binary.BigEndian.PutUint16(b[8:], port)
	return b
}

func protoPort(proto byte, port uint16) []byte {
	b := make([]byte, 8)
	b[0] = proto
	binary.BigEndian.PutUint16(b[4:], port)
	return b
}

// matchAddr matches the IPv4 source (offset 12) or destination (16).
func matchAddr(offset uint32, ip netip.Addr) []expr.Any {
	a := ip.As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}

func prefixMatch(offset uint32, p netip.Prefix, op expr.CmpOp) []expr.Any {
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	if p.Bits() == 0 {
		mask = []byte{0, 0, 0, 0}
	}
	a := p.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: a[:]},
	}
}

func inPrefix(offset uint32, p netip.Prefix) []expr.Any { return prefixMatch(offset, p, expr.CmpOpEq) }
func notInPrefix(offset uint32, p netip.Prefix) []expr.Any {
	return prefixMatch(offset, p, expr.CmpOpNeq)
}

func matchL4(proto byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
}

func dnat(ip netip.Addr, port uint16) []expr.Any {
	a := ip.As4()
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: a[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2},
	}
}

func fibSaddrLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func fibDaddrLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func jump(c string) []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: c}} }
func gotoChain(c string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: c}}
}
func verdict(k expr.VerdictKind) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: k}}
}

// lookupIPProtoPort is "ip daddr . meta l4proto . th dport vmap @set".
func lookupIPProtoPort(set *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID, IsDestRegSet: true, DestRegister: 0},
	}
}

// lookupProtoPort is "meta l4proto . th dport vmap @set".
func lookupProtoPort(set *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID, IsDestRegSet: true, DestRegister: 0},
	}
}

func ctStateNew() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// setMark ORs bits into the packet mark.
func setMarkBits(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(^bits), Xor: binaryutil.NativeEndian.PutUint32(bits)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}
