// Package config validates MetalLB resources with MetalLB's rules and turns
// them into a parsed model, like MetalLB's internal/config.For: one pure
// function from the resources of a cluster to a *Config or every problem
// found. It validates as MetalLB's FRR modes do, because this speaker
// supports BFD, keepaliveTime, connectTime and large communities.
//
// The package also holds the speaker's pure announce decisions: whether a
// node announces a service (with MetalLB's reason strings when it does not)
// and the advertisements each BGP session should carry.
package config

import (
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/onp-lab/onp/metallb/api"
)

// ClusterResources is everything For looks at.
type ClusterResources struct {
	// Namespace is MetalLB's namespace; empty means metallb-system. MetalLB
	// resources elsewhere are rejected, password Secrets are looked up here.
	Namespace string

	Pools             []api.IPAddressPool
	Peers             []api.BGPPeer
	BFDProfiles       []api.BFDProfile
	BGPAdvertisements []api.BGPAdvertisement
	L2Advertisements  []api.L2Advertisement
	Communities       []api.Community
	Secrets           []api.Secret
	Nodes             []api.Node
	Namespaces        []api.Namespace

	// Sources optionally maps an object's name as errors print it
	// ("BGPPeer metallb-system/peer1", see api.Ref) to where it was written,
	// so errors can start with file:line:col.
	Sources map[string]api.Source
}

// ResourcesFrom sorts decoded objects into ClusterResources, converting
// v1beta1 BGPPeers to v1beta2. Kinds For does not look at are skipped.
// namespace is MetalLB's namespace ("" for metallb-system).
func ResourcesFrom(namespace string, objs []api.Object) ClusterResources {
	res := ClusterResources{Namespace: namespace}
	for _, o := range objs {
		switch o := api.Normalize(o).(type) {
		case *api.IPAddressPool:
			res.Pools = append(res.Pools, *o)
		case *api.BGPPeer:
			res.Peers = append(res.Peers, *o)
		case *api.BFDProfile:
			res.BFDProfiles = append(res.BFDProfiles, *o)
		case *api.BGPAdvertisement:
			res.BGPAdvertisements = append(res.BGPAdvertisements, *o)
		case *api.L2Advertisement:
			res.L2Advertisements = append(res.L2Advertisements, *o)
		case *api.Community:
			res.Communities = append(res.Communities, *o)
		case *api.Secret:
			res.Secrets = append(res.Secrets, *o)
		case *api.Node:
			res.Nodes = append(res.Nodes, *o)
		case *api.Namespace:
			res.Namespaces = append(res.Namespaces, *o)
		}
	}
	return res
}

// Config is a validated MetalLB configuration.
type Config struct {
	// Namespace is MetalLB's namespace.
	Namespace string
	// Pools, sorted by name.
	Pools []*Pool
	// Peers, sorted by name.
	Peers []*Peer
	// BFDProfiles by name.
	BFDProfiles map[string]*BFDProfile
	// BGPAdvertisements, sorted by name.
	BGPAdvertisements []*BGPAdvertisement
	// Communities are the aliases defined by Community resources.
	Communities map[string]Community
	// Warnings are accepted oddities worth telling the user about: layer 2
	// advertisements (not supported by this speaker), references to pools or
	// peers that do not exist (yet), deprecated fields.
	Warnings []string
}

// Pool returns the pool named name, or nil.
func (c *Config) Pool(name string) *Pool {
	i, ok := slices.BinarySearchFunc(c.Pools, name, func(p *Pool, n string) int { return cmpString(p.Name, n) })
	if !ok {
		return nil
	}
	return c.Pools[i]
}

// Peer returns the peer named name, or nil.
func (c *Config) Peer(name string) *Peer {
	i, ok := slices.BinarySearchFunc(c.Peers, name, func(p *Peer, n string) int { return cmpString(p.Name, n) })
	if !ok {
		return nil
	}
	return c.Peers[i]
}

