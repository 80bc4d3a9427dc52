package diagnose

import (
	"fmt"
	"strings"
	"time"

	"github.com/onp-lab/onp/metallb/speaker"
)

// ruleSelectorPeer: the router has a neighbor for the node, the BGPPeer
// for the router exists, but its nodeSelectors leave this node out.
func (d *diag) ruleSelectorPeer(p *pair) *Finding {
	if p.sess != nil || p.spk == nil || p.spk.Status == nil {
		return nil
	}
	for _, ps := range p.spk.Status.Peers {
		if ps.Session || ps.Reason != speaker.ReasonFilteredByNodeSelector {
			continue
		}
		if p.rtr != nil && !sameAddr(ps.Address, p.routerAddr) && ev(d).nodeByAddr(ps.Address) != p.routerNode {
			continue
		}
		var sel []string
		if pc := p.spk.peerConfig(ps.Name); pc != nil {
			sel = pc.NodeSelectors
		}
		pp := *p
		pp.peerName = ps.Name
		f := &Finding{
			Cause: CauseSelectorExcludes, Where: p.speakerNode,
			Summary: fmt.Sprintf("%s (%s) has nodeSelectors that do not select node %s, so %s runs no session with %s", pp.peerRef(), ps.Address, p.speakerNode, p.speakerNode, p.routerNode),
			Fix: []string{
				pp.speakerFix(fmt.Sprintf("change spec.nodeSelectors to select %s (its labels include %s), or remove them", p.speakerNode, labelsText(p.spk.NodeLabels, sel...))),
			},
			Evidence: nonEmpty(
				fmt.Sprintf("speaker %s: %s runs no session on this node: %s", p.speakerNode, pp.peerRef(), ps.Reason),
				fmt.Sprintf("%s: spec.nodeSelectors %s; node %s has %s", pp.peerRef(), strings.Join(sel, "; "), p.speakerNode, labelsText(p.spk.NodeLabels, sel...)),
				d.routerLine(p),
			),
		}
		return f
	}
	return nil
}

// ev is a small helper so that rules read as English.
func ev(d *diag) *Evidence { return d.ev }

// labelsText renders a node's labels: those named in the selectors and
// the hostname, or all of them when no selector is given.
func labelsText(m map[string]string, selectors ...string) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range m {
		relevant := len(selectors) == 0 || k == "kubernetes.io/hostname"
		for _, s := range selectors {
			relevant = relevant || strings.Contains(s, k)
		}
		if relevant {
			parts = append(parts, k+"="+v)
		}
	}
	sortStrings(parts)
	return strings.Join(parts, ",")
}

// ruleNoBGPPeer: the router has a neighbor for the node but no BGPPeer
// points at the router.
func (d *diag) ruleNoBGPPeer(p *pair) *Finding {
	if p.sess != nil || p.peerName != "" || p.spk == nil || p.spk.Status == nil || p.nb == nil {
		return nil
	}
	for _, ps := range p.spk.Status.Peers {
		if ps.Reason == speaker.ReasonFilteredByNodeSelector {
			return nil
		}
	}
	if p.spk.Status.State != speaker.StateRunning || !p.spk.Status.MetalLB.Present {
		return nil
	}
	return &Finding{
		Cause: CauseNoBGPPeer, Where: p.speakerNode,
		Summary: fmt.Sprintf("%s has a neighbor for %s (%s), but no BGPPeer points the speaker at %s", p.routerNode, p.speakerNode, p.nbAddr, p.routerAddr),
		Fix:     []string{fmt.Sprintf("on the cluster: create a BGPPeer in %s with peerAddress: %s, peerASN: %d, myASN: %d (onp apply -f FILE)", p.namespace(), p.routerAddr, p.routerAS(), p.routerRemoteAS())},
		Evidence: nonEmpty(
			fmt.Sprintf("speaker %s: %d BGPPeers, none with peerAddress %s", p.speakerNode, len(p.spk.Status.Peers), p.routerAddr),
			d.routerLine(p),
		),
	}
}

// ruleWrongPeerAddress: the BGPPeer's address belongs to no router, while a
// router expects this node.
func (d *diag) ruleWrongPeerAddress(p *pair) *Finding {
	if !p.wrongPeerAddr || p.peerName == "" {
		return nil
	}
	target := p.routerAddr
	if target == "" {
		target = "the router's address"
	}
	evl := nonEmpty(
		fmt.Sprintf("speaker %s: %s has peerAddress %s, an address no node of the lab has; the router %s is at %s and has a neighbor for %s (%s)", p.speakerNode, p.peerRef(), p.peerAddr, p.routerNode, target, p.nbAddr, p.speakerNode),
		d.speakerLine(p),
		probeLine(d.probe(p.speakerNode, "arp", p.peerAddr)),
		probeLine(d.probe(p.speakerNode, "ping", p.peerAddr)),
		d.routerLine(p),
		probeLine(d.probe(p.routerNode, "tcp", p.nbAddr)),
	)
	return &Finding{
		Cause: CauseWrongPeerAddress, Where: p.speakerNode,
		Summary:  fmt.Sprintf("the speaker on %s peers with %s, but the router %s is at %s", p.speakerNode, p.peerAddr, p.routerNode, target),
		Fix:      []string{p.speakerFix(fmt.Sprintf("set spec.peerAddress: %s (was %s)", target, p.peerAddr))},
		Evidence: evl,
	}
}

