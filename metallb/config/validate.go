package config

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onp-lab/onp/metallb/api"
)

// For validates resources with MetalLB's rules and returns the parsed
// configuration. It is MetalLB's config.For in its FRR-mode flavour. Every
// problem is collected; one bad object rejects the whole set, and err is
// then an Errors. Errors name the object and the field and use MetalLB's
// wording.
func For(res ClusterResources) (*Config, error) {
	ns := res.Namespace
	if ns == "" {
		ns = api.DefaultMetalLBNamespace
	}
	v := &validator{
		res: res,
		ns:  ns,
		c:   collector{sources: res.Sources},
		cfg: &Config{
			Namespace:   ns,
			BFDProfiles: map[string]*BFDProfile{},
			Communities: map[string]Community{},
		},
	}
	v.run()
	if len(v.c.errs) > 0 {
		return nil, v.c.errs
	}
	return v.cfg, nil
}

type validator struct {
	res ClusterResources
	ns  string
	c   collector
	cfg *Config
}

func ref(kind string, m *api.ObjectMeta) string {
	name := m.Name
	if name == "" {
		name = "(no name)"
	}
	if m.Namespace == "" {
		return kind + " " + name
	}
	return kind + " " + m.Namespace + "/" + name
}

// accepted sorts objects of one kind by name and drops, with an error,
// those outside MetalLB's namespace, those without a name and second
// definitions of a name.
func accepted[T any](v *validator, kind string, items []T, meta func(*T) *api.ObjectMeta, missing, dup string, same func(a, b *T) bool) []*T {
	ptrs := make([]*T, len(items))
	for i := range items {
		ptrs[i] = &items[i]
	}
	sort.SliceStable(ptrs, func(i, j int) bool { return meta(ptrs[i]).Name < meta(ptrs[j]).Name })
	var out []*T
	for i, p := range ptrs {
		m := meta(p)
		r := ref(kind, m)
		switch {
		case m.Namespace != v.ns:
			v.c.errorf(r, "metadata.namespace", "resource must be created in %s namespace", v.ns)
			continue
		case m.Name == "":
			v.c.errorf(r, "metadata.name", "%s", missing)
			continue
		case i > 0 && meta(ptrs[i-1]).Name == m.Name && meta(ptrs[i-1]).Namespace == m.Namespace:
			if same != nil && same(ptrs[i-1], p) {
				v.c.errorf(r, "", "duplicate definition of %s: two identical objects named %q", strings.ToLower(kind)+"s", m.Name)
			} else {
				v.c.errorf(r, "", dup, m.Name)
			}
			continue
		}
		out = append(out, p)
	}
	return out
}

func (v *validator) run() {
	poolMeta := func(p *api.IPAddressPool) *api.ObjectMeta { return &p.ObjectMeta }
	peerMeta := func(p *api.BGPPeer) *api.ObjectMeta { return &p.ObjectMeta }
	bfdMeta := func(p *api.BFDProfile) *api.ObjectMeta { return &p.ObjectMeta }
	advMeta := func(p *api.BGPAdvertisement) *api.ObjectMeta { return &p.ObjectMeta }
	l2Meta := func(p *api.L2Advertisement) *api.ObjectMeta { return &p.ObjectMeta }
	comMeta := func(p *api.Community) *api.ObjectMeta { return &p.ObjectMeta }

	bfds := accepted(v, "BFDProfile", v.res.BFDProfiles, bfdMeta, "missing bfd profile name", "found duplicate bfd profile name %s", nil)
	for _, b := range bfds {
		v.bfdProfile(b)
	}
	for _, c := range accepted(v, "Community", v.res.Communities, comMeta, "missing community name", "duplicate definition of Community %q", nil) {
		v.communityAliases(c)
	}
	peers := accepted(v, "BGPPeer", v.res.Peers, peerMeta, "missing peer name", "duplicate definition of BGPPeer %q", nil)
	for _, p := range peers {
		v.peer(p)
	}
	v.frrPeersCompatible(peers)
	pools := accepted(v, "IPAddressPool", v.res.Pools, poolMeta, "missing pool name", "duplicate definition of pool %q", nil)
	v.pools(pools)
	advs := accepted(v, "BGPAdvertisement", v.res.BGPAdvertisements, advMeta, "missing advertisement name", "duplicate definition of BGPAdvertisement %q",
		func(a, b *api.BGPAdvertisement) bool {
			return reflect.DeepEqual(a.Spec, b.Spec) && reflect.DeepEqual(a.Labels, b.Labels)
		})
	for _, a := range advs {
		v.bgpAdvertisement(a, pools)
	}
	for _, l := range accepted(v, "L2Advertisement", v.res.L2Advertisements, l2Meta, "missing advertisement name", "duplicate definition of L2Advertisement %q", nil) {
		v.l2Advertisement(l, pools)
	}
	v.bfdEchoOnIPv6()
}

