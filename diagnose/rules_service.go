package diagnose

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/onp-lab/onp/metallb/config"
	"github.com/onp-lab/onp/metallb/speaker"
)

func sortStrings(s []string) { sort.Strings(s) }

func mustAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a.Unmap()
}

// speakerRules: the speaker itself (not running, no MetalLB resource,
// invalid configuration).
func (d *diag) speakerRules(peer string) []Finding {
	var out []Finding
	for i := range d.ev.Speakers {
		s := &d.ev.Speakers[i]
		if peer != "" && !matchesPeer(d.ev, peer, s.Node) && !d.hasPairWith(s.Node, peer) {
			continue
		}
		st := s.Status
		if st == nil {
			if !d.hasPairs(s.Node) {
				out = append(out, d.speakerDown(s))
			}
			continue
		}
		if !st.MetalLB.Present {
			out = append(out, Finding{
				Cause: CauseNoMetalLB, Where: s.Node,
				Summary:  fmt.Sprintf("there is no MetalLB resource in %s, so the speaker on %s does not start", st.MetalLB.Namespace, s.Node),
				Fix:      []string{fmt.Sprintf("create it: a MetalLB object in %s (the reference lab's seed/01-metallb-operator.yaml), onp apply -f FILE", st.MetalLB.Namespace)},
				Evidence: []string{fmt.Sprintf("speaker %s: %s: %s", s.Node, st.State, st.Message)},
			})
			continue
		}
		if st.Config.State == speaker.ConfigInvalid && !st.Config.Transient {
			evl := []string{fmt.Sprintf("speaker %s: configuration invalid: %s", s.Node, st.Config.Error)}
			if st.Config.Stale {
				evl = append(evl, "the last valid configuration stays in effect (stale)")
			}
			out = append(out, Finding{
				Cause: CauseConfigInvalid, Where: s.Node,
				Summary:  fmt.Sprintf("the MetalLB configuration is invalid, so the speaker on %s ignores the latest changes", s.Node),
				Fix:      []string{"fix the objects named in the error (onp apply validates them the same way)"},
				Evidence: evl,
			})
		}
	}
	return out
}

func (d *diag) hasPairs(node string) bool {
	for _, p := range pairs(d.ev) {
		if p.speakerNode == node {
			return true
		}
	}
	return false
}

func (d *diag) hasPairWith(node, peer string) bool {
	for _, p := range pairs(d.ev) {
		if p.speakerNode == node && (matchesPeer(d.ev, peer, p.routerNode) || sameAddr(peer, p.peerAddr)) {
			return true
		}
	}
	return false
}

// serviceRules: what stops a LoadBalancer service from being announced or
// reached.
func (d *diag) serviceRules() []Finding {
	var out []Finding
	ps := pairs(d.ev)
	for i := range d.ev.Speakers {
		s := &d.ev.Speakers[i]
		if s.Status == nil || s.Status.State != speaker.StateRunning {
			continue
		}
		for _, svc := range s.Status.Services {
			if len(svc.IPs) == 0 {
				continue
			}
			key := svc.Key()
			info := s.service(key)
			if !svc.Announced {
				if f := d.notAnnounced(s, svc, info); f != nil {
					out = append(out, *f)
				}
				continue
			}
			if f := d.advertisementPeers(s, svc, ps); f != nil {
				out = append(out, *f)
				continue
			}
			if d.sessionTrouble {
				continue
			}
			if f := d.dataPath(s, svc, ps); f != nil {
				out = append(out, *f)
			}
		}
	}
	return out
}

func (d *diag) routeLines(ip string) []string {
	var out []string
	for _, r := range d.ev.Routers {
		found := false
		for _, rt := range r.Routes {
			if strings.HasPrefix(rt.Prefix, ip+"/") {
				found = true
				state := "not installed"
				if rt.Installed {
					state = "installed"
				}
				out = append(out, fmt.Sprintf("%s routing table: %s via %s (%s, %s)", r.Node, rt.Prefix, strings.Join(rt.Nexthops, ", "), rt.Protocol, state))
			}
		}
		if !found && r.Error == "" && (r.Kind == "vyos" || r.Kind == "frr") {
			out = append(out, fmt.Sprintf("%s routing table: no route to %s", r.Node, ip))
		}
	}
	return out
}

