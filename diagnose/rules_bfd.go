package diagnose

import (
	"fmt"
	"strings"

	"github.com/onp-lab/onp/metallb/speaker"
)

// ruleBFD: BFD is configured for the session on at least one end and is
// not Up. A BFD session that never came Up leaves BGP Established (FRR and
// the speaker only reset BGP when BFD goes from Up to Down), so this is the
// fault nobody notices until a link fails slowly: the session has no fast
// failure detection.
func (d *diag) ruleBFD(p *pair) *Finding {
	if p.sess == nil || p.nb == nil {
		return nil // a session with one end missing has other troubles
	}
	sb := p.sess.BFD
	var rb string // the router's BFD status for the neighbor; "" when not configured
	if p.nb.PeerBFDInfo != nil {
		rb = p.nb.PeerBFDInfo.Status
		if rb == "" {
			rb = "Unknown"
		}
	}
	speakerUp, routerUp := sb != nil && sb.State == "Up", strings.EqualFold(rb, "Up")
	if sb == nil && rb == "" || (sb == nil || speakerUp) && (rb == "" || routerUp) {
		return nil
	}
	evl := nonEmpty(d.bfdSpeakerLine(p, sb), d.bfdRouterLine(p, rb))
	evl = append(evl, nonEmpty(d.speakerLine(p), d.routerLine(p))...)
	bgpUp := "BGP stays Established without it: a BFD session that never came Up does not reset BGP, so the session loses its fast failure detection (a dead link is noticed only when the hold timer, " + holdText(p) + ", expires)"
	if !p.established() {
		bgpUp = "BGP is not Established either: when BFD goes Down both ends reset the BGP session, and the speaker keeps it down until BFD is Up again"
	}
	switch {
	case sb != nil && rb == "":
		return &Finding{
			Cause: CauseBFDOneSide, Where: p.routerNode,
			Summary: fmt.Sprintf("the speaker on %s runs BFD for %s (BFDProfile %s) but %s has no BFD for neighbor %s, so the speaker's BFD session stays %s; %s",
				p.speakerNode, p.peerRef(), sb.Profile, p.routerNode, p.nbAddr, sb.State, bgpUp),
			Fix: []string{
				routerFix(p.rtr, rfix{"set", fmt.Sprintf("neighbor %s bfd", p.nbAddr), fmt.Sprintf("neighbor %s bfd", p.nbAddr)}),
				"or " + p.speakerFix("remove spec.bfdProfile"),
			},
			Evidence: evl,
		}
	case sb == nil:
		return &Finding{
			Cause: CauseBFDOneSide, Where: p.speakerNode,
			Summary: fmt.Sprintf("%s runs BFD for neighbor %s but %s has no bfdProfile, so the speaker never answers and %s's BFD session stays %s; %s",
				p.routerNode, p.nbAddr, p.peerRef(), p.routerNode, rb, bgpUp),
			Fix: []string{
				p.speakerFix("set spec.bfdProfile to a BFDProfile (create one in the MetalLB namespace)"),
				"or " + routerFix(p.rtr, rfix{"delete", fmt.Sprintf("neighbor %s bfd", p.nbAddr), fmt.Sprintf("no neighbor %s bfd", p.nbAddr)}),
			},
			Evidence: evl,
		}
	}
	// Both ends run BFD.
	for _, n := range []string{p.speakerNode, p.routerNode} {
		ni := d.ev.net(n)
		if ni == nil {
			continue
		}
		for _, r := range ni.Firewall {
			if r.PortBFD == "" || r.Verdict != "drop" && r.Verdict != "reject" {
				continue
			}
			evl = append([]string{fmt.Sprintf("%s nftables: %s", n, r)}, evl...)
			return &Finding{
				Cause: CauseBFDDropped, Where: n,
				Summary: fmt.Sprintf("nftables on %s %ss BFD's UDP port (table %s %s, chain %s), so the BFD session between %s and %s cannot come Up; %s",
					n, r.Verdict, r.Family, r.Table, r.Chain, p.speakerNode, p.routerNode, bgpUp),
				Fix: []string{fmt.Sprintf("on %s: remove the rule (onp exec %s -- nft list ruleset; nft delete rule %s %s %s handle N), or delete table %s %s if it only holds it",
					n, n, r.Family, r.Table, r.Chain, r.Family, r.Table)},
				Evidence: evl,
			}
		}
	}
	return &Finding{
		Cause: CauseBFDDown, Where: p.speakerNode,
		Summary: fmt.Sprintf("both ends run BFD for the session between %s and %s, but it is not Up (speaker %s, %s %s); %s",
			p.speakerNode, p.routerNode, sb.State, p.routerNode, rb, bgpUp),
		Fix:      []string{fmt.Sprintf("check that UDP 3784 passes both ways between %s and %s (onp trace --lab %s shows the BFD packets), and that both ends use single-hop BFD", p.speakerAddr, p.routerAddr, d.ev.Lab)},
		Evidence: evl,
	}
}

// bfdSpeakerLine is the speaker's BFD session, or that it has none.
func (d *diag) bfdSpeakerLine(p *pair, b *speaker.BFDStatus) string {
	if p.sess == nil {
		return ""
	}
	if b == nil {
		return fmt.Sprintf("speaker %s: %s has no bfdProfile: no BFD session", p.speakerNode, p.peerRef())
	}
	line := fmt.Sprintf("speaker %s: BFD with %s (profile %s): %s", p.speakerNode, p.peerAddr, b.Profile, b.State)
	if b.Diag != "" && b.Diag != "No Diagnostic" {
		line += ", diagnostic " + b.Diag
	}
	if b.RemoteDiscriminator == 0 {
		line += "; no BFD packet from the peer yet (its discriminator is unknown)"
	} else {
		line += fmt.Sprintf("; the peer says %s", b.RemoteState)
	}
	return line
}

// bfdRouterLine is the router's BFD status for the neighbor.
func (d *diag) bfdRouterLine(p *pair, status string) string {
	if p.nb == nil {
		return ""
	}
	if status == "" {
		return fmt.Sprintf("%s (%s) neighbor %s: no BFD (no \"neighbor %s bfd\")", p.routerNode, routerSoftware(p.rtr), p.nbAddr, p.nbAddr)
	}
	bi := p.nb.PeerBFDInfo
	return fmt.Sprintf("%s (%s) neighbor %s: BFD %s (%s, detect multiplier %d, rx %d ms, tx %d ms)", p.routerNode, routerSoftware(p.rtr), p.nbAddr, status, bi.Type, bi.DetectMultiplier, bi.RxMinInterval, bi.TxMinInterval)
}