// ---- BFD profiles ----

func (v *validator) bfdProfile(b *api.BFDProfile) {
	r := ref("BFDProfile", &b.ObjectMeta)
	out := &BFDProfile{
		Name:             b.Name,
		ReceiveInterval:  DefaultBFDReceiveInterval,
		TransmitInterval: DefaultBFDTransmitInterval,
		DetectMultiplier: DefaultBFDDetectMultiplier,
		EchoInterval:     DefaultBFDEchoInterval,
		MinimumTTL:       DefaultBFDMinimumTTL,
	}
	ok := true
	check := func(field, what string, val *uint32, lo, hi uint32, dst *uint32) {
		if val == nil {
			return
		}
		if *val < lo || *val > hi {
			v.c.errorf(r, field, "invalid %s value: invalid value %d, must be in %d-%d range", what, *val, lo, hi)
			ok = false
			return
		}
		*dst = *val
	}
	s := b.Spec
	check("spec.detectMultiplier", "detect multiplier", s.DetectMultiplier, 2, 255, &out.DetectMultiplier)
	check("spec.receiveInterval", "receive interval", s.ReceiveInterval, 10, 60000, &out.ReceiveInterval)
	check("spec.transmitInterval", "transmit interval", s.TransmitInterval, 10, 60000, &out.TransmitInterval)
	check("spec.minimumTtl", "minimum ttl", s.MinimumTTL, 1, 254, &out.MinimumTTL)
	check("spec.echoInterval", "echo interval", s.EchoInterval, 10, 60000, &out.EchoInterval)
	if s.EchoMode != nil {
		out.EchoMode = *s.EchoMode
	}
	if s.PassiveMode != nil {
		out.PassiveMode = *s.PassiveMode
	}
	if ok {
		v.cfg.BFDProfiles[b.Name] = out
	}
}

// ---- Community aliases ----

func (v *validator) communityAliases(c *api.Community) {
	r := ref("Community", &c.ObjectMeta)
	for i, a := range c.Spec.Communities {
		field := fmt.Sprintf("spec.communities[%d]", i)
		val, err := ParseCommunity(a.Value)
		if err != nil {
			v.c.errorf(r, field+".value", "parsing community %q: %v", a.Name, err)
			continue
		}
		if _, dup := v.cfg.Communities[a.Name]; dup {
			v.c.errorf(r, field+".name", "duplicate definition of community %q", a.Name)
			continue
		}
		v.cfg.Communities[a.Name] = val
	}
}

// ---- Peers ----