// notAnnounced explains a service with an address that the node does not
// announce.
func (d *diag) notAnnounced(s *SpeakerInfo, svc speaker.ServiceStatus, info *ServiceInfo) *Finding {
	ip := svc.IPs[0]
	base := fmt.Sprintf("speaker %s: Service %s has EXTERNAL-IP %s from pool %s but is not announced: %s", s.Node, svc.Key(), strings.Join(svc.IPs, ","), orDash(svc.Pool), svc.Reason)
	if svc.Message != "" {
		base += " (" + svc.Message + ")"
	}
	switch svc.Reason {
	case config.ReasonNoEndpoints, config.ReasonNoLocalEndpoints:
		evl := []string{base}
		if info != nil {
			evl = append(evl, fmt.Sprintf("cluster: Service %s selects %s: %d pods, %d ready endpoints", svc.Key(), orDash(info.Selector), info.Pods, info.Endpoints))
		}
		evl = append(evl, d.routeLines(ip)...)
		sel := "its selector"
		if info != nil && info.Selector != "" {
			sel = info.Selector
		}
		return &Finding{
			Cause: CauseNoEndpoints, Where: s.Node,
			Summary:  fmt.Sprintf("Service %s has no ready endpoints, so MetalLB does not announce %s (%s)", svc.Key(), ip, svc.Reason),
			Fix:      []string{fmt.Sprintf("run a pod with the labels %s in %s (onp get pods -n %s), or fix the Service's selector", sel, svc.Namespace, svc.Namespace)},
			Evidence: evl,
		}
	}
	var pool *speaker.PoolStatus
	for i := range s.Status.Pools {
		if s.Status.Pools[i].Name == svc.Pool {
			pool = &s.Status.Pools[i]
		}
	}
	if pool != nil && len(pool.Advertisements) == 0 {
		var names []string
		for _, a := range s.Advertisements {
			names = append(names, a.Name)
		}
		evl := []string{
			base,
			fmt.Sprintf("speaker %s: pool %s (%s) is covered by no BGPAdvertisement", s.Node, pool.Name, strings.Join(pool.Addresses, ", ")),
			fmt.Sprintf("cluster: BGPAdvertisements in %s: %s", s.Status.MetalLB.Namespace, orNone(names)),
		}
		for _, p := range pairs(d.ev) {
			if p.speakerNode == s.Node && p.sess != nil && p.sess.State == "Established" {
				evl = append(evl, fmt.Sprintf("speaker %s → %s: Established, %d prefixes advertised", s.Node, p.sess.Peer, p.sess.PrefixesAdvertised))
			}
		}
		evl = append(evl, d.routeLines(ip)...)
		return &Finding{
			Cause: CauseNoAdvertisement, Where: s.Node,
			Summary:  fmt.Sprintf("pool %s has no BGPAdvertisement: Service %s got %s from it, but nothing announces it", pool.Name, svc.Key(), ip),
			Fix:      []string{fmt.Sprintf("on the cluster: create a BGPAdvertisement in %s with spec.ipAddressPools: [%s] (onp apply -f FILE)", s.Status.MetalLB.Namespace, pool.Name)},
			Evidence: evl,
		}
	}
	if svc.Reason == config.ReasonNotOwner || svc.Reason == config.ReasonNoMatchingAdvertisement {
		evl := []string{base}
		for _, a := range s.Advertisements {
			if pool != nil && !slices.Contains(pool.Advertisements, a.Name) {
				continue
			}
			evl = append(evl, fmt.Sprintf("cluster: BGPAdvertisement %s: nodeSelectors %s; node %s has %s", a.Name, orNone(a.NodeSelectors), s.Node, labelsText(s.NodeLabels, a.NodeSelectors...)))
		}
		evl = append(evl, d.routeLines(ip)...)
		return &Finding{
			Cause: CauseSelectorExcludes, Where: s.Node,
			Summary:  fmt.Sprintf("the BGPAdvertisements of pool %s do not select node %s (or Service %s), so %s is not announced from it", svc.Pool, s.Node, svc.Key(), ip),
			Fix:      []string{fmt.Sprintf("change the advertisement's nodeSelectors (or serviceSelectors) to select %s (labels %s), or remove them", s.Node, labelsText(s.NodeLabels))},
			Evidence: evl,
		}
	}
	return &Finding{
		Cause: CauseServiceNotReach, Where: s.Node,
		Summary:  fmt.Sprintf("Service %s is not announced from %s: %s", svc.Key(), s.Node, svc.Reason),
		Fix:      []string{"see MetalLB's reason: " + orDash(svc.Message)},
		Evidence: append([]string{base}, d.routeLines(ip)...),
	}
}