// ruleNoNeighbor: the speaker peers with the router, which has no neighbor
// for the node — or has one at a wrong address.
func (d *diag) ruleNoNeighbor(p *pair) *Finding {
	if p.rtr == nil || p.nb != nil || p.sess == nil || p.rtr.Error != "" {
		return nil
	}
	ts := d.tcpEvents(p)
	spAddr := p.speakerAddr
	if spAddr == "" {
		spAddr = strings.Join(d.ev.nodeAddrs(p.speakerNode), ", ")
	}
	closed := ""
	if ts.finFrom[p.routerAddr]+ts.rstFrom[p.routerAddr] > 0 && ts.synAckFrom[p.routerAddr] > 0 {
		closed = d.cap(fmt.Sprintf("%s accepts the speaker's TCP connections (%d SYN-ACK) and closes them at once (%d FIN, %d RST) before the OPEN exchange", p.routerNode, ts.synAckFrom[p.routerAddr], ts.finFrom[p.routerAddr], ts.rstFrom[p.routerAddr]))
	}
	common := []string{d.speakerLine(p), d.lastTransition(p), closed}
	if len(p.stray) > 0 {
		var strayLines []string
		for _, a := range p.stray {
			nb := p.rtr.Neighbors[a]
			strayLines = append(strayLines, fmt.Sprintf("%s (%s) neighbor %s: %s, remote AS %d — no node of the lab has this address", p.routerNode, routerSoftware(p.rtr), a, nb.BGPState, nb.RemoteAS))
			strayLines = append(strayLines, probeLine(d.probe(p.routerNode, "arp", a)))
		}
		wrong := p.stray[0]
		ra := p.rtr.Neighbors[wrong].RemoteAS
		evl := nonEmpty(append(append(strayLines, fmt.Sprintf("%s has no neighbor for %s (%s)", p.routerNode, p.speakerNode, spAddr)), common...)...)
		return &Finding{
			Cause: CauseWrongNeighborAddress, Where: p.routerNode,
			Summary: fmt.Sprintf("%s has neighbor %s, but the speaker on %s connects from %s", p.routerNode, wrong, p.speakerNode, spAddr),
			Fix: []string{routerFix(p.rtr,
				rfix{"delete", "neighbor " + wrong, "no neighbor " + wrong},
				rfix{"set", fmt.Sprintf("neighbor %s remote-as %d", spAddr, ra), fmt.Sprintf("neighbor %s remote-as %d", spAddr, ra)},
				rfix{"set", fmt.Sprintf("neighbor %s address-family ipv4-unicast", spAddr), fmt.Sprintf("address-family ipv4 unicast / neighbor %s activate", spAddr)},
			)},
			Evidence: evl,
		}
	}
	ra := p.myASN()
	evl := nonEmpty(append([]string{fmt.Sprintf("%s (%s): %d neighbors, none for %s (%s)", p.routerNode, routerSoftware(p.rtr), len(p.rtr.Neighbors), p.speakerNode, spAddr)}, common...)...)
	return &Finding{
		Cause: CauseNoNeighbor, Where: p.routerNode,
		Summary: fmt.Sprintf("%s has no BGP neighbor for %s (%s): it accepts the speaker's TCP connection and closes it", p.routerNode, p.speakerNode, spAddr),
		Fix: []string{routerFix(p.rtr,
			rfix{"set", fmt.Sprintf("neighbor %s remote-as %d", spAddr, ra), fmt.Sprintf("neighbor %s remote-as %d", spAddr, ra)},
			rfix{"set", fmt.Sprintf("neighbor %s address-family ipv4-unicast", spAddr), fmt.Sprintf("address-family ipv4 unicast / neighbor %s activate", spAddr)},
		)},
		Evidence: evl,
	}
}

// lastTransition is the speaker's most recent FSM transition with its
// reason.
func (d *diag) lastTransition(p *pair) string {
	if p.sess == nil || len(p.sess.Transitions) == 0 {
		return ""
	}
	for i := len(p.sess.Transitions) - 1; i >= 0; i-- {
		t := p.sess.Transitions[i]
		if t.Reason != "" && t.To == "Idle" {
			return fmt.Sprintf("speaker %s: %s → %s (%s), %s", p.speakerNode, t.From, t.To, t.Reason, ago(d.now, t.Time))
		}
	}
	t := p.sess.Transitions[len(p.sess.Transitions)-1]
	return fmt.Sprintf("speaker %s: %s → %s (%s), %s", p.speakerNode, t.From, t.To, t.Reason, ago(d.now, t.Time))
}