func (v *validator) peer(p *api.BGPPeer) {
	r := ref("BGPPeer", &p.ObjectMeta)
	s := p.Spec
	n := len(v.c.errs)
	out := &Peer{
		Name: p.Name, MyASN: s.MyASN, ASN: s.ASN, DynamicASN: s.DynamicASN, LocalASN: s.LocalASN,
		Iface: s.Interface, Port: 179, BFDProfile: s.BFDProfile,
		EnableGracefulRestart: s.EnableGracefulRestart, EBGPMultiHop: s.EBGPMultiHop, VRF: s.VRFName,
		DisableMP: s.DisableMP, DualStackAddressFamily: s.DualStackAddressFamily,
	}
	if s.MyASN == 0 {
		v.c.errorf(r, "spec.myASN", "missing local ASN")
	}
	switch {
	case s.ASN == 0 && s.DynamicASN == "":
		v.c.errorf(r, "spec.peerASN", "missing peer ASN and dynamicASN")
	case s.ASN != 0 && s.DynamicASN != "":
		v.c.errorf(r, "spec.dynamicASN", "both peer ASN and dynamicASN specified")
	case s.DynamicASN != "" && s.DynamicASN != api.DynamicASNInternal && s.DynamicASN != api.DynamicASNExternal:
		v.c.errorf(r, "spec.dynamicASN", "invalid dynamicASN %s (use %q or %q)", s.DynamicASN, api.DynamicASNInternal, api.DynamicASNExternal)
	}
	if s.ASN == s.MyASN && s.EBGPMultiHop {
		v.c.errorf(r, "spec.ebgpMultiHop", "invalid ebgp-multihop parameter set for an ibgp peer")
	}
	switch {
	case s.Address == "" && s.Interface == "":
		v.c.errorf(r, "spec.peerAddress", "peer has no Address or Interface specified")
	case s.Address != "" && s.Interface != "":
		v.c.errorf(r, "spec.interface", "peer has both Address and Interface specified")
	case strings.ContainsAny(s.Interface, "\n\r"):
		v.c.errorf(r, "spec.interface", "interface for peer %q/%q contains invalid characters", p.Namespace, p.Name)
	case s.Address != "":
		a, err := netip.ParseAddr(s.Address)
		if err != nil || a.Zone() != "" {
			v.c.errorf(r, "spec.peerAddress", "invalid BGPPeer address %q", s.Address)
		} else {
			out.Addr = a.Unmap()
		}
	}
	if s.Port != nil {
		switch {
		case *s.Port < 1:
			v.c.errorf(r, "spec.peerPort", "Invalid value: %d: spec.peerPort in body should be greater than or equal to 1", *s.Port)
		case *s.Port > 16384:
			v.c.errorf(r, "spec.peerPort", "Invalid value: %d: spec.peerPort in body should be less than or equal to 16384", *s.Port)
		default:
			out.Port = uint16(*s.Port)
		}
	}
	if field, err := parseTimers(s.HoldTime, s.KeepaliveTime, out); err != nil {
		v.c.errorf(r, field, "invalid BGPPeer timers: %v", err)
	}
	if s.ConnectTime != nil {
		d := s.ConnectTime.Duration
		switch {
		case d < time.Second || d >= 65536*time.Second:
			v.c.errorf(r, "spec.connectTime", "connect time should be between 1 seconds to 65535 (got %s)", d)
		case d%time.Second != 0:
			v.c.errorf(r, "spec.connectTime", "connect time should contain a whole number of seconds (got %s)", d)
		default:
			out.ConnectTime = &d
		}
	}
	if s.RouterID != "" {
		a, err := netip.ParseAddr(s.RouterID)
		switch {
		case err != nil || a.Zone() != "":
			v.c.errorf(r, "spec.routerID", "invalid router ID %q", s.RouterID)
		case !a.Unmap().Is4():
			v.c.errorf(r, "spec.routerID", "invalid router ID %q: a BGP router ID is a 32-bit value written as an IPv4 address", s.RouterID)
		default:
			out.RouterID = a.Unmap()
		}
	}
	if s.SrcAddress != "" {
		a, err := netip.ParseAddr(s.SrcAddress)
		if err != nil || a.Zone() != "" {
			v.c.errorf(r, "spec.sourceAddress", "invalid source IP %q", s.SrcAddress)
		} else {
			out.SrcAddr = a.Unmap()
		}
	}
	if v.selectors(r, "spec.nodeSelectors", "nodeSelectors", s.NodeSelectors) {
		out.NodeSelectors = s.NodeSelectors
	}
	switch {
	case s.Password != "" && s.PasswordSecret.Name != "":
		v.c.errorf(r, "spec.passwordSecret", "can not have both password and secret ref set in peer config %q/%q", p.Namespace, p.Name)
	case s.PasswordSecret.Name != "":
		out.PasswordSecret = s.PasswordSecret.Name
		out.Password = v.secretPassword(r, p)
	default:
		out.Password = s.Password
	}
	if s.BFDProfile != "" {
		if _, ok := v.cfg.BFDProfiles[s.BFDProfile]; !ok && !v.bfdProfileDefined(s.BFDProfile) {
			v.c.transientf(r, "spec.bfdProfile", "peer %s referencing non existing bfd profile %s", p.Name, s.BFDProfile)
		}
	}
	if s.DisableMP {
		v.cfg.Warnings = append(v.cfg.Warnings, r+": spec.disableMP: disable mp is deprecated and has no effect since it's the default behavior now")
	}
	if len(v.c.errs) == n {
		v.cfg.Peers = append(v.cfg.Peers, out)
	}
}

