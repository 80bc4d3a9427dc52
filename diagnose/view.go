package diagnose

import (
	"fmt"
	"strings"
)

// view describes a session's two ends.
func (d *diag) view(p *pair) SessionView {
	v := SessionView{Name: p.name(), Speaker: p.speakerNode, Router: p.routerNode, SpeakerState: p.speakerState(), RouterState: p.routerState()}
	switch {
	case p.sess != nil:
		v.Lines = append(v.Lines, d.speakerLine(p))
	case p.peerName != "":
		v.Lines = append(v.Lines, fmt.Sprintf("speaker %s: %s runs no session on this node", p.speakerNode, p.peerRef()))
	case p.speakerNode != "":
		v.Lines = append(v.Lines, fmt.Sprintf("speaker %s: no BGPPeer for %s", p.speakerNode, orDash(p.routerAddr)))
	}
	switch {
	case p.nb != nil:
		v.Lines = append(v.Lines, d.routerLine(p))
	case p.rtr != nil:
		v.Lines = append(v.Lines, fmt.Sprintf("%s (%s): no neighbor for %s", p.routerNode, routerSoftware(p.rtr), p.speakerNode))
	default:
		v.Lines = append(v.Lines, fmt.Sprintf("%s: no router of the lab has this address", orDash(p.peerAddr)))
	}
	return v
}

// healthyEvidence says why a lab without findings is healthy.
func (d *diag) healthyEvidence(views []SessionView) []string {
	var out []string
	for _, v := range views {
		out = append(out, v.Lines...)
	}
	for _, s := range d.ev.Speakers {
		if s.Status == nil {
			continue
		}
		for _, svc := range s.Status.Services {
			if svc.Announced {
				out = append(out, fmt.Sprintf("speaker %s: Service %s announced: %s", s.Node, svc.Key(), strings.Join(svc.Prefixes, ", ")))
				for _, ip := range svc.IPs {
					out = append(out, d.routeLines(ip)...)
				}
			}
		}
	}
	for _, hp := range d.ev.DataPath {
		if hp.Result == ResultOK {
			out = append(out, fmt.Sprintf("probe from %s: GET %s: HTTP %d in %s", hp.From, hp.URL, hp.Status, humanDur(hp.Took.D())))
		}
	}
	fw := 0
	for _, ni := range d.ev.Net {
		for _, r := range ni.Firewall {
			if r.Port179 != "" {
				fw++
			}
		}
	}
	if fw == 0 && len(d.ev.Net) > 0 {
		out = append(out, "nftables: no rule on any node touches TCP port 179")
	}
	if c := d.ev.Capture; c != nil && c.Error == "" {
		n := 0
		for _, e := range c.Events {
			if e.BGP != nil && e.BGP.Notification != nil {
				n++
			}
		}
		out = append(out, d.cap(fmt.Sprintf("%s; %d NOTIFICATION", c.Summary, n)))
	}
	if len(views) == 0 {
		out = append(out, "no BGP session in the lab (no BGPPeer and no router neighbor between a cluster node and a router)")
	}
	return out
}