// ruleAdminShutdown: the router's neighbor (or its whole BGP) is shut down.
func (d *diag) ruleAdminShutdown(p *pair) *Finding {
	if p.nb == nil {
		return nil
	}
	cfgShut := p.nbCfg != nil && p.nbCfg.Shutdown
	globalShut := p.rtr.Config != nil && p.rtr.Config.Shutdown
	if !p.nb.AdminShutDown && !strings.Contains(p.nb.SummaryState, "Admin") && !cfgShut && !globalShut {
		return nil
	}
	evl := nonEmpty(d.routerLine(p))
	if p.nb.AdminShutDown {
		evl = append(evl, fmt.Sprintf("%s (%s): neighbor %s has adminShutDown true", p.routerNode, routerSoftware(p.rtr), p.nbAddr))
	}
	if cfgShut {
		evl = append(evl, fmt.Sprintf("%s running config: neighbor %s shutdown", p.routerNode, p.nbAddr))
	}
	if globalShut {
		evl = append(evl, fmt.Sprintf("%s running config: bgp shutdown (the whole BGP instance)", p.routerNode))
	}
	if n := d.notification(p, 6, 2); n != nil {
		evl = append(evl, d.notificationLine(p, n))
	}
	evl = append(evl, nonEmpty(d.speakerLine(p))...)
	fix := routerFix(p.rtr, rfix{"delete", fmt.Sprintf("neighbor %s shutdown", p.nbAddr), fmt.Sprintf("no neighbor %s shutdown", p.nbAddr)})
	if globalShut && !cfgShut && !p.nb.AdminShutDown {
		fix = routerFix(p.rtr, rfix{"delete", "parameters shutdown", "no bgp shutdown"})
	}
	return &Finding{
		Cause: CauseAdminShutdown, Where: p.routerNode,
		Summary:  fmt.Sprintf("%s has its neighbor %s administratively shut down: it sends Cease/Administrative Shutdown and refuses the session", p.routerNode, p.nbAddr),
		Fix:      []string{fix},
		Evidence: evl,
	}
}

// ruleEBGPMultiHop: an eBGP BGPPeer whose address is not on a network of
// the node, without ebgpMultiHop: the speaker's SYNs leave with TTL 1 and
// die at the first router.
func (d *diag) ruleEBGPMultiHop(p *pair) *Finding {
	if p.sess == nil || p.peerAddr == "" {
		return nil
	}
	my, peer := p.myASN(), p.peerASN()
	if my == 0 || peer == 0 || my == peer || p.sess.EBGPMultiHop || (p.peerCfg != nil && p.peerCfg.EBGPMultiHop) {
		return nil
	}
	if d.onLink(p.speakerNode, p.peerAddr) {
		return nil
	}
	via := ""
	if ni := d.ev.net(p.speakerNode); ni != nil {
		if r, ok := ni.routeTo(p.peerAddr); ok {
			via = fmt.Sprintf("speaker %s reaches %s by the route %s: at least one router in between", p.speakerNode, p.peerAddr, r)
		} else {
			via = fmt.Sprintf("speaker %s has no route to %s", p.speakerNode, p.peerAddr)
		}
	}
	ts := d.tcpEvents(p)
	var capLine string
	for src, ttl := range ts.ttlFrom {
		if d.ev.nodeByAddr(src) == p.speakerNode {
			capLine = d.cap(fmt.Sprintf("the speaker's SYNs to %s:179 leave %s with TTL %d (%d seen), none answered", p.peerAddr, src, ttl, ts.synFrom[src]))
		}
	}
	return &Finding{
		Cause: CauseEBGPMultiHop, Where: p.speakerNode,
		Summary: fmt.Sprintf("%s is an eBGP peer (AS %d → %d) more than one hop away from %s, and the BGPPeer lacks ebgpMultiHop: the speaker sends with TTL 1, so its packets die at the first router", p.peerAddr, my, peer, p.speakerNode),
		Fix: nonEmpty(
			p.speakerFix("set spec.ebgpMultiHop: true"),
			routerFixMultihop(p),
		),
		Evidence: nonEmpty(
			fmt.Sprintf("speaker %s: %s myASN %d, peerASN %d (eBGP), ebgpMultiHop false", p.speakerNode, p.peerRef(), my, peer),
			via,
			d.speakerLine(p),
			capLine,
			probeLine(d.probe(p.speakerNode, "tcp", p.peerAddr)),
		),
	}
}

func routerFixMultihop(p *pair) string {
	if p.rtr == nil || p.nbAddr == "" {
		return ""
	}
	if p.nbCfg != nil && (p.nbCfg.EBGPMultihop > 1 || p.nbCfg.DisableConnectedCheck) {
		return ""
	}
	return "and on the router: " + routerFix(p.rtr, rfix{"set", fmt.Sprintf("neighbor %s ebgp-multihop 2", p.nbAddr), fmt.Sprintf("neighbor %s ebgp-multihop 2", p.nbAddr)})
}

// onLink reports whether addr is on one of the node's networks.
func (d *diag) onLink(node, addr string) bool {
	n := d.ev.node(node)
	if n == nil {
		return false
	}
	for _, ifc := range n.Interfaces {
		if ifc.Address.IsValid() && ifc.Address.Masked().Contains(mustAddr(addr)) {
			return true
		}
	}
	return false
}