// bfdProfileDefined reports whether a profile of that name exists, valid or
// not (an invalid one is reported by itself, not again by its users).
func (v *validator) bfdProfileDefined(name string) bool {
	for _, b := range v.res.BFDProfiles {
		if b.Name == name && b.Namespace == v.ns {
			return true
		}
	}
	return false
}

// parseTimers applies MetalLB's hold/keepalive rules and sets the peer's
// timers. It returns the field at fault with an error.
func parseTimers(ht, ka *api.Duration, out *Peer) (string, error) {
	if ht == nil && ka == nil {
		return "", nil
	}
	var hold, keep time.Duration
	switch {
	case ht != nil && ka != nil:
		hold, keep = ht.Duration, ka.Duration
	case ht != nil:
		hold, keep = ht.Duration, ht.Duration/3
	default:
		hold, keep = 3*ka.Duration, ka.Duration
	}
	rounded := hold.Truncate(time.Second)
	if rounded != 0 && rounded < 3*time.Second {
		field := "spec.holdTime"
		if ht == nil {
			field = "spec.keepaliveTime"
			return field, fmt.Errorf("invalid hold time %q (three times keepaliveTime %q): must be 0 or >=3s", hold.String(), keep.String())
		}
		return field, fmt.Errorf("invalid hold time %q: must be 0 or >=3s", hold.String())
	}
	if keep > hold {
		return "spec.keepaliveTime", fmt.Errorf("invalid keepaliveTime %q, must be lower than holdTime %q", keep.String(), hold.String())
	}
	if hold < 0 || keep < 0 {
		return "spec.holdTime", fmt.Errorf("invalid hold time %q: must not be negative", hold.String())
	}
	out.HoldTime, out.KeepaliveTime = &hold, &keep
	return "", nil
}

// secretPassword reads a peer's password from its Secret, which must be in
// MetalLB's namespace, of type kubernetes.io/basic-auth, with a "password" key.
func (v *validator) secretPassword(r string, p *api.BGPPeer) string {
	ref := p.Spec.PasswordSecret
	if ref.Namespace != "" && ref.Namespace != v.ns {
		v.c.errorf(r, "spec.passwordSecret.namespace", "the password secret must be in the %s namespace, not %q", v.ns, ref.Namespace)
		return ""
	}
	for i := range v.res.Secrets {
		s := &v.res.Secrets[i]
		if s.Name != ref.Name || s.Namespace != v.ns {
			continue
		}
		if s.Type != api.SecretTypeBasicAuth {
			v.c.errorf(r, "spec.passwordSecret", "failed to parse peer %s password secret: secret type mismatch on %q/%q, type %q is expected", p.Name, s.Namespace, s.Name, api.SecretTypeBasicAuth)
			return ""
		}
		pw, ok := s.Value("password")
		if !ok {
			v.c.errorf(r, "spec.passwordSecret", "failed to parse peer %s password secret: password not specified in the secret %q/%q", p.Name, s.Namespace, s.Name)
			return ""
		}
		return string(pw)
	}
	v.c.transientf(r, "spec.passwordSecret", "failed to parse peer %s password secret: secret ref not found for peer config %q/%q (create Secret %s/%s)", p.Name, p.Namespace, p.Name, v.ns, ref.Name)
	return ""
}

// frrPeersCompatible applies MetalLB's FRR-mode rules to peers that run on
// a common node: one routerID, no two sessions to one address in one VRF,
// one myASN per VRF.
func (v *validator) frrPeersCompatible(peers []*api.BGPPeer) {
	for i, p := range peers {
		for _, q := range peers[:i] {
			if !v.peersShareNode(p, q) {
				continue
			}
			r := ref("BGPPeer", &p.ObjectMeta)
			switch {
			case p.Spec.RouterID != q.Spec.RouterID:
				v.c.errorf(r, "spec.routerID", "peer %s has RouterID %q different from %q of peer %s, in FRR mode peers selecting the same node must all have the same RouterID", p.Name, p.Spec.RouterID, q.Spec.RouterID, q.Name)
			case peerIdentifier(p.Spec) == peerIdentifier(q.Spec):
				v.c.errorf(r, "spec.peerAddress", "peer %s already exists, FRR mode doesn't support duplicate BGPPeers selecting the same node (BGPPeer %s has the same address)", peerIdentifier(p.Spec), q.Name)
			case p.Spec.MyASN != q.Spec.MyASN && p.Spec.VRFName == q.Spec.VRFName:
				v.c.errorf(r, "spec.myASN", "peer %s has myAsn different from %s, in FRR mode peers selecting the same node must have the same myAsn within the same VRF", peerIdentifier(p.Spec), peerIdentifier(q.Spec))
			}
		}
	}
}

