package speaker

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/metallb/bfd"
	"github.com/onp-lab/onp/metallb/bgp"
	"github.com/onp-lab/onp/metallb/config"
)

// planInput is everything one decision round looks at.
type planInput struct {
	nodeName string
	// node is this node's Node object.
	node *api.Node
	// cfg is the configuration in effect.
	cfg      *config.Config
	services []*api.Service
	// slices are the EndpointSlices by service ("namespace/name").
	slices          map[string][]api.EndpointSlice
	lbClass         string
	ignoreExcludeLB bool
}

// plan is the desired state of one round: the sessions with their routes,
// the per-peer decisions and the per-service decisions.
type plan struct {
	peers    []PeerStatus
	sessions []sessionPlan
	services []serviceDecision
}

// sessionPlan is one session to run and its desired set.
type sessionPlan struct {
	params bgp.SessionParameters
	// bfdProfile names the BFD profile, if any.
	bfdProfile     string
	passwordSecret string
	advs           []bgp.Advertisement
	routes         []RouteStatus
	// set is the desired set per prefix, to update service by service.
	set *routeSet
}

// serviceDecision is this node's decision about one LoadBalancer service.
type serviceDecision struct {
	key       string
	namespace string
	name      string
	etp       string
	ips       []netip.Addr
	pool      string
	announced bool
	reason    string
	message   string
	// ads are the service's advertisements when announced.
	ads      []config.Advertisement
	adNames  []string
	peers    []string
	prefixes []string
}

// serviceKey is "namespace/name", MetalLB's name for a service in logs and
// metrics.
func serviceKey(namespace, name string) string { return namespace + "/" + name }

// decide computes the plan. It is a pure function of its input.
func decide(in planInput) plan {
	var p plan
	if in.cfg == nil {
		for _, svc := range in.services {
			if svc.Spec.Type != api.ServiceTypeLoadBalancer {
				continue
			}
			d := newDecision(svc)
			d.reason, d.message = ReasonNoConfig, "there is no valid MetalLB configuration"
			p.services = append(p.services, d)
		}
		sortDecisions(p.services)
		return p
	}
	var labels map[string]string
	if in.node != nil {
		labels = in.node.Labels
	}

	// Services first: which prefixes this node announces.
	for _, svc := range in.services {
		if svc.Spec.Type != api.ServiceTypeLoadBalancer {
			continue
		}
		p.services = append(p.services, decideService(in, svc))
	}
	sortDecisions(p.services)

	// Then the sessions, each with the announced prefixes addressed to it.
	for _, peer := range in.cfg.Peers {
		ps := PeerStatus{
			Name: peer.Name, Port: peer.Port, Interface: peer.Iface, MyASN: peer.MyASN, PeerASN: peer.ASN,
			DynamicASN: peer.DynamicASN,
		}
		if peer.Addr.IsValid() {
			ps.Address = peer.Addr.String()
		}
		switch {
		case peer.Iface != "":
			ps.Reason = ReasonUnsupported
			ps.Message = fmt.Sprintf("unnumbered BGP over interface %q is not supported by this speaker: set spec.peerAddress instead of spec.interface", peer.Iface)
		case peer.VRF != "":
			ps.Reason = ReasonUnsupported
			ps.Message = fmt.Sprintf("spec.vrf %q: this speaker has no VRFs; remove spec.vrf to peer from the default routing table", peer.VRF)
		case !peer.SelectsNode(labels):
			ps.Reason = ReasonFilteredByNodeSelector
			ps.Message = fmt.Sprintf("spec.nodeSelectors do not match node %s (its labels: %s)", in.nodeName, labelString(labels))
		}
		if ps.Reason != "" {
			p.peers = append(p.peers, ps)
			continue
		}
		params, warnings := sessionParameters(peer, in.cfg)
		ps.Warnings = warnings
		if err := params.Validate(); err != nil {
			ps.Reason, ps.Message = ReasonInvalidParameters, err.Error()
			p.peers = append(p.peers, ps)
			continue
		}
		ps.Session = true
		p.peers = append(p.peers, ps)
		sp := sessionPlan{params: params, bfdProfile: peer.BFDProfile, passwordSecret: peer.PasswordSecret}
		sp.set = newRouteSet(peer, params)
		for _, d := range p.services {
			sp.set.update(d.key, &d)
		}
		sp.advs, sp.routes = sp.set.advs(), sp.set.routes()
		p.sessions = append(p.sessions, sp)
	}

	// Which sessions each announced service reaches.
	for i := range p.services {
		d := &p.services[i]
		if !d.announced {
			continue
		}
		for _, sp := range p.sessions {
			if slices.ContainsFunc(d.ads, func(a config.Advertisement) bool { return reaches(a, sp.params) }) {
				d.peers = append(d.peers, sp.params.Name)
			}
		}
	}
	return p
}