// ruleMD5: the two ends' TCP-MD5 passwords differ, or only one end has one.
func (d *diag) ruleMD5(p *pair) *Finding {
	if p.peerCfg == nil || p.nb == nil || p.rtr.Config == nil {
		return nil
	}
	sp := p.peerCfg.Password
	var rp Secret
	if p.nbCfg != nil {
		rp = p.nbCfg.Password
	}
	if !sp.Set && !rp.Set {
		return nil
	}
	cause := ""
	switch {
	case sp.Set && rp.Set && sp.Fingerprint != "" && rp.Fingerprint != "" && sp.Fingerprint != rp.Fingerprint:
		cause = CauseMD5Mismatch
	case sp.Set != rp.Set:
		cause = CauseMD5OneSide
	default:
		return nil
	}
	ts := d.tcpEvents(p)
	evl := nonEmpty(
		fmt.Sprintf("speaker %s: %s has %s", p.speakerNode, p.peerRef(), describeSecret(sp)),
		fmt.Sprintf("%s running config: neighbor %s has %s", p.routerNode, p.nbAddr, describeSecret(rp)),
		ts.line(p.speakerAddr, "speaker "+p.speakerNode),
		ts.line(p.routerAddr, p.routerNode),
	)
	if ts.synAckFrom[p.speakerAddr]+ts.synAckFrom[p.routerAddr] == 0 && ts.synFrom[p.speakerAddr]+ts.synFrom[p.routerAddr] > 0 {
		evl = append(evl, d.cap("no SYN-ACK: each kernel drops the other's SYNs silently"))
	}
	for _, n := range []string{p.routerNode, p.speakerNode} {
		if ni := d.ev.net(n); ni != nil && len(ni.MD5) > 0 {
			var parts []string
			for _, k := range []string{"TCPMD5NotFound", "TCPMD5Unexpected", "TCPMD5Failure"} {
				if v := ni.MD5[k]; v > 0 {
					parts = append(parts, fmt.Sprintf("%s %d", k, v))
				}
			}
			if len(parts) > 0 {
				evl = append(evl, fmt.Sprintf("%s kernel: %s (segments dropped for a missing, unexpected or wrong signature)", n, strings.Join(parts, ", ")))
			}
		}
	}
	evl = append(evl, nonEmpty(d.speakerLine(p), d.routerLine(p))...)
	f := &Finding{Cause: cause, Evidence: evl}
	if cause == CauseMD5Mismatch {
		f.Summary = fmt.Sprintf("the speaker on %s and %s use different TCP-MD5 passwords, so neither accepts the other's TCP segments", p.speakerNode, p.routerNode)
		f.Fix = []string{
			routerFix(p.rtr, rfix{"set", fmt.Sprintf("neighbor %s password '<the password of %s>'", p.nbAddr, p.peerRef()), fmt.Sprintf("neighbor %s password <the password of %s>", p.nbAddr, p.peerRef())}),
			"or " + p.speakerFix("set spec.password (or the passwordSecret) to the router's password"),
		}
	} else if sp.Set {
		f.Where = p.speakerNode
		f.Summary = fmt.Sprintf("only the speaker on %s has a TCP-MD5 password (%s); %s has none for neighbor %s, so the kernels drop each other's SYNs", p.speakerNode, sp.From, p.routerNode, p.nbAddr)
		f.Fix = []string{
			routerFix(p.rtr, rfix{"set", fmt.Sprintf("neighbor %s password '<the password of %s>'", p.nbAddr, p.peerRef()), fmt.Sprintf("neighbor %s password <the password of %s>", p.nbAddr, p.peerRef())}),
			"or " + p.speakerFix("remove spec.password / spec.passwordSecret"),
		}
	} else {
		f.Where = p.routerNode
		f.Summary = fmt.Sprintf("only %s has a TCP-MD5 password for neighbor %s; %s has none, so the kernels drop each other's SYNs", p.routerNode, p.nbAddr, p.peerRef())
		f.Fix = []string{
			routerFix(p.rtr, rfix{"delete", fmt.Sprintf("neighbor %s password", p.nbAddr), fmt.Sprintf("no neighbor %s password", p.nbAddr)}),
			"or " + p.speakerFix("set spec.password to the router's password"),
		}
	}
	return f
}

// ruleFirewall: an nftables rule on either end drops or rejects TCP 179.
func (d *diag) ruleFirewall(p *pair) *Finding {
	type hit struct {
		node string
		r    FirewallRule
	}
	var drops, rejects []hit
	for _, n := range []string{p.speakerNode, p.routerNode} {
		ni := d.ev.net(n)
		if ni == nil {
			continue
		}
		for _, r := range ni.Firewall {
			if r.Port179 == "" {
				continue
			}
			switch r.Verdict {
			case "drop":
				drops = append(drops, hit{n, r})
			case "reject":
				rejects = append(rejects, hit{n, r})
			}
		}
	}
	if len(drops) == 0 && len(rejects) == 0 {
		return nil
	}
	cause, hits, verb := CauseTCPDropped, drops, "drops"
	if len(drops) == 0 {
		cause, hits, verb = CauseTCPRejected, rejects, "rejects"
	}
	where := hits[0].node
	var evl []string
	for _, h := range hits {
		evl = append(evl, fmt.Sprintf("%s nftables: %s", h.node, h.r))
	}
	ts := d.tcpEvents(p)
	evl = append(evl, nonEmpty(
		probeLine(d.probe(p.speakerNode, "tcp", p.routerAddr)),
		probeLine(d.probe(p.routerNode, "tcp", p.speakerAddr)),
		probeLine(d.probe(p.speakerNode, "ping", p.routerAddr)),
		d.speakerLine(p),
		d.routerLine(p),
	)...)
	if n := ts.synFrom[p.speakerAddr] + ts.synFrom[p.routerAddr]; n > 0 {
		evl = append(evl, d.cap(fmt.Sprintf("%d SYN, %d SYN-ACK, %d RST between the ends", n, ts.synAckFrom[p.speakerAddr]+ts.synAckFrom[p.routerAddr], ts.rstFrom[p.speakerAddr]+ts.rstFrom[p.routerAddr])))
	}
	if p.established() {
		evl = append(evl, fmt.Sprintf("the session is still Established: the current connection has not noticed yet (it fails when the hold timer, %s, expires or the next KEEPALIVE is refused)", holdText(p)))
	}
	tbl := hits[0].r
	return &Finding{
		Cause: cause, Where: where,
		Summary: fmt.Sprintf("nftables on %s %s TCP port 179 (table %s %s, chain %s), so BGP's TCP connection between %s and %s cannot be made", where, verb, tbl.Family, tbl.Table, tbl.Chain, p.speakerNode, p.routerNode),
		Fix: []string{fmt.Sprintf("on %s: remove the rule (onp exec %s -- nft list ruleset; nft delete rule %s %s %s handle N), or delete table %s %s if it only holds it",
			where, where, tbl.Family, tbl.Table, tbl.Chain, tbl.Family, tbl.Table)},
		Evidence: evl,
	}
}