func peerIdentifier(s api.BGPPeerSpec) string {
	id := s.Address
	if id == "" {
		id = s.Interface
	}
	if s.VRFName == "" {
		return id
	}
	return id + "-" + s.VRFName
}

// peersShareNode reports whether some known node matches both peers'
// selectors; with no known nodes it conservatively says yes.
func (v *validator) peersShareNode(p, q *api.BGPPeer) bool {
	if len(v.res.Nodes) == 0 {
		return true
	}
	for _, n := range v.res.Nodes {
		if matchAny(p.Spec.NodeSelectors, n.Labels) && matchAny(q.Spec.NodeSelectors, n.Labels) {
			return true
		}
	}
	return false
}

// ---- Label selectors and lists ----

// selectors validates a list of label selectors: each valid, no duplicate
// values in a requirement, no duplicate requirement in a selector, no
// duplicate selector. name is how MetalLB calls the list in its messages.
func (v *validator) selectors(r, field, name string, sels []api.LabelSelector) bool {
	ok := true
	seen := map[string]bool{}
	for i, s := range sels {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := s.Validate(); err != nil {
			v.c.errorf(r, f, "invalid label selector: %v", err)
			ok = false
			continue
		}
		exprs := map[string]bool{}
		for j, e := range s.MatchExpressions {
			ef := fmt.Sprintf("%s.matchExpressions[%d]", f, j)
			if d, dup := firstDuplicate(e.Values); dup {
				v.c.errorf(r, ef+".values", "duplicate definition of match expression value in label selector %q", d)
				ok = false
			}
			if exprs[e.String()] {
				v.c.errorf(r, ef, "duplicate definition of match expressions %q", e.String())
				ok = false
			}
			exprs[e.String()] = true
		}
		if seen[s.String()] {
			v.c.errorf(r, f, "duplicate definition of %s %q", name, s.String())
			ok = false
		}
		seen[s.String()] = true
	}
	return ok
}

func firstDuplicate(list []string) (string, bool) {
	seen := map[string]bool{}
	for _, s := range list {
		if seen[s] {
			return s, true
		}
		seen[s] = true
	}
	return "", false
}

// list reports duplicates in a list of names.
func (v *validator) list(r, field, name string, list []string) bool {
	seen := map[string]bool{}
	ok := true
	for i, s := range list {
		if seen[s] {
			v.c.errorf(r, fmt.Sprintf("%s[%d]", field, i), "duplicate definition of %s %q", name, s)
			ok = false
		}
		seen[s] = true
	}
	return ok
}

// ---- Pools ----

type definedCIDR struct {
	prefix netip.Prefix
	pool   string
}

func (v *validator) pools(pools []*api.IPAddressPool) {
	var all []definedCIDR
	for _, p := range pools {
		r := ref("IPAddressPool", &p.ObjectMeta)
		n := len(v.c.errs)
		out := &Pool{Name: p.Name, Labels: p.Labels, AutoAssign: true, AvoidBuggyIPs: p.Spec.AvoidBuggyIPs}
		if p.Spec.AutoAssign != nil {
			out.AutoAssign = *p.Spec.AutoAssign
		}
		if len(p.Spec.Addresses) == 0 {
			v.c.errorf(r, "spec.addresses", "pool has no prefixes defined")
		}
		for i, text := range p.Spec.Addresses {
			field := fmt.Sprintf("spec.addresses[%d]", i)
			prefixes, err := ParseAddresses(text)
			if err != nil {
				v.c.errorf(r, field, "invalid CIDR %q in pool %q: %v", text, p.Name, err)
				continue
			}
			reported := false
			for _, c := range prefixes {
				for _, d := range all {
					if !reported && c.Overlaps(d.prefix) {
						v.c.errorf(r, field, "CIDR %q in pool %q overlaps with already defined CIDR %q in pool %q", c.String(), p.Name, d.prefix.String(), d.pool)
						reported = true
					}
				}
			}
			for _, c := range prefixes {
				all = append(all, definedCIDR{c, p.Name})
			}
			out.CIDRs = append(out.CIDRs, prefixes...)
			out.Addresses = append(out.Addresses, AddressBlock{Text: text, Prefixes: prefixes})
		}
		out.ServiceAllocation = v.serviceAllocation(r, p)
		if len(v.c.errs) == n {
			v.cfg.Pools = append(v.cfg.Pools, out)
		}
	}
}

