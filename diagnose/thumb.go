package diagnose

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// lore is the expert's rule of thumb, per FSM state.
var lore = map[string]string{
	"Idle":        "stuck in Idle: the OPEN parameters do not match (wrong AS, bad router-id, hold time); a NOTIFICATION carries the error code",
	"Connect":     "stuck in Connect: packets do not leave the speaker's side at all (routing, interface, firewall on the node)",
	"Active":      "stuck in Active: the TCP three-way handshake with the router does not complete",
	"OpenSent":    "in OpenSent: the TCP connection is up and an OPEN was sent; the peer's OPEN is awaited",
	"Established": "Established: UPDATE messages carry the routes; KEEPALIVEs keep the session up",
}

// recentWindow is how far back the speaker's transitions count as the
// current behaviour.
const recentWindow = 30 * time.Second

// speakerStuck is the state the speaker end keeps returning to: Idle when
// it recently fell back to Idle with a NOTIFICATION, else its current
// state (OpenSent/OpenConfirm count as Active: they pass in milliseconds).
func (d *diag) speakerStuck(p *pair) (string, string) {
	s := p.sess
	if s == nil {
		return "", ""
	}
	if s.State == "Established" {
		return "Established", "Established"
	}
	var visited []string
	notif := false
	// Only what happened since the session last went down counts.
	var down int
	for i, t := range s.Transitions {
		if t.From == "Established" {
			down = i + 1
		}
	}
	for _, t := range s.Transitions[down:] {
		if d.now.Sub(t.Time) > recentWindow {
			continue
		}
		for _, st := range []string{t.From, t.To} {
			if !slices.Contains(visited, st) {
				visited = append(visited, st)
			}
		}
		if t.To == "Idle" && strings.Contains(t.Reason, "notification") {
			notif = true
		}
	}
	if !slices.Contains(visited, s.State) {
		visited = append(visited, s.State)
	}
	order := []string{"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"}
	slices.SortFunc(visited, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) })
	shown := strings.Join(visited, " ⇄ ")
	switch {
	case notif:
		return "Idle", shown
	case s.State == "OpenSent" || s.State == "OpenConfirm":
		return "Active", shown
	}
	return s.State, shown
}

// routerStuck is the router end's state.
func (p *pair) routerStuck() string {
	if p.nb == nil {
		return ""
	}
	st := p.nb.BGPState
	if st == "OpenSent" || st == "OpenConfirm" {
		return "Active"
	}
	return st
}

// thumb compares the rule of thumb with the states the ends show.
func (d *diag) thumb(p *pair, cause string) *Thumb {
	ci, ok := Cause(cause)
	if !ok || ci.Thumb == "" {
		return nil
	}
	t := &Thumb{State: ci.Thumb, Says: lore[ci.Thumb]}
	sp, shown := d.speakerStuck(p)
	rt := p.routerStuck()
	if p.sess != nil {
		t.Observed = append(t.Observed, fmt.Sprintf("the speaker (gobgp) on %s: %s (now %s)", p.speakerNode, shown, p.sess.State))
	} else if p.speakerNode != "" {
		t.Observed = append(t.Observed, fmt.Sprintf("the speaker on %s: no session", p.speakerNode))
	}
	if p.nb != nil {
		st := p.nb.BGPState
		if p.nb.SummaryState != "" {
			st = p.nb.SummaryState
		}
		t.Observed = append(t.Observed, fmt.Sprintf("%s on %s: %s", routerSoftware(p.rtr), p.routerNode, st))
	} else if p.routerNode != "" {
		t.Observed = append(t.Observed, fmt.Sprintf("%s on %s: no neighbor for the speaker", routerSoftware(p.rtr), p.routerNode))
	}
	// What the rule of thumb concludes from the speaker's state (the end
	// a MetalLB user watches), or the router's when the speaker has none.
	look := sp
	if look == "" {
		look = rt
	}
	t.Follows = sp == ci.Thumb || rt == ci.Thumb
	var here []string
	if look != "" && look != ci.Thumb {
		here = append(here, fmt.Sprintf("reading the states alone, the rule of thumb points elsewhere: %s", lore[look]))
	}
	if note := implNote(cause, p, sp, rt); note != "" {
		here = append(here, note)
	}
	if len(here) == 0 {
		if t.Follows {
			here = append(here, "both ends behave as the rule of thumb says")
		}
	}
	t.Here = strings.Join(here, "; ")
	return t
}