func holdText(p *pair) string {
	if p.sess != nil && p.sess.NegotiatedHoldTime.Duration > 0 {
		return p.sess.NegotiatedHoldTime.Duration.String()
	}
	if p.nb != nil && p.nb.BGPTimerHoldTimeMsecs > 0 {
		return (time.Duration(p.nb.BGPTimerHoldTimeMsecs) * time.Millisecond).String()
	}
	return "the hold time"
}

// ruleASMismatch: what one end expects of the other's AS is not what the
// other end is.
func (d *diag) ruleASMismatch(p *pair) *Finding {
	if p.nb == nil || p.peerName == "" {
		return nil
	}
	my, peer := p.myASN(), p.peerASN()
	rl, rr := p.routerAS(), p.routerRemoteAS()
	if my == 0 || rl == 0 || rr == 0 {
		return nil
	}
	dynamic := p.sess != nil && p.sess.DynamicASN != ""
	routerWrong := rr != my
	speakerWrong := !dynamic && peer != 0 && peer != rl
	if !routerWrong && !speakerWrong {
		return nil
	}
	var evl []string
	evl = append(evl, fmt.Sprintf("speaker %s: %s myASN %d, peerASN %d", p.speakerNode, p.peerRef(), my, peer))
	evl = append(evl, fmt.Sprintf("%s (%s): router bgp %d, neighbor %s remote-as %d", p.routerNode, routerSoftware(p.rtr), rl, p.nbAddr, rr))
	if n := d.notification(p, 2, 2); n != nil {
		evl = append(evl, d.notificationLine(p, n))
	}
	if l := d.routerNotification(p, "0202"); l != "" {
		evl = append(evl, l)
	}
	evl = append(evl, d.captureNotifications(p, 2, 2)...)
	evl = append(evl, nonEmpty(d.speakerLine(p), d.routerLine(p))...)
	f := &Finding{Cause: CauseASMismatch, Evidence: evl}
	// The odd one out of the four numbers is most likely the mistake.
	vals := map[string]uint32{"my": my, "peer": peer, "local": rl, "remote": rr}
	odd := oddOneOut(vals)
	fixRouter := routerFix(p.rtr, rfix{"set", fmt.Sprintf("neighbor %s remote-as %d", p.nbAddr, my), fmt.Sprintf("neighbor %s remote-as %d", p.nbAddr, my)})
	fixPeerASN := p.speakerFix(fmt.Sprintf("set spec.peerASN: %d (was %d)", rl, peer))
	fixMyASN := p.speakerFix(fmt.Sprintf("set spec.myASN: %d (was %d)", rr, my))
	switch {
	case routerWrong && speakerWrong:
		f.Summary = fmt.Sprintf("both ends expect the other in the wrong AS: %s expects the speaker in AS %d but it is AS %d; the speaker expects %s in AS %d but it is AS %d", p.routerNode, rr, my, p.routerNode, peer, rl)
		f.Fix = []string{fixRouter, "and " + fixPeerASN}
	case routerWrong && odd == "my":
		f.Where = p.speakerNode
		f.Summary = fmt.Sprintf("the speaker on %s is AS %d (%s myASN), but %s expects it in AS %d (neighbor %s remote-as %d)", p.speakerNode, my, p.peerRef(), p.routerNode, rr, p.nbAddr, rr)
		f.Fix = []string{fixMyASN, "or, if AS " + fmt.Sprint(my) + " is meant: " + fixRouter}
	case routerWrong:
		f.Where = p.routerNode
		f.Summary = fmt.Sprintf("%s expects the speaker in AS %d (neighbor %s remote-as %d), but the speaker on %s is AS %d (%s myASN)", p.routerNode, rr, p.nbAddr, rr, p.speakerNode, my, p.peerRef())
		f.Fix = []string{fixRouter, "or, if AS " + fmt.Sprint(rr) + " is meant: " + fixMyASN}
	default:
		f.Where = p.speakerNode
		f.Summary = fmt.Sprintf("the speaker on %s expects %s in AS %d (%s peerASN), but %s is AS %d", p.speakerNode, p.routerNode, peer, p.peerRef(), p.routerNode, rl)
		f.Fix = []string{fixPeerASN}
	}
	return f
}