// PoolFor returns the pool that holds every address in ips (skipping
// .0/.255 addresses of avoidBuggyIPs pools, as MetalLB does), or nil.
func (c *Config) PoolFor(ips ...netip.Addr) *Pool {
	if len(ips) == 0 {
		return nil
	}
	for _, p := range c.Pools {
		all := true
		for _, ip := range ips {
			if !p.Usable(ip) {
				all = false
				break
			}
		}
		if all {
			return p
		}
	}
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Pool is a validated IPAddressPool.
type Pool struct {
	Name   string
	Labels map[string]string
	// CIDRs are the pool's prefixes in the order written; a range is the
	// shortest list of prefixes covering it. No two prefixes of any pools
	// overlap.
	CIDRs []netip.Prefix
	// Addresses are the spec.addresses entries in order, each with its prefixes.
	Addresses []AddressBlock
	// AutoAssign is false when addresses are given out only on request.
	AutoAssign bool
	// AvoidBuggyIPs skips IPv4 addresses ending in .0 and .255.
	AvoidBuggyIPs bool
	// ServiceAllocation pins the pool to namespaces or services; nil when the
	// pool is for everybody.
	ServiceAllocation *ServiceAllocation
	// BGPAdvertisements that apply to the pool, sorted by name.
	BGPAdvertisements []*BGPAdvertisement
	// L2Advertised is true when an L2Advertisement selects the pool (this
	// speaker does not announce in layer 2 mode).
	L2Advertised bool
}

// AddressBlock is one spec.addresses entry.
type AddressBlock struct {
	Text     string
	Prefixes []netip.Prefix
}

// Contains reports whether ip is inside one of the pool's prefixes.
func (p *Pool) Contains(ip netip.Addr) bool {
	for _, c := range p.CIDRs {
		if c.Contains(ip) {
			return true
		}
	}
	return false
}

// Usable reports whether ip may be given out from the pool: inside it, and
// not a .0/.255 address when the pool avoids buggy IPs.
func (p *Pool) Usable(ip netip.Addr) bool {
	if p.AvoidBuggyIPs && AddrBuggy(ip) {
		return false
	}
	return p.Contains(ip)
}

// HasIPv4 reports whether the pool has IPv4 prefixes.
func (p *Pool) HasIPv4() bool {
	return slices.ContainsFunc(p.CIDRs, func(c netip.Prefix) bool { return c.Addr().Is4() })
}

// HasIPv6 reports whether the pool has IPv6 prefixes.
func (p *Pool) HasIPv6() bool {
	return slices.ContainsFunc(p.CIDRs, func(c netip.Prefix) bool { return c.Addr().Is6() })
}

// ServiceAllocation is a validated spec.serviceAllocation.
type ServiceAllocation struct {
	// Priority: lower numbers first; 0 is the lowest priority.
	Priority int
	// Namespaces are the namespaces written plus those whose labels match a
	// namespace selector.
	Namespaces map[string]bool
	// NamespaceSelectors as written.
	NamespaceSelectors []api.LabelSelector
	// ServiceSelectors: a service must match one of them. When the pool
	// names no namespaces and no selectors, this holds one empty selector
	// (every service).
	ServiceSelectors []api.LabelSelector
}

// Matches reports whether a service in namespace with labels may get an
// address from the pool, as MetalLB's isPoolCompatibleWithService decides.
func (a *ServiceAllocation) Matches(namespace string, labels map[string]string) bool {
	if a == nil {
		return true
	}
	if len(a.Namespaces) > 0 && !a.Namespaces[namespace] {
		return false
	}
	if len(a.ServiceSelectors) == 0 {
		return true
	}
	for _, s := range a.ServiceSelectors {
		if s.Matches(labels) {
			return true
		}
	}
	return false
}

// Peer is a validated BGPPeer.
type Peer struct {
	Name  string
	MyASN uint32
	// ASN is the peer's AS; 0 when DynamicASN is set.
	ASN uint32
	// DynamicASN is "internal", "external" or "".
	DynamicASN string
	// LocalASN, when not 0, is announced instead of MyASN (FRR's local-as).
	LocalASN uint32
	// Addr is the address to dial; invalid when Iface is set.
	Addr netip.Addr
	// Iface is the interface of an unnumbered session.
	Iface string
	// SrcAddr is the source address to use; invalid when unset.
	SrcAddr netip.Addr
	// Port to dial; 179 unless written.
	Port uint16
	// HoldTime and KeepaliveTime: both nil when neither was written (the
	// speaker's defaults apply, 90s/30s); otherwise both set, one derived
	// from the other when only one was written.
	HoldTime      *time.Duration
	KeepaliveTime *time.Duration
	// ConnectTime is the wait between connection attempts; nil when unset.
	ConnectTime *time.Duration
	// RouterID; invalid when unset (the speaker picks one).
	RouterID netip.Addr
	// NodeSelectors: the session runs on nodes matching one of them; empty
	// means every node.
	NodeSelectors []api.LabelSelector
	// Password is the TCP MD5 password, written in the peer or read from
	// its password Secret.
	Password string
	// PasswordSecret names the Secret the password came from, if any.
	PasswordSecret string
	// BFDProfile names the BFD profile; empty means no BFD.
	BFDProfile             string
	EnableGracefulRestart  bool
	EBGPMultiHop           bool
	VRF                    string
	DisableMP              bool
	DualStackAddressFamily bool
}

// IsIBGP reports whether the session is internal BGP: the peer's AS is our
// AS, or dynamicASN is "internal".
func (p *Peer) IsIBGP() bool {
	if p.DynamicASN != "" {
		return p.DynamicASN == api.DynamicASNInternal
	}
	return p.ASN == p.MyASN
}

// SelectsNode reports whether the session runs on a node with these labels.
func (p *Peer) SelectsNode(labels map[string]string) bool {
	return matchAny(p.NodeSelectors, labels)
}

func matchAny(sels []api.LabelSelector, labels map[string]string) bool {
	if len(sels) == 0 {
		return true
	}
	for _, s := range sels {
		if s.Matches(labels) {
			return true
		}
	}
	return false
}

// BFD profile defaults (FRR's, which MetalLB's FRR modes inherit).
const (
	DefaultBFDReceiveInterval  = 300
	DefaultBFDTransmitInterval = 300
	DefaultBFDDetectMultiplier = 3
	DefaultBFDEchoInterval     = 50
	DefaultBFDMinimumTTL       = 254
)

// BFDProfile is a validated BFDProfile with defaults filled in. Intervals
// are in milliseconds.
type BFDProfile struct {
	Name             string
	ReceiveInterval  uint32
	TransmitInterval uint32
	DetectMultiplier uint32
	EchoInterval     uint32
	EchoMode         bool
	PassiveMode      bool
	MinimumTTL       uint32
}

// BGPAdvertisement is a validated BGPAdvertisement.
type BGPAdvertisement struct {
	Name string
	// AggregationLength (IPv4, default 32) and AggregationLengthV6 (default
	// 128): the announced prefix is the service address masked to it.
	AggregationLength   int
	AggregationLengthV6 int
	// LocalPref is sent to iBGP peers only.
	LocalPref uint32
	// Communities, aliases resolved, sorted and without duplicates.
	Communities []Community
	// Peers names the BGPPeers to announce to; empty means all.
	Peers []string
	// NodeSelectors choose the announcing nodes; empty means all.
	NodeSelectors []api.LabelSelector
	// Nodes are the names of the known nodes the selectors match.
	Nodes map[string]bool
	// ServiceSelectors restrict the services announced; empty means all.
	ServiceSelectors []api.LabelSelector
	// Pools are the names of the pools the advertisement applies to.
	Pools []string
}

// SelectsNode reports whether a node with these labels announces.
func (a *BGPAdvertisement) SelectsNode(labels map[string]string) bool {
	return matchAny(a.NodeSelectors, labels)
}

// SelectsService reports whether the advertisement covers a service with
// these labels.
func (a *BGPAdvertisement) SelectsService(labels map[string]string) bool {
	return matchAny(a.ServiceSelectors, labels)
}

// SelectsPeer reports whether the advertisement goes to the named peer.
func (a *BGPAdvertisement) SelectsPeer(name string) bool {
	return len(a.Peers) == 0 || slices.Contains(a.Peers, name)
}

func sortCommunities(cs []Community) []Community {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Compare(cs[j]) < 0 })
	return slices.CompactFunc(cs, func(a, b Community) bool { return a == b })
}