func advSelectors(s *SpeakerInfo) []string {
	var out []string
	for _, a := range s.Advertisements {
		out = append(out, a.NodeSelectors...)
	}
	return out
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// advertisementPeers: the service is announced, but not to an Established
// session because the advertisement's peers list leaves it out.
func (d *diag) advertisementPeers(s *SpeakerInfo, svc speaker.ServiceStatus, ps []*pair) *Finding {
	var up []*pair
	for _, p := range ps {
		if p.speakerNode != s.Node || p.sess == nil || p.sess.State != "Established" || p.peerName == "" {
			continue
		}
		if slices.Contains(svc.Peers, p.peerName) {
			// At least one session carries it: a peers list that leaves
			// others out is intended (one router gets it, another not).
			return nil
		}
		up = append(up, p)
	}
	if len(up) == 0 {
		return nil
	}
	p := up[0]
	var evl []string
	evl = append(evl, fmt.Sprintf("speaker %s: Service %s (%s) is advertised to %s, and to none of the Established sessions", s.Node, svc.Key(), strings.Join(svc.IPs, ","), orNone(svc.Peers)))
	for _, a := range s.Advertisements {
		if slices.Contains(svc.Advertisements, a.Name) {
			evl = append(evl, fmt.Sprintf("cluster: BGPAdvertisement %s: peers %s", a.Name, orNone(a.Peers)))
		}
	}
	for _, q := range up {
		evl = append(evl, d.speakerLine(q))
	}
	evl = append(evl, d.routeLines(svc.IPs[0])...)
	return &Finding{
		Cause: CauseSelectorExcludes, Where: s.Node, Session: p.name(),
		Summary:  fmt.Sprintf("the BGPAdvertisement for Service %s lists peers that leave out %s (%s): the session is up, but %s is not announced on it", svc.Key(), p.peerName, p.routerNode, svc.IPs[0]),
		Fix:      []string{fmt.Sprintf("on the cluster: add %s to spec.peers of the BGPAdvertisement (%s), or remove spec.peers to announce to every peer", p.peerName, strings.Join(svc.Advertisements, ", "))},
		Evidence: nonEmpty(evl...),
	}
}

// dataPath: the service is announced and the router has the route, but a
// client behind the router does not get an answer.
func (d *diag) dataPath(s *SpeakerInfo, svc speaker.ServiceStatus, ps []*pair) *Finding {
	key := svc.Key()
	var okFrom, failFrom []HTTPProbe
	for _, hp := range d.ev.DataPath {
		if hp.Service != key {
			continue
		}
		if hp.Result == ResultOK {
			okFrom = append(okFrom, hp)
		} else if n := d.ev.node(hp.From); n != nil && n.Kind == "host" {
			failFrom = append(failFrom, hp)
		}
	}
	if len(failFrom) == 0 {
		return nil
	}
	ip := svc.IPs[0]
	// The routers with the route installed.
	var routed []string
	for _, r := range d.ev.Routers {
		for _, rt := range r.Routes {
			if strings.HasPrefix(rt.Prefix, ip+"/") && rt.Installed {
				routed = append(routed, r.Node)
			}
		}
	}
	hp := failFrom[0]
	clientAddrs := d.ev.nodeAddrs(hp.From)
	evl := []string{fmt.Sprintf("probe from %s: GET %s: %s (%s)", hp.From, hp.URL, hp.Result, hp.Error)}
	for _, o := range okFrom {
		evl = append(evl, fmt.Sprintf("probe from %s: GET %s: HTTP %d", o.From, o.URL, o.Status))
	}
	evl = append(evl, d.routeLines(ip)...)
	if len(routed) == 0 {
		return &Finding{
			Cause: CauseRouteNotHeard, Where: s.Node,
			Summary:  fmt.Sprintf("the speaker on %s announces %s, but no router has it installed", s.Node, ip),
			Fix:      []string{"check the sessions (onp bgp) and the router's BGP table (onp ssh ROUTER -- show ip bgp)"},
			Evidence: evl,
		}
	}
	ni := d.ev.net(s.Node)
	if ni != nil && len(clientAddrs) > 0 {
		ca := clientAddrs[0]
		r, ok := ni.routeTo(ca)
		// The router the client's traffic comes through: one with the
		// route that is on the client's network.
		var back string
		for _, rn := range routed {
			for _, sh := range sharedAddrs(d.ev, s.Node, rn) {
				back = sh[1]
			}
		}
		if !ok || (back != "" && r.Gateway != "" && !sameAddr(r.Gateway, back) && r.Dev != "") {
			got := "no route"
			if ok {
				got = "the route " + r.String()
			}
			evl = append(evl, fmt.Sprintf("%s kernel: %s to %s (%s), the client's address", s.Node, got, ca, hp.From))
			fix := fmt.Sprintf("on %s: add a route to %s via %s (the lab file's routes: for %s, or now: onp exec %s -- ip route add %s via %s)",
				s.Node, clientNet(d.ev, hp.From), back, s.Node, s.Node, clientNet(d.ev, hp.From), back)
			return &Finding{
				Cause: CauseReturnPath, Where: s.Node,
				Summary:  fmt.Sprintf("%s routes %s to %s, but %s has %s back to %s (%s): the answers never reach the client", strings.Join(routed, ", "), ip, s.Node, s.Node, got, ca, hp.From),
				Fix:      []string{fix},
				Evidence: evl,
			}
		}
	}
	return &Finding{
		Cause: CauseServiceNotReach, Where: s.Node,
		Summary:  fmt.Sprintf("%s is routed to %s, but %s gets no answer from it", ip, s.Node, hp.From),
		Fix:      []string{fmt.Sprintf("check the Service's pods and the node's forwarding (onp get pods -A; onp exec %s -- nft list ruleset)", s.Node)},
		Evidence: evl,
	}
}

// clientNet is the network of a client node ("192.168.100.0/24").
func clientNet(ev *Evidence, node string) string {
	n := ev.node(node)
	if n == nil {
		return ""
	}
	for _, ifc := range n.Interfaces {
		if ifc.Address.IsValid() {
			return ifc.Address.Masked().String()
		}
	}
	return ""
}