// oddOneOut returns the key whose value differs from all the others, which
// agree; "" when there is no such single key.
func oddOneOut(vals map[string]uint32) string {
	for k, v := range vals {
		var others []uint32
		for k2, v2 := range vals {
			if k2 != k && v2 != 0 {
				others = append(others, v2)
			}
		}
		if len(others) < 2 {
			continue
		}
		same := true
		for _, o := range others {
			if o != others[0] {
				same = false
			}
		}
		if same && v != others[0] {
			return k
		}
	}
	return ""
}

// ruleRouterID: on an iBGP session both ends have the same BGP identifier.
func (d *diag) ruleRouterID(p *pair) *Finding {
	if p.nb == nil || p.sess == nil {
		return nil
	}
	srid := p.sess.RouterID
	if srid == "" && p.peerCfg != nil {
		srid = p.peerCfg.RouterID
	}
	rrid := p.nb.LocalRouterID
	if rrid == "" {
		rrid = p.rtr.RouterID
	}
	notif := d.notification(p, 2, 3)
	ibgp := p.myASN() != 0 && p.myASN() == p.routerAS()
	if srid == "" || rrid == "" || !sameAddr(srid, rrid) || (!ibgp && notif == nil) {
		return nil
	}
	evl := []string{
		fmt.Sprintf("speaker %s: BGP identifier (router-id) %s", p.speakerNode, srid),
		fmt.Sprintf("%s (%s): router-id %s", p.routerNode, routerSoftware(p.rtr), rrid),
	}
	if notif != nil {
		evl = append(evl, d.notificationLine(p, notif))
	}
	if l := d.routerNotification(p, "0203"); l != "" {
		evl = append(evl, l)
	}
	evl = append(evl, d.captureNotifications(p, 2, 3)...)
	evl = append(evl, nonEmpty(d.speakerLine(p))...)
	f := &Finding{Cause: CauseRouterIDClash, Evidence: evl,
		Summary: fmt.Sprintf("the speaker on %s and %s both use BGP identifier %s; on an iBGP session the OPEN is refused with Bad BGP Identifier", p.speakerNode, p.routerNode, rrid)}
	own := p.routerAddr
	if own == "" {
		own = "its own address"
	}
	fixR := routerFix(p.rtr, rfix{"set", "parameters router-id " + own, "bgp router-id " + own})
	fixS := p.speakerFix(fmt.Sprintf("set spec.routerID to an address of %s (e.g. %s)", p.speakerNode, p.speakerAddr))
	if sameAddr(rrid, p.speakerAddr) || !sameAddr(srid, p.routerAddr) {
		f.Where = p.routerNode
		f.Fix = []string{fixR, "or " + fixS}
	} else {
		f.Where = p.speakerNode
		f.Fix = []string{fixS, "or " + fixR}
	}
	return f
}

// ruleHoldTime: one end offers a hold time the other refuses.
func (d *diag) ruleHoldTime(p *pair) *Finding {
	if p.nb == nil {
		return nil
	}
	var hold time.Duration
	if p.sess != nil {
		hold = p.sess.HoldTime.Duration
	}
	notif := d.notification(p, 2, 6)
	var evl []string
	summary, where := "", ""
	var fix []string
	if rc := p.rtr.Config; rc != nil && rc.MinimumHoldTime > 0 && hold > 0 && hold < time.Duration(rc.MinimumHoldTime)*time.Second {
		where = p.routerNode
		summary = fmt.Sprintf("%s refuses hold times below %d s (bgp minimum-holdtime), and the speaker on %s offers %s", p.routerNode, rc.MinimumHoldTime, p.speakerNode, hold)
		evl = append(evl,
			fmt.Sprintf("%s running config: bgp minimum-holdtime %d", p.routerNode, rc.MinimumHoldTime),
			fmt.Sprintf("speaker %s: %s hold time %s", p.speakerNode, p.peerRef(), hold))
		fix = []string{
			routerFix(p.rtr, rfix{"delete", "parameters minimum-holdtime", "no bgp minimum-holdtime"}),
			"or " + p.speakerFix(fmt.Sprintf("set spec.holdTime: %ds or more", rc.MinimumHoldTime)),
		}
	} else if rh := routerHold(p); rh > 0 && rh < 3 {
		where = p.routerNode
		summary = fmt.Sprintf("%s offers a hold time of %d s for neighbor %s; BGP requires 0 or at least 3 s, so the speaker refuses it", p.routerNode, rh, p.nbAddr)
		evl = append(evl, fmt.Sprintf("%s running config: hold time %d s for neighbor %s", p.routerNode, rh, p.nbAddr))
		fix = []string{routerFix(p.rtr, rfix{"set", fmt.Sprintf("neighbor %s timers holdtime 90", p.nbAddr), fmt.Sprintf("neighbor %s timers 30 90", p.nbAddr)})}
	} else if hold > 0 && hold < 3*time.Second {
		where = p.speakerNode
		summary = fmt.Sprintf("the speaker on %s offers a hold time of %s; BGP requires 0 or at least 3 s", p.speakerNode, hold)
		fix = []string{p.speakerFix("set spec.holdTime to 3s or more")}
	} else if notif == nil {
		return nil
	} else {
		summary = fmt.Sprintf("the OPEN exchange between %s and %s fails with Unacceptable Hold Time", p.speakerNode, p.routerNode)
		fix = []string{"make the hold times agree: the speaker's BGPPeer spec.holdTime and the router's timers / minimum-holdtime"}
	}
	if notif != nil {
		evl = append(evl, d.notificationLine(p, notif))
	}
	if l := d.routerNotification(p, "0206"); l != "" {
		evl = append(evl, l)
	}
	evl = append(evl, d.captureNotifications(p, 2, 6)...)
	evl = append(evl, nonEmpty(d.speakerLine(p), d.routerLine(p))...)
	return &Finding{Cause: CauseHoldTime, Where: where, Summary: summary, Fix: fix, Evidence: evl}
}