func (v *validator) serviceAllocation(r string, p *api.IPAddressPool) *ServiceAllocation {
	a := p.Spec.AllocateTo
	if a == nil {
		return nil
	}
	out := &ServiceAllocation{Priority: a.Priority, Namespaces: map[string]bool{}}
	for i, ns := range a.Namespaces {
		if out.Namespaces[ns] {
			v.c.errorf(r, fmt.Sprintf("spec.serviceAllocation.namespaces[%d]", i), "duplicate definition in namespaces field (%q)", ns)
		}
		out.Namespaces[ns] = true
	}
	if len(a.Namespaces) == 0 && len(a.NamespaceSelectors) == 0 && len(a.ServiceSelectors) == 0 {
		out.ServiceSelectors = []api.LabelSelector{{}}
		return out
	}
	if v.selectors(r, "spec.serviceAllocation.namespaceSelectors", "namespaceSelectors", a.NamespaceSelectors) {
		out.NamespaceSelectors = a.NamespaceSelectors
		for _, ns := range v.res.Namespaces {
			if matchSome(a.NamespaceSelectors, ns.Labels) {
				out.Namespaces[ns.Name] = true
			}
		}
	}
	if v.selectors(r, "spec.serviceAllocation.serviceSelectors", "serviceSelectors", a.ServiceSelectors) {
		out.ServiceSelectors = a.ServiceSelectors
	}
	return out
}

// matchSome is matchAny without the "no selectors match everything" rule.
func matchSome(sels []api.LabelSelector, labels map[string]string) bool {
	for _, s := range sels {
		if s.Matches(labels) {
			return true
		}
	}
	return false
}

// ---- BGP advertisements ----