// implNote says how gobgp (the speaker) and FRR (the router) depart from
// the rule of thumb for a cause.
func implNote(cause string, p *pair, sp, rt string) string {
	router := routerSoftware(p.rtr) + " on " + p.routerNode
	if p.established() && openCause(cause) {
		return "both ends still show Established: the rule of thumb cannot see a fault that waits for the next OPEN; then the speaker (gobgp) shows Idle for 5 s after each NOTIFICATION"
	}
	switch cause {
	case CauseASMismatch, CauseRouterIDClash, CauseHoldTime:
		s := "the speaker (gobgp) follows it: Idle for 5 s after each NOTIFICATION, then Active again"
		if rt == "Active" || rt == "Connect" {
			s += fmt.Sprintf("; %s does not: it shows %s, because it refuses the speaker on a second, accepted connection and keeps its own neighbor waiting for an OPEN — read the NOTIFICATION, not the router's state", router, p.nb.BGPState)
		}
		return s
	case CauseAdminShutdown:
		return fmt.Sprintf("%s shows Idle (Admin) and sends Cease/Administrative Shutdown; the speaker (gobgp) goes Idle, then Active, and its connections are closed", router)
	case CauseTCPDropped:
		if p.established() {
			return "both ends still show Established: the connection was made before the rule and the hold timer has not expired yet (FRR's Hold Timer Expired NOTIFICATION will never reach the wire on the blackholed path); then gobgp shows Active, never Connect, and FRR shows Connect"
		}
		s := "gobgp never reports Connect (it goes from Idle straight to Active), so the speaker shows Active while its SYNs are dropped"
		if rt == "Connect" {
			s += fmt.Sprintf("; %s shows Connect, as the rule of thumb says", router)
		}
		return s
	case CauseTCPRejected:
		if p.established() {
			return "both ends still show Established: the connection was made before the rule; new handshakes are refused with a RST, so once it fails the speaker shows Active (connection refused)"
		}
		return fmt.Sprintf("the handshake is refused with a RST: the speaker shows Active (connection refused), %s shows %s", router, orDash(p.nb.BGPState))
	case CauseMD5Mismatch, CauseMD5OneSide:
		return fmt.Sprintf("SYNs go unanswered because each kernel drops segments with a missing or wrong signature: the speaker shows Active (gobgp has no Connect), %s shows %s", router, orDash(p.nb.BGPState))
	case CauseNoNeighbor, CauseWrongNeighborAddress, CauseAFINotActivated:
		if p.established() {
			return "the session is Established, but UPDATEs for IPv4 unicast are not exchanged"
		}
		s := fmt.Sprintf("the TCP handshake completes and %s closes the connection before the OPEN exchange, so the speaker (gobgp) cycles Active → OpenSent → Idle: neither Active nor Idle tells the cause, the router's neighbor list does", router)
		if cause == CauseAFINotActivated {
			s = "issue 6 expects Established with 0 prefixes; FRR 8.4 instead does not start a neighbor with no address family: " + s
		}
		return s
	case CauseWrongPeerAddress:
		return fmt.Sprintf("the speaker's SYNs go to an address nobody answers (ARP fails), so it shows Active (gobgp never reports Connect); %s shows %s: its own attempts to the node are refused, the speaker has no listener", router, orDash(p.routerState()))
	case CauseEBGPMultiHop:
		return "the speaker's SYNs (TTL 1) die at the first router: it shows Active, as for a handshake that does not complete"
	}
	return ""
}