func newDecision(svc *api.Service) serviceDecision {
	d := serviceDecision{
		key: serviceKey(svc.Namespace, svc.Name), namespace: svc.Namespace, name: svc.Name,
		etp: svc.Spec.ExternalTrafficPolicy,
	}
	if d.etp == "" {
		d.etp = api.ServiceExternalTrafficCluster
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(ing.IP); err == nil {
			d.ips = append(d.ips, a.Unmap())
		}
	}
	return d
}

func sortDecisions(ds []serviceDecision) {
	slices.SortFunc(ds, func(a, b serviceDecision) int {
		return cmp.Or(cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
	})
}

// filteredByClass is MetalLB's filterByLoadBalancerClass: true when the
// speaker must ignore the service.
func filteredByClass(svc *api.Service, class string) bool {
	c := svc.Spec.LoadBalancerClass
	if c == nil {
		return class != ""
	}
	return *c != class
}

// decideService follows MetalLB's handleService: the class filter, an
// ingress IP, a pool holding it, then ShouldAnnounce.
func decideService(in planInput, svc *api.Service) serviceDecision {
	d := newDecision(svc)
	if filteredByClass(svc, in.lbClass) {
		handled := "services without spec.loadBalancerClass"
		if in.lbClass != "" {
			handled = fmt.Sprintf("loadBalancerClass %q", in.lbClass)
		}
		got := "no class"
		if svc.Spec.LoadBalancerClass != nil {
			got = fmt.Sprintf("class %q", *svc.Spec.LoadBalancerClass)
		}
		d.reason = ReasonLoadBalancerClass
		d.message = fmt.Sprintf("the service has %s; this speaker handles %s", got, handled)
		return d
	}
	if len(d.ips) == 0 {
		d.reason = ReasonNoIPAllocated
		d.message = "the service has no ingress IP yet; MetalLB's controller assigns one (its events say why not)"
		return d
	}
	pool := in.cfg.PoolFor(d.ips...)
	if pool == nil {
		d.reason = ReasonIPNotAllowed
		d.message = fmt.Sprintf("ingress IP %s is in no IPAddressPool of the configuration", joinAddrs(d.ips))
		return d
	}
	d.pool = pool.Name
	reason := config.ShouldAnnounce(config.AnnounceInput{
		Pool: pool, Node: in.node, Service: svc, EndpointSlices: in.slices[d.key], IgnoreExcludeLB: in.ignoreExcludeLB,
	})
	if reason != "" {
		d.reason, d.message = reason, reasonMessage(reason, in, pool, svc)
		return d
	}
	d.announced = true
	d.ads = config.ServiceAdvertisements(pool, in.node, svc, d.ips)
	seen := map[string]bool{}
	seenPfx := map[netip.Prefix]bool{}
	for _, a := range d.ads {
		if !seen[a.From] {
			seen[a.From] = true
			d.adNames = append(d.adNames, a.From)
		}
		if !seenPfx[a.Prefix] {
			seenPfx[a.Prefix] = true
			d.prefixes = append(d.prefixes, a.Prefix.String())
		}
	}
	return d
}

// reasonMessage explains one of MetalLB's reasons for this service.
func reasonMessage(reason string, in planInput, pool *config.Pool, svc *api.Service) string {
	switch reason {
	case config.ReasonNotOwner:
		if len(pool.BGPAdvertisements) == 0 {
			return fmt.Sprintf("pool %s has no BGPAdvertisement: its addresses are assigned but not announced (create a BGPAdvertisement for it)", pool.Name)
		}
		return fmt.Sprintf("no BGPAdvertisement of pool %s selects node %s (spec.nodeSelectors)", pool.Name, in.nodeName)
	case config.ReasonNoMatchingAdvertisement:
		return fmt.Sprintf("no BGPAdvertisement of pool %s selects the service (spec.serviceSelectors)", pool.Name)
	case config.ReasonConflictingAdvertisements:
		return fmt.Sprintf("BGPAdvertisements of pool %s give the same prefixes different localPref values to the same peers", pool.Name)
	case config.ReasonNodeNetworkUnavailable:
		return fmt.Sprintf("node %s has condition NetworkUnavailable=True", in.nodeName)
	case config.ReasonNodeExcludedFromBalancers:
		return fmt.Sprintf("node %s has label %s", in.nodeName, api.LabelNodeExcludeBalancers)
	case config.ReasonNoLocalEndpoints:
		return fmt.Sprintf("externalTrafficPolicy is Local and no endpoint on node %s can serve", in.nodeName)
	case config.ReasonNoEndpoints:
		if len(svc.Spec.Selector) == 0 {
			return "no endpoint can serve: the service has no selector and no EndpointSlice lists a ready endpoint"
		}
		return "no endpoint can serve: no pod selected by the service is ready"
	}
	return reason
}

// reaches reports whether an advertisement goes to the session: addressed
// to the peer (or to all) and of the family the session carries.
func reaches(a config.Advertisement, p bgp.SessionParameters) bool {
	if len(a.Peers) > 0 && !slices.Contains(a.Peers, p.Name) {
		return false
	}
	return a.Prefix.Addr().Is4() == p.PeerAddress.Unmap().Is4()
}

// sessionRoutes builds a session's desired set from the announced
// services: MetalLB's per-peer merge (communities united, highest
// localPref), converted to the session layer's advertisements, with the
// services and BGPAdvertisements behind each prefix for the status.
func sessionRoutes(peer *config.Peer, ds []serviceDecision) ([]bgp.Advertisement, []RouteStatus) {
	rs := newRouteSet(peer, bgp.SessionParameters{Name: peer.Name, PeerAddress: peer.Addr})
	for i := range ds {
		rs.update(ds[i].key, &ds[i])
	}
	return rs.advs(), rs.routes()
}

// routeSet is one session's desired set kept per prefix, with the
// advertisements of each service behind it, so that a service's change
// merges again only the prefixes it had or has.
type routeSet struct {
	peer   *config.Peer
	params bgp.SessionParameters
	// bySvc are the prefixes each service contributes to.
	bySvc    map[string][]netip.Prefix
	prefixes map[netip.Prefix]*prefixRoutes
}

// prefixRoutes is one prefix of a session: the advertisements of the
// services behind it and their merge.
type prefixRoutes struct {
	ads   map[string][]config.Advertisement // by service key
	adv   bgp.Advertisement
	route RouteStatus
	// valid is false when the merge dropped every advertisement.
	valid bool
}

func newRouteSet(peer *config.Peer, params bgp.SessionParameters) *routeSet {
	return &routeSet{peer: peer, params: params, bySvc: map[string][]netip.Prefix{}, prefixes: map[netip.Prefix]*prefixRoutes{}}
}

// update replaces the advertisements of service key with those of its
// decision (nil or not announced: none) and returns the prefixes whose
// merge changed.
func (rs *routeSet) update(key string, d *serviceDecision) []netip.Prefix {
	touched := map[netip.Prefix]bool{}
	for _, p := range rs.bySvc[key] {
		if pr := rs.prefixes[p]; pr != nil {
			delete(pr.ads, key)
		}
		touched[p] = true
	}
	delete(rs.bySvc, key)
	if d != nil && d.announced {
		var mine []netip.Prefix
		for _, a := range d.ads {
			if !reaches(a, rs.params) {
				continue
			}
			pr := rs.prefixes[a.Prefix]
			if pr == nil {
				pr = &prefixRoutes{ads: map[string][]config.Advertisement{}}
				rs.prefixes[a.Prefix] = pr
			}
			if len(pr.ads[key]) == 0 {
				mine = append(mine, a.Prefix)
			}
			pr.ads[key] = append(pr.ads[key], a)
			touched[a.Prefix] = true
		}
		if len(mine) > 0 {
			rs.bySvc[key] = mine
		}
	}
	var changed []netip.Prefix
	for p := range touched {
		if rs.merge(p) {
			changed = append(changed, p)
		}
	}
	return changed
}

// merge recomputes one prefix; it reports whether the advertisement or
// its status changed.
func (rs *routeSet) merge(p netip.Prefix) bool {
	pr := rs.prefixes[p]
	if pr == nil {
		return false
	}
	if len(pr.ads) == 0 {
		delete(rs.prefixes, p)
		return pr.valid
	}
	keys := make([]string, 0, len(pr.ads))
	var ads []config.Advertisement
	for k := range pr.ads {
		keys = append(keys, k)
	}
	// Services as decisions are sorted: by namespace, then name.
	slices.SortFunc(keys, func(a, b string) int {
		an, aname, _ := strings.Cut(a, "/")
		bn, bname, _ := strings.Cut(b, "/")
		return cmp.Or(cmp.Compare(an, bn), cmp.Compare(aname, bname))
	})
	var from []string
	for _, k := range keys {
		for _, a := range pr.ads[k] {
			ads = append(ads, a)
			if !slices.Contains(from, a.From) {
				from = append(from, a.From)
			}
		}
	}
	merged := config.PeerAdvertisements(rs.peer, ads)
	if len(merged) == 0 {
		was := pr.valid
		pr.valid, pr.adv, pr.route = false, bgp.Advertisement{}, RouteStatus{}
		return was
	}
	m := merged[0]
	a := bgp.Advertisement{Prefix: m.Prefix, LocalPref: m.LocalPref}
	r := RouteStatus{Prefix: m.Prefix.String(), LocalPref: m.LocalPref, Services: keys}
	for _, c := range m.Communities {
		r.Communities = append(r.Communities, c.String())
		if c.IsLarge() {
			g, l1, l2 := c.Large()
			a.LargeCommunities = append(a.LargeCommunities, bgp.LargeCommunity{GlobalAdmin: g, LocalData1: l1, LocalData2: l2})
		} else {
			a.Communities = append(a.Communities, bgp.Community(c.Value()))
		}
	}
	slices.Sort(from)
	r.Advertisements = from
	changed := !pr.valid || !sameAdv(pr.adv, a) || !sameRoute(pr.route, r)
	pr.valid, pr.adv, pr.route = true, a, r
	return changed
}

func sameAdv(x, y bgp.Advertisement) bool {
	return x.Prefix == y.Prefix && x.LocalPref == y.LocalPref &&
		slices.Equal(x.Communities, y.Communities) && slices.Equal(x.LargeCommunities, y.LargeCommunities)
}

func sameRoute(x, y RouteStatus) bool {
	return x.Prefix == y.Prefix && x.LocalPref == y.LocalPref && slices.Equal(x.Communities, y.Communities) &&
		slices.Equal(x.Services, y.Services) && slices.Equal(x.Advertisements, y.Advertisements)
}

// route returns the status of a prefix, if it is in the set.
func (rs *routeSet) route(p netip.Prefix) (RouteStatus, bool) {
	pr := rs.prefixes[p]
	if pr == nil || !pr.valid {
		return RouteStatus{}, false
	}
	return pr.route, true
}

func (rs *routeSet) sortedPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(rs.prefixes))
	for p, pr := range rs.prefixes {
		if pr.valid {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	return out
}

// advs is the desired set, sorted by prefix.
func (rs *routeSet) advs() []bgp.Advertisement {
	ps := rs.sortedPrefixes()
	out := make([]bgp.Advertisement, len(ps))
	for i, p := range ps {
		out[i] = rs.prefixes[p].adv
	}
	return out
}

// desired is the desired set in no particular order (what Set takes).
func (rs *routeSet) desired() []bgp.Advertisement {
	out := make([]bgp.Advertisement, 0, len(rs.prefixes))
	for _, pr := range rs.prefixes {
		if pr.valid {
			out = append(out, pr.adv)
		}
	}
	return out
}

// routes is the set's status, sorted by prefix.
func (rs *routeSet) routes() []RouteStatus {
	ps := rs.sortedPrefixes()
	out := make([]RouteStatus, len(ps))
	for i, p := range ps {
		out[i] = rs.prefixes[p].route
	}
	return out
}

// sessionParameters maps a validated BGPPeer to the session layer, with
// warnings for settings that cannot be honoured exactly.
func sessionParameters(peer *config.Peer, cfg *config.Config) (bgp.SessionParameters, []string) {
	var warnings []string
	p := bgp.SessionParameters{
		Name: peer.Name, PeerAddress: peer.Addr, PeerPort: peer.Port, SourceAddress: peer.SrcAddr,
		MyASN: peer.MyASN, PeerASN: peer.ASN, DynamicASN: bgp.DynamicASN(peer.DynamicASN),
		RouterID: peer.RouterID, Password: peer.Password, EBGPMultiHop: peer.EBGPMultiHop,
	}
	if peer.LocalASN != 0 {
		p.MyASN = peer.LocalASN
		warnings = append(warnings, fmt.Sprintf("localASN %d: the session speaks AS %d instead of myASN %d, as FRR's \"local-as %d no-prepend replace-as\" presents it to the peer", peer.LocalASN, peer.LocalASN, peer.MyASN, peer.LocalASN))
	}
	if peer.HoldTime != nil {
		// FRR mode renders whole seconds; so does the session layer.
		hold := peer.HoldTime.Truncate(time.Second)
		keep := peer.KeepaliveTime.Truncate(time.Second)
		if hold == 0 {
			warnings = append(warnings, fmt.Sprintf("holdTime 0 (no hold timer) is not available with this speaker: it uses %v", bgp.DefaultHoldTime))
		} else {
			p.HoldTime = hold
			p.KeepaliveTime = max(keep, time.Second)
		}
	}
	if peer.ConnectTime != nil {
		p.ConnectTime = *peer.ConnectTime
	}
	if peer.BFDProfile != "" {
		if b := cfg.BFDProfiles[peer.BFDProfile]; b != nil {
			p.BFD = &bfd.Profile{
				Name:             b.Name,
				ReceiveInterval:  time.Duration(b.ReceiveInterval) * time.Millisecond,
				TransmitInterval: time.Duration(b.TransmitInterval) * time.Millisecond,
				DetectMultiplier: uint8(min(b.DetectMultiplier, 255)),
				EchoInterval:     time.Duration(b.EchoInterval) * time.Millisecond,
				EchoMode:         b.EchoMode,
				PassiveMode:      b.PassiveMode,
				MinimumTTL:       uint8(min(b.MinimumTTL, 255)),
			}
		}
	}
	if peer.EnableGracefulRestart {
		warnings = append(warnings, "enableGracefulRestart: graceful restart is not supported by this speaker; the session runs without it")
	}
	if peer.DualStackAddressFamily {
		warnings = append(warnings, "dualStackAddressFamily: this speaker carries only the peer address's family on a session; prefixes of the other family are not sent to this peer")
	}
	return p, warnings
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

func labelString(labels map[string]string) string {
	if len(labels) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}