func routerHold(p *pair) int {
	if p.nbCfg != nil && p.nbCfg.HoldTime > 0 {
		return p.nbCfg.HoldTime
	}
	if p.rtr.Config != nil {
		return p.rtr.Config.HoldTime
	}
	return 0
}

// ruleAFI: the router's neighbor is not activated in IPv4 unicast.
func (d *diag) ruleAFI(p *pair) *Finding {
	if p.nb == nil || p.rtr.Kind != "vyos" && p.rtr.Kind != "frr" {
		return nil
	}
	_, active := p.nb.AddressFamilyInfo["ipv4Unicast"]
	cfgKnown := p.nbCfg != nil
	if cfgKnown && p.nbCfg.IPv4Unicast || !cfgKnown && (active || p.nb.AddressFamilyInfo == nil) {
		return nil
	}
	if active && cfgKnown && p.nbCfg.IPv4Unicast {
		return nil
	}
	evl := []string{}
	fams := "no address family"
	if cfgKnown && len(p.nbCfg.Families) > 0 {
		fams = "only " + strings.Join(p.nbCfg.Families, ", ")
	}
	evl = append(evl, fmt.Sprintf("%s (%s): neighbor %s is activated in %s", p.routerNode, routerSoftware(p.rtr), p.nbAddr, fams))
	if p.rtr.Config != nil && p.rtr.Config.NoDefaultIPv4 {
		why := ""
		if p.rtr.Kind == "vyos" && p.rtr.Version == "1.4" {
			why = " (VyOS 1.4 always renders it: a neighbor needs address-family ipv4-unicast)"
		}
		evl = append(evl, fmt.Sprintf("%s running config: no bgp default ipv4-unicast%s, and no `neighbor %s activate` under address-family ipv4 unicast", p.routerNode, why, p.nbAddr))
	}
	if n := d.notification(p, 2, 7); n != nil {
		evl = append(evl, d.notificationLine(p, n))
	}
	if p.established() && p.sess != nil {
		evl = append(evl, fmt.Sprintf("the session is Established, but %s received %d prefixes while the speaker advertises %d", p.routerNode, p.nb.PfxRcd, p.sess.PrefixesDesired))
	} else {
		ts := d.tcpEvents(p)
		if ts.finFrom[p.routerAddr]+ts.rstFrom[p.routerAddr] > 0 {
			evl = append(evl, d.cap(fmt.Sprintf("%s accepts the speaker's TCP connection and closes it (%d FIN, %d RST) before the OPEN exchange", p.routerNode, ts.finFrom[p.routerAddr], ts.rstFrom[p.routerAddr])))
		}
		evl = append(evl, nonEmpty(d.lastTransition(p), d.speakerLine(p))...)
	}
	evl = append(evl, nonEmpty(d.routerLine(p))...)
	return &Finding{
		Cause: CauseAFINotActivated, Where: p.routerNode,
		Summary: fmt.Sprintf("%s's neighbor %s is not activated for IPv4 unicast, so the speaker's routes are not exchanged", p.routerNode, p.nbAddr),
		Fix: []string{routerFix(p.rtr, rfix{"set", fmt.Sprintf("neighbor %s address-family ipv4-unicast", p.nbAddr),
			fmt.Sprintf("address-family ipv4 unicast / neighbor %s activate", p.nbAddr)})},
		Evidence: evl,
	}
}

// ruleUnreachable: the peer answers neither ping nor ARP.
func (d *diag) ruleUnreachable(p *pair) *Finding {
	if p.established() || p.sess == nil || p.peerAddr == "" {
		return nil
	}
	ping := d.probe(p.speakerNode, "ping", p.peerAddr)
	if ping == nil || ping.Result == ResultOK {
		return nil
	}
	arp := d.probe(p.speakerNode, "arp", p.peerAddr)
	if arp != nil && arp.Result == ResultOK {
		return nil
	}
	return &Finding{
		Cause: CauseUnreachable, Where: p.speakerNode,
		Summary:  fmt.Sprintf("%s does not answer %s at all (no ping, no ARP): a link, an interface or an address is missing", p.peerAddr, p.speakerNode),
		Fix:      []string{fmt.Sprintf("check the links and addresses: onp status; onp exec %s -- ip addr; onp exec %s -- ip addr", p.speakerNode, p.routerNode)},
		Evidence: nonEmpty(probeLine(ping), probeLine(arp), d.speakerLine(p), d.routerLine(p)),
	}
}