func (v *validator) bgpAdvertisement(a *api.BGPAdvertisement, pools []*api.IPAddressPool) {
	r := ref("BGPAdvertisement", &a.ObjectMeta)
	s := a.Spec
	n := len(v.c.errs)
	v.list(r, "spec.ipAddressPools", "ipAddressPools", s.IPAddressPools)
	v.list(r, "spec.communities", "community", s.Communities)
	v.list(r, "spec.peers", "peers", s.Peers)
	poolSelOK := v.selectors(r, "spec.ipAddressPoolSelectors", "ipAddressPoolSelectors", s.IPAddressPoolSelectors)
	v.selectors(r, "spec.nodeSelectors", "nodeSelectors", s.NodeSelectors)
	v.selectors(r, "spec.serviceSelectors", "serviceSelectors", s.ServiceSelectors)

	out := &BGPAdvertisement{
		Name: a.Name, AggregationLength: 32, AggregationLengthV6: 128, LocalPref: s.LocalPref,
		Peers: s.Peers, NodeSelectors: s.NodeSelectors, ServiceSelectors: s.ServiceSelectors, Nodes: map[string]bool{},
	}
	if len(s.ServiceSelectors) > 0 {
		if s.AggregationLength != nil && *s.AggregationLength != 32 {
			v.c.errorf(r, "spec.aggregationLength", "serviceSelectors and aggregationLength are mutually exclusive, both cannot be set in %s", a.Name)
		}
		if s.AggregationLengthV6 != nil && *s.AggregationLengthV6 != 128 {
			v.c.errorf(r, "spec.aggregationLengthV6", "serviceSelectors and aggregationLengthV6 are mutually exclusive, both cannot be set in %s", a.Name)
		}
	}
	if s.AggregationLength != nil {
		out.AggregationLength = int(*s.AggregationLength)
		switch {
		case out.AggregationLength < 1:
			v.c.errorf(r, "spec.aggregationLength", "Invalid value: %d: spec.aggregationLength in body should be greater than or equal to 1", out.AggregationLength)
		case out.AggregationLength > 32:
			v.c.errorf(r, "spec.aggregationLength", "invalid aggregation length %d for IPv4", out.AggregationLength)
		}
	}
	if s.AggregationLengthV6 != nil {
		out.AggregationLengthV6 = int(*s.AggregationLengthV6)
		if out.AggregationLengthV6 > 128 {
			v.c.errorf(r, "spec.aggregationLengthV6", "invalid aggregation length %d for IPv6", out.AggregationLengthV6)
		}
	}
	for i, c := range s.Communities {
		field := fmt.Sprintf("spec.communities[%d]", i)
		if val, ok := v.cfg.Communities[c]; ok {
			out.Communities = append(out.Communities, val)
			continue
		}
		val, err := ParseCommunity(c)
		switch {
		case errors.Is(err, ErrInvalidCommunityFormat):
			v.c.transientf(r, field, "invalid community %q in BGP advertisement: %v (it is neither A:B, large:A:B:C nor the name of an alias defined in a Community)", c, err)
		case err != nil:
			v.c.errorf(r, field, "invalid community %q in BGP advertisement: %v", c, err)
		default:
			out.Communities = append(out.Communities, val)
		}
	}
	out.Communities = sortCommunities(out.Communities)
	for _, node := range v.res.Nodes {
		if out.SelectsNode(node.Labels) {
			out.Nodes[node.Name] = true
		}
	}
	for i, name := range s.Peers {
		if !v.peerDefined(name) {
			v.cfg.Warnings = append(v.cfg.Warnings, fmt.Sprintf("%s: spec.peers[%d]: BGPPeer %q does not exist; nothing is announced to it until it is created", r, i, name))
		}
	}
	if len(v.c.errs) > n {
		return
	}

	// Pools: all of them when neither names nor selectors are given.
	selected := map[string]bool{}
	if len(s.IPAddressPools) == 0 && len(s.IPAddressPoolSelectors) == 0 {
		for _, p := range pools {
			selected[p.Name] = true
		}
	}
	for i, name := range s.IPAddressPools {
		if !slices.ContainsFunc(pools, func(p *api.IPAddressPool) bool { return p.Name == name }) {
			v.cfg.Warnings = append(v.cfg.Warnings, fmt.Sprintf("%s: spec.ipAddressPools[%d]: IPAddressPool %q does not exist; the advertisement applies to it once it is created", r, i, name))
		}
		selected[name] = true
	}
	if poolSelOK {
		for _, p := range pools {
			if matchSome(s.IPAddressPoolSelectors, p.Labels) {
				selected[p.Name] = true
			}
		}
	}
	for _, pool := range v.cfg.Pools {
		if !selected[pool.Name] {
			continue
		}
		if !v.advertisementFitsPool(r, out, pool) {
			continue
		}
		pool.BGPAdvertisements = append(pool.BGPAdvertisements, out)
		out.Pools = append(out.Pools, pool.Name)
	}
	v.cfg.BGPAdvertisements = append(v.cfg.BGPAdvertisements, out)
}

func (v *validator) peerDefined(name string) bool {
	for _, p := range v.res.Peers {
		if p.Name == name && p.Namespace == v.ns {
			return true
		}
	}
	return false
}

// advertisementFitsPool applies MetalLB's per-pool checks: the aggregation
// length is not shorter than any prefix of the pool, and the localPref does
// not conflict with another advertisement of the pool.
func (v *validator) advertisementFitsPool(r string, adv *BGPAdvertisement, pool *Pool) bool {
	ok := true
	for _, block := range pool.Addresses {
		if len(block.Prefixes) == 0 {
			continue
		}
		length, field := adv.AggregationLength, "spec.aggregationLength"
		if block.Prefixes[0].Addr().Is6() {
			length, field = adv.AggregationLengthV6, "spec.aggregationLengthV6"
		}
		lowest := block.Prefixes[0].Bits()
		for _, p := range block.Prefixes {
			lowest = min(lowest, p.Bits())
		}
		if length < lowest {
			v.c.errorf(r, field, "invalid aggregation length %d: prefix %d in this pool is more specific than the aggregation length for addresses %s (pool %q)", length, lowest, block.Text, pool.Name)
			ok = false
		}
	}
	if !ok || len(adv.ServiceSelectors) > 0 {
		return ok
	}
	for _, other := range pool.BGPAdvertisements {
		if len(other.ServiceSelectors) > 0 {
			continue
		}
		if !CompatibleLocalPref(adv, other, pool) {
			v.c.errorf(r, "spec.localPref", "invalid local preference %d: local preference %d was already set for the same type of BGP update by BGPAdvertisement %q. Check existing BGP advertisements with common pools and aggregation lengths (pool %q)", adv.LocalPref, other.LocalPref, other.Name, pool.Name)
			return false
		}
	}
	return true
}

