package config

import (
	"net/netip"
	"slices"

	"github.com/onp-lab/onp/metallb/api"
)

// Reasons a speaker gives when its node does not announce a service; they
// are MetalLB's, as logged with event=serviceWithdrawn.
const (
	ReasonNotOwner                  = "notOwner"
	ReasonNoMatchingAdvertisement   = "noMatchingAdvertisement"
	ReasonConflictingAdvertisements = "conflictingAdvertisements"
	ReasonNodeNetworkUnavailable    = "nodeNetworkUnavailable"
	ReasonNodeExcludedFromBalancers = "nodeLabeledExcludeBalancers"
	ReasonNoLocalEndpoints          = "noLocalEndpoints"
	ReasonNoEndpoints               = "noEndpoints"
)

// AnnounceInput is what a speaker knows when it decides about one service.
type AnnounceInput struct {
	// Pool is the pool the service's address came from.
	Pool *Pool
	// Node is the speaker's own node (name, labels, conditions).
	Node *api.Node
	// Service is the LoadBalancer service.
	Service *api.Service
	// EndpointSlices are the service's slices.
	EndpointSlices []api.EndpointSlice
	// IgnoreExcludeLB ignores the node label
	// node.kubernetes.io/exclude-from-external-load-balancers.
	IgnoreExcludeLB bool
}

func nodeName(n *api.Node) string {
	if n == nil {
		return ""
	}
	return n.Name
}

func nodeLabels(n *api.Node) map[string]string {
	if n == nil {
		return nil
	}
	return n.Labels
}

// ShouldAnnounce decides, as MetalLB's BGP speaker does, whether the node
// announces the service. It returns "" to announce, otherwise the reason
// (one of the Reason constants), checked in MetalLB's order.
func ShouldAnnounce(in AnnounceInput) string {
	if in.Pool == nil || !slices.ContainsFunc(in.Pool.BGPAdvertisements, func(a *BGPAdvertisement) bool { return a.SelectsNode(nodeLabels(in.Node)) }) {
		return ReasonNotOwner
	}
	ads := AdvertisementsFor(in.Pool, in.Node, in.Service)
	if len(ads) == 0 {
		return ReasonNoMatchingAdvertisement
	}
	for i, a := range ads {
		for _, b := range ads[i+1:] {
			if !CompatibleLocalPref(a, b, in.Pool) {
				return ReasonConflictingAdvertisements
			}
		}
	}
	if in.Node != nil && in.Node.Condition(api.NodeNetworkUnavailable) == api.ConditionTrue {
		return ReasonNodeNetworkUnavailable
	}
	if !in.IgnoreExcludeLB && in.Node != nil {
		if _, ok := in.Node.Labels[api.LabelNodeExcludeBalancers]; ok {
			return ReasonNodeExcludedFromBalancers
		}
	}
	if in.Service != nil && in.Service.Spec.ExternalTrafficPolicy == api.ServiceExternalTrafficLocal {
		if !hasServingEndpoint(in.EndpointSlices, nodeName(in.Node)) {
			return ReasonNoLocalEndpoints
		}
	} else if !hasServingEndpoint(in.EndpointSlices, "") {
		return ReasonNoEndpoints
	}
	return ""
}

// hasServingEndpoint reports whether an endpoint with an address can serve;
// with node set, only endpoints on that node count.
func hasServingEndpoint(slices []api.EndpointSlice, node string) bool {
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if node != "" && (ep.NodeName == nil || *ep.NodeName != node) {
				continue
			}
			if len(ep.Addresses) > 0 && ep.Conditions.CanServe() {
				return true
			}
		}
	}
	return false
}

// AdvertisementsFor returns the pool's advertisements that select the node
// and the service.
func AdvertisementsFor(pool *Pool, node *api.Node, svc *api.Service) []*BGPAdvertisement {
	if pool == nil {
		return nil
	}
	var labels map[string]string
	if svc != nil {
		labels = svc.Labels
	}
	var out []*BGPAdvertisement
	for _, a := range pool.BGPAdvertisements {
		if a.SelectsNode(nodeLabels(node)) && a.SelectsService(labels) {
			out = append(out, a)
		}
	}
	return out
}

// Advertisement is one route a node announces for a service, before it is
// split per peer.
type Advertisement struct {
	// Prefix is the service address masked to the aggregation length.
	Prefix      netip.Prefix
	LocalPref   uint32
	Communities []Community
	// Peers names the BGPPeers to announce to; empty means all.
	Peers []string
	// From names the BGPAdvertisement.
	From string
}

// ServiceAdvertisements returns the advertisements of a service's
// addresses on a node: one per address and matching BGPAdvertisement, with
// prefix = address masked to aggregationLength (IPv4) or
// aggregationLengthV6 (IPv6). Call it only when ShouldAnnounce says "".
func ServiceAdvertisements(pool *Pool, node *api.Node, svc *api.Service, ips []netip.Addr) []Advertisement {
	var out []Advertisement
	for _, ip := range ips {
		ip = ip.Unmap()
		for _, a := range AdvertisementsFor(pool, node, svc) {
			length := a.AggregationLength
			if ip.Is6() {
				length = a.AggregationLengthV6
			}
			p, err := ip.Prefix(length)
			if err != nil {
				continue
			}
			out = append(out, Advertisement{
				Prefix: p, LocalPref: a.LocalPref, Communities: slices.Clone(a.Communities),
				Peers: slices.Clone(a.Peers), From: a.Name,
			})
		}
	}
	return out
}

// PeerAdvertisement is one route of a BGP session's desired set.
type PeerAdvertisement struct {
	Prefix netip.Prefix
	// Communities, standard and large, sorted and without duplicates.
	Communities []Community
	// LocalPref is the LOCAL_PREF value of the advertisement.
	LocalPref uint32
	// IBGP is true when the session is internal BGP, the only case where
	// LOCAL_PREF is sent at all; what to send for 0 is the session's choice
	// (native MetalLB sends 0, FRR mode leaves FRR's default 100).
	IBGP bool
}

// PeerAdvertisements returns the desired set of one BGP session from the
// advertisements of every service on the node: those addressed to the peer,
// of a family the session carries (both families for an unnumbered session
// or with dualStackAddressFamily), with duplicate prefixes merged —
// communities united, the highest localPref kept. The result is sorted by
// prefix.
func PeerAdvertisements(peer *Peer, ads []Advertisement) []PeerAdvertisement {
	byPrefix := map[netip.Prefix]*PeerAdvertisement{}
	for _, a := range ads {
		if len(a.Peers) > 0 && !slices.Contains(a.Peers, peer.Name) {
			continue
		}
		if peer.Addr.IsValid() && !peer.DualStackAddressFamily && peer.Addr.Is4() != a.Prefix.Addr().Is4() {
			continue
		}
		if cur, ok := byPrefix[a.Prefix]; ok {
			cur.Communities = sortCommunities(append(cur.Communities, a.Communities...))
			cur.LocalPref = max(cur.LocalPref, a.LocalPref)
			continue
		}
		byPrefix[a.Prefix] = &PeerAdvertisement{
			Prefix: a.Prefix, Communities: sortCommunities(slices.Clone(a.Communities)),
			LocalPref: a.LocalPref, IBGP: peer.IsIBGP(),
		}
	}
	out := make([]PeerAdvertisement, 0, len(byPrefix))
	for _, a := range byPrefix {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b PeerAdvertisement) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
	return out
}