// ruleNotification: a NOTIFICATION no specific rule explains.
func (d *diag) ruleNotification(p *pair) *Finding {
	ns := d.recentNotifications(p)
	if len(ns) == 0 {
		return nil
	}
	n := ns[0]
	if n.Code == 6 && (n.Subcode == 6 || n.Subcode == 3 || n.Subcode == 4) {
		return nil
	}
	return &Finding{
		Cause:    CauseNotification,
		Summary:  fmt.Sprintf("the session between %s and %s ends with NOTIFICATION %d/%d %s", p.speakerNode, p.routerNode, n.Code, n.Subcode, n.Name),
		Fix:      []string{"compare both ends' configuration for what the NOTIFICATION names (onp bgp shows both ends)"},
		Evidence: nonEmpty(d.notificationLine(p, n), d.speakerLine(p), d.routerLine(p)),
	}
}

// ruleSessionDown: the session is not Established and nothing explains it.
func (d *diag) ruleSessionDown(p *pair) *Finding {
	if p.established() {
		return nil
	}
	if p.sess == nil && p.nb == nil {
		return nil
	}
	// A session that comes up right now (OpenSent/OpenConfirm, or up on
	// one end for less than a few seconds) is not reported.
	if p.speakerState() == "Established" && p.routerState() == "" && p.rtr == nil {
		return nil
	}
	return &Finding{
		Cause:   CauseSessionDown,
		Summary: fmt.Sprintf("the session between %s and %s is not Established (speaker: %s, router: %s), and no rule explains why", p.speakerNode, orDash(p.routerNode), orDash(p.speakerState()), orDash(p.routerState())),
		Fix:     []string{"watch both ends with onp bgp -w and the wire with onp trace"},
		Evidence: nonEmpty(d.speakerLine(p), d.lastTransition(p), d.routerLine(p),
			probeLine(d.probe(p.speakerNode, "tcp", p.peerAddr)), probeLine(d.probe(p.speakerNode, "ping", p.peerAddr))),
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ruleTCPTimeout: no firewall rule was found, but TCP to port 179 gets no
// answer in either direction while ping works and no TCP-MD5 password is
// configured: something drops TCP 179. Where is told by the wire: the
// probe's own SYN from the node is on the bridge or not, and the router's
// SYN-ACK is or not.
func (d *diag) ruleTCPTimeout(p *pair) *Finding {
	if p.rtr == nil || p.routerAddr == "" || p.speakerAddr == "" {
		return nil
	}
	if p.peerCfg != nil && p.peerCfg.Password.Set || p.nbCfg != nil && p.nbCfg.Password.Set {
		return nil
	}
	out := d.probe(p.speakerNode, "tcp", p.routerAddr)
	back := d.probe(p.routerNode, "tcp", p.speakerAddr)
	ping := d.probe(p.speakerNode, "ping", p.routerAddr)
	if out == nil || out.Result != ResultTimeout || ping == nil || ping.Result != ResultOK || back != nil && back.Result == ResultRefused {
		return nil
	}
	where, how := "", ""
	if d.ev.Capture != nil && d.ev.Capture.Error == "" && out.LocalPort != 0 {
		syn, synAck := false, false
		for _, e := range d.ev.Capture.Events {
			if e.TCP == nil {
				continue
			}
			if int(e.Src.Port()) == out.LocalPort && sameAddr(e.Src.Addr().String(), p.speakerAddr) && strings.Contains(e.TCP.Flags, "S") {
				syn = true
			}
			if int(e.Dst.Port()) == out.LocalPort && e.TCP.Event == "SYN-ACK" {
				synAck = true
			}
		}
		switch {
		case !syn:
			where, how = p.speakerNode, fmt.Sprintf("the probe's SYN from %s never reached the bridge: it is dropped on %s", p.speakerNode, p.speakerNode)
		case !synAck:
			where, how = p.routerNode, fmt.Sprintf("the probe's SYN from %s is on the bridge, no SYN-ACK comes back: %s drops it (or its answer)", p.speakerNode, p.routerNode)
		default:
			where, how = p.speakerNode, fmt.Sprintf("%s answers with a SYN-ACK on the bridge, but the handshake does not complete: %s drops it on the way in", p.routerNode, p.speakerNode)
		}
	}
	f := &Finding{
		Cause: CauseTCPDropped, Where: where,
		Summary:  fmt.Sprintf("TCP port 179 between %s and %s gets no answer while ping works: a firewall drops it, but no nftables rule on either node says so (iptables-legacy, or something in between)", p.speakerNode, p.routerNode),
		Fix:      []string{fmt.Sprintf("look for the filter: onp exec %s -- nft list ruleset; onp exec %s -- iptables -L -n (and the same on %s)", orDash(where), orDash(where), p.routerNode)},
		Evidence: nonEmpty(probeLine(out), probeLine(back), probeLine(ping), d.cap(how), d.speakerLine(p), d.routerLine(p)),
	}
	if p.established() {
		f.Evidence = append(f.Evidence, fmt.Sprintf("the session is still Established: the current connection has not noticed yet (it fails when the hold timer, %s, expires)", holdText(p)))
	}
	if where == "" {
		f.Fix = []string{fmt.Sprintf("look for the filter on both nodes: onp exec %s -- nft list ruleset; onp exec %s -- nft list ruleset (and iptables -L -n)", p.speakerNode, p.routerNode)}
	}
	return f
}