// CompatibleLocalPref reports whether two advertisements of a pool may have
// their localPref values: equal values, or different aggregation lengths
// (for every family the pool has), or disjoint peers, or disjoint nodes.
func CompatibleLocalPref(a, b *BGPAdvertisement, pool *Pool) bool {
	if a.LocalPref == b.LocalPref {
		return true
	}
	v4, v6 := pool.HasIPv4(), pool.HasIPv6()
	switch {
	case !v4 && !v6:
		return true
	case v4 && !v6 && a.AggregationLength != b.AggregationLength:
		return true
	case v6 && !v4 && a.AggregationLengthV6 != b.AggregationLengthV6:
		return true
	case a.AggregationLength != b.AggregationLength && a.AggregationLengthV6 != b.AggregationLengthV6:
		return true
	}
	if len(a.Peers) > 0 && len(b.Peers) > 0 && !slices.ContainsFunc(a.Peers, func(p string) bool { return slices.Contains(b.Peers, p) }) {
		return true
	}
	for n := range a.Nodes {
		if b.Nodes[n] {
			return false
		}
	}
	return true
}

// ---- L2 advertisements ----

func (v *validator) l2Advertisement(l *api.L2Advertisement, pools []*api.IPAddressPool) {
	r := ref("L2Advertisement", &l.ObjectMeta)
	s := l.Spec
	n := len(v.c.errs)
	v.list(r, "spec.ipAddressPools", "ipAddressPools", s.IPAddressPools)
	poolSelOK := v.selectors(r, "spec.ipAddressPoolSelectors", "ipAddressPoolSelectors", s.IPAddressPoolSelectors)
	v.selectors(r, "spec.nodeSelectors", "nodeSelectors", s.NodeSelectors)
	v.selectors(r, "spec.serviceSelectors", "serviceSelectors", s.ServiceSelectors)
	for i, pn := range s.PreferredNodeSelectors {
		f := fmt.Sprintf("spec.preferredNodeSelectors[%d]", i)
		if pn.Weight < 1 || pn.Weight > 100 {
			v.c.errorf(r, f+".weight", "Invalid value: %d: %s.weight in body should be between 1 and 100", pn.Weight, f)
		}
		if err := pn.Preference.Validate(); err != nil {
			v.c.errorf(r, f+".preference", "invalid preferred node selector: %v", err)
		}
	}
	if len(v.c.errs) > n {
		return
	}
	for _, pool := range v.cfg.Pools {
		if (len(s.IPAddressPools) == 0 && len(s.IPAddressPoolSelectors) == 0) || slices.Contains(s.IPAddressPools, pool.Name) ||
			(poolSelOK && matchSome(s.IPAddressPoolSelectors, pool.Labels)) {
			pool.L2Advertised = true
		}
	}
	v.cfg.Warnings = append(v.cfg.Warnings, r+": layer 2 mode is not supported by this speaker: the advertisement is stored but nothing is announced with ARP/NDP; use a BGPAdvertisement")
}

// ---- Cross-object rules ----

// bfdEchoOnIPv6 rejects BFD echo mode on peers that advertise IPv6 pools.
func (v *validator) bfdEchoOnIPv6() {
	for _, p := range v.cfg.Pools {
		if !p.HasIPv6() {
			continue
		}
		for _, a := range p.BGPAdvertisements {
			for _, peer := range v.cfg.Peers {
				if !a.SelectsPeer(peer.Name) {
					continue
				}
				if prof, ok := v.cfg.BFDProfiles[peer.BFDProfile]; ok && prof.EchoMode {
					v.c.errorf("BGPAdvertisement "+v.ns+"/"+a.Name, "", "pool %s has bgpadvertisement %s which references peer %s which has bfd echo enabled, which is not possible", p.Name, a.Name, peer.Name)
				}
			}
		}
	}
}
