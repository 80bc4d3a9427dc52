package diagnose

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onp-lab/onp/metallb/speaker"
)

// Diagnose applies the rules to the evidence. peer limits the sessions
// looked at (a node name or an address; "" for all). It is a pure
// function of its arguments.
func Diagnose(ev *Evidence, peer string) *Report {
	d := &diag{ev: ev, now: ev.Time.Add(ev.Took.D())}
	rep := &Report{Lab: ev.Lab, Time: ev.Time, Peer: peer, Findings: []Finding{}, Sessions: []SessionView{}}
	for _, p := range pairs(ev) {
		if peer != "" && !matchesPeer(ev, peer, p.speakerNode, p.routerNode) && !sameAddr(peer, p.peerAddr) && !sameAddr(peer, p.nbAddr) {
			continue
		}
		rep.Sessions = append(rep.Sessions, d.view(p))
		fs := d.sessionRules(p)
		for i := range fs {
			fs[i].Session = p.name()
			fs[i].Thumb = d.thumb(p, fs[i].Cause)
		}
		rep.Findings = append(rep.Findings, fs...)
	}
	rep.Findings = append(rep.Findings, d.routerSessions(rep, peer)...)
	rep.Findings = append(rep.Findings, d.speakerRules(peer)...)
	for _, f := range rep.Findings {
		if f.Session != "" {
			d.sessionTrouble = true
		}
	}
	rep.Findings = append(rep.Findings, d.serviceRules()...)
	for i := range rep.Findings {
		rep.Findings[i].Title = title(rep.Findings[i].Cause)
	}
	rep.Notes = append(rep.Notes, ev.Problems...)
	if len(rep.Sessions) == 0 && peer != "" {
		rep.Notes = append(rep.Notes, fmt.Sprintf("no session has an end matching %q", peer))
	}
	rep.Healthy = len(rep.Findings) == 0
	if rep.Healthy {
		rep.HealthyEvidence = d.healthyEvidence(rep.Sessions)
	}
	return rep
}

// routerSessions looks at the sessions between routers (no speaker end):
// they are reported, and one that is not Established is a finding.
func (d *diag) routerSessions(rep *Report, peer string) []Finding {
	var out []Finding
	for _, s := range SessionsOf(d.ev, peer) {
		routers := true
		for _, e := range s.Ends {
			pn := d.ev.node(e.PeerNode)
			routers = routers && e.Role == "router" && pn != nil && isRouterKind(pn.Kind)
		}
		if !routers {
			continue
		}
		v := SessionView{Name: s.Name, Router: s.Ends[0].Node}
		up := true
		for _, e := range s.Ends {
			line := fmt.Sprintf("%s (%s) neighbor %s: %s, AS %d → %d, %d prefixes received, %d sent", e.Node, e.Kind, e.PeerAddress, e.State, e.LocalAS, e.PeerAS, e.PrefixesReceived, e.PrefixesSent)
			if e.State != "Established" && e.LastError != "" {
				line += "; last reset: " + e.LastError
			}
			v.Lines = append(v.Lines, line)
			up = up && e.State == "Established"
		}
		v.RouterState = s.Ends[0].State
		rep.Sessions = append(rep.Sessions, v)
		if !up {
			out = append(out, Finding{
				Cause: CauseSessionDown, Session: s.Name,
				Summary:  fmt.Sprintf("the session %s between routers is not Established", s.Name),
				Fix:      []string{"compare both routers' neighbor configuration (onp bgp shows both ends; onp trace shows the wire)"},
				Evidence: v.Lines,
			})
		}
	}
	return out
}

// openCause reports whether a cause is an OPEN parameter a running session
// only meets at its next OPEN.
func openCause(c string) bool {
	switch c {
	case CauseASMismatch, CauseRouterIDClash, CauseHoldTime, CauseMD5Mismatch, CauseMD5OneSide, CauseEBGPMultiHop:
		return true
	}
	return false
}

// diag carries the evidence through the rules.
type diag struct {
	ev  *Evidence
	now time.Time
	// sessionTrouble is set when a session rule found a cause: service
	// symptoms (a route missing, a client without answer) are then its
	// consequences, not causes of their own.
	sessionTrouble bool
}

// sessionRules returns the findings of one session: every specific rule
// that fires, or one fallback when none does.
func (d *diag) sessionRules(p *pair) []Finding {
	if p.spk != nil && p.spk.Status == nil && p.spk.Error != "" {
		return []Finding{d.speakerDown(p.spk)}
	}
	if p.rtr != nil && p.rtr.Error != "" && p.rtr.Neighbors == nil {
		return []Finding{{
			Cause: CauseRouterDown, Where: p.routerNode,
			Summary:  fmt.Sprintf("router %s does not answer, so its end of the session cannot be read", p.routerNode),
			Fix:      []string{fmt.Sprintf("check that %s runs: onp status (its processes), onp ssh %s", p.routerNode, p.routerNode)},
			Evidence: []string{p.routerNode + ": " + p.rtr.Error},
		}}
	}
	rules := []func(*pair) *Finding{
		d.ruleSelectorPeer,
		d.ruleNoBGPPeer,
		d.ruleWrongPeerAddress,
		d.ruleNoNeighbor,
		d.ruleAdminShutdown,
		d.ruleEBGPMultiHop,
		d.ruleMD5,
		d.ruleFirewall,
		d.ruleASMismatch,
		d.ruleRouterID,
		d.ruleHoldTime,
		d.ruleAFI,
		d.ruleBFD,
	}
	var out []Finding
	for _, r := range rules {
		if f := r(p); f != nil {
			if p.established() && openCause(f.Cause) {
				f.Evidence = append(f.Evidence, "the session is still Established: the setting takes effect at the next OPEN, so the session will not come back after its next reset (clear bgp, a restart, a hold timer expiry)")
			}
			out = append(out, *f)
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, r := range []func(*pair) *Finding{d.ruleUnreachable, d.ruleTCPTimeout, d.ruleNotification, d.ruleSessionDown} {
		if f := r(p); f != nil {
			return []Finding{*f}
		}
	}
	return nil
}

func (d *diag) speakerDown(s *SpeakerInfo) Finding {
	return Finding{
		Cause: CauseSpeakerDown, Where: s.Node,
		Summary:  fmt.Sprintf("the speaker on %s does not answer on its status socket, so it runs no BGP session", s.Node),
		Fix:      []string{fmt.Sprintf("look at the speaker process of %s: onp status (restarts), its log in the lab directory (logs/%s-speaker.log)", s.Node, s.Node)},
		Evidence: []string{"speaker " + s.Node + ": " + s.Error},
	}
}

// --- evidence lines --------------------------------------------------------

func (d *diag) speakerLine(p *pair) string {
	s := p.sess
	if s == nil {
		return ""
	}
	line := fmt.Sprintf("speaker %s → %s (BGPPeer %s): %s", p.speakerNode, s.Peer, s.Name, s.State)
	if !s.Since.IsZero() {
		line += " for " + humanDur(d.now.Sub(s.Since))
	}
	line += fmt.Sprintf(", AS %d → %d", s.MyASN, s.PeerASN)
	if s.State == "Established" {
		line += fmt.Sprintf(", %d of %d prefixes advertised", s.PrefixesAdvertised, s.PrefixesDesired)
	} else if s.LastError != "" {
		line += "; last error: " + s.LastError
		if s.LastErrorTime != nil {
			line += " (" + ago(d.now, *s.LastErrorTime) + ")"
		}
	}
	return line
}

func (d *diag) routerLine(p *pair) string {
	if p.nb == nil {
		return ""
	}
	nb := p.nb
	st := nb.BGPState
	if nb.SummaryState != "" && nb.SummaryState != st {
		st = nb.SummaryState
	}
	line := fmt.Sprintf("%s (%s) neighbor %s: %s, AS %d → %d", p.routerNode, routerSoftware(p.rtr), p.nbAddr, st, nb.LocalAS, nb.RemoteAS)
	if nb.BGPState == "Established" {
		line += fmt.Sprintf(", %d prefixes received, %d sent", nb.PfxRcd, nb.PfxSnt)
	} else {
		if nb.LastResetDueTo != "" {
			line += "; last reset: " + nb.LastResetDueTo
			if nb.LastResetTimerMsecs > 0 {
				line += " (" + humanDur(time.Duration(nb.LastResetTimerMsecs)*time.Millisecond) + " ago)"
			}
		}
		if nb.LastNotificationReason != "" {
			line += "; last NOTIFICATION: " + nb.LastNotificationReason
			if nb.LastErrorCodeSubcode != "" {
				line += " (" + nb.LastErrorCodeSubcode + ")"
			}
		}
	}
	return line
}

func routerSoftware(r *RouterInfo) string {
	if r == nil {
		return ""
	}
	switch r.Kind {
	case "vyos", "frr":
		return "FRR"
	case "bird":
		return "BIRD"
	case "gobgp":
		return "gobgpd"
	}
	return r.Kind
}

// recentNotifications returns the speaker's NOTIFICATIONs that belong to
// the current failure: none while Established, otherwise those since the
// session last left Established (or since it was created).
func (d *diag) recentNotifications(p *pair) []*speaker.Notification {
	s := p.sess
	if s == nil || s.State == "Established" {
		return nil
	}
	var since time.Time
	for _, t := range s.Transitions {
		if t.To == "Established" {
			since = t.Time
		}
	}
	var out []*speaker.Notification
	for _, n := range []*speaker.Notification{s.LastNotificationSent, s.LastNotificationReceived} {
		if n != nil && !n.Time.Before(since) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *speaker.Notification) int { return b.Time.Compare(a.Time) })
	return out
}

// notification returns the recent NOTIFICATION with code/subcode from the
// speaker's status, or nil.
func (d *diag) notification(p *pair, code, subcode uint8) *speaker.Notification {
	for _, n := range d.recentNotifications(p) {
		if n.Code == code && n.Subcode == subcode {
			return n
		}
	}
	return nil
}

func (d *diag) notificationLine(p *pair, n *speaker.Notification) string {
	line := fmt.Sprintf("speaker %s: NOTIFICATION %s %d/%d %s", p.speakerNode, n.Direction, n.Code, n.Subcode, n.Name)
	if n.Data != "" {
		line += " (data " + n.Data
		if n.Code == 2 && n.Subcode == 2 && (len(n.Data) == 4 || len(n.Data) == 8) {
			if as, err := strconv.ParseUint(n.Data, 16, 32); err == nil {
				line += fmt.Sprintf(": the AS it received, %d", as)
			}
		}
		line += ")"
	}
	return line + ", " + ago(d.now, n.Time)
}

// routerNotification returns FRR's last NOTIFICATION for the neighbor when
// its code/subcode match ("0202") and the neighbor is not Established.
func (d *diag) routerNotification(p *pair, codeSub string) string {
	if p.nb == nil || p.nb.BGPState == "Established" || p.nb.LastErrorCodeSubcode != codeSub {
		return ""
	}
	dir := "sent"
	if strings.Contains(p.nb.LastResetDueTo, "received") {
		dir = "received"
	}
	return fmt.Sprintf("%s (%s): last NOTIFICATION %s for neighbor %s: %s (%s)", p.routerNode, routerSoftware(p.rtr), dir, p.nbAddr, p.nb.LastNotificationReason, codeSub)
}

// captureNotifications returns capture lines of NOTIFICATIONs with the
// code/subcode between the two ends.
func (d *diag) captureNotifications(p *pair, code, subcode uint8) []string {
	if d.ev.Capture == nil {
		return nil
	}
	var out []string
	for _, e := range d.ev.Capture.Events {
		if e.BGP == nil || e.BGP.Notification == nil || !d.between(p, e.Src.Addr().String(), e.Dst.Addr().String()) {
			continue
		}
		n := e.BGP.Notification
		if n.Code == code && n.Subcode == subcode {
			out = append(out, "capture: "+e.Text())
			if len(out) == 2 {
				break
			}
		}
	}
	return out
}

// between reports whether a packet between a and b belongs to the session.
func (d *diag) between(p *pair, a, b string) bool {
	ends := []string{p.speakerAddr, p.routerAddr, p.peerAddr, p.nbAddr}
	if p.sess != nil {
		if la, _, ok := strings.Cut(p.sess.LocalAddress, ":"); ok {
			ends = append(ends, la)
		}
	}
	in := func(x string) bool {
		return slices.ContainsFunc(ends, func(e string) bool { return e != "" && sameAddr(e, x) })
	}
	return in(a) && in(b)
}

// probe returns the probe of a kind from a node to an address.
func (d *diag) probe(from, kind, target string) *Probe {
	for i := range d.ev.Probes {
		pr := &d.ev.Probes[i]
		if pr.From != from || pr.Kind != kind {
			continue
		}
		t := pr.Target
		if kind == "tcp" {
			t, _, _ = strings.Cut(t, ":")
			if strings.HasPrefix(pr.Target, "[") {
				t = strings.Trim(strings.Split(pr.Target, "]")[0], "[")
			}
		}
		if sameAddr(t, target) {
			return pr
		}
	}
	return nil
}

func probeLine(pr *Probe) string {
	if pr == nil {
		return ""
	}
	what := map[string]string{"ping": "ping", "tcp": "TCP connect to", "arp": "ARP for"}[pr.Kind]
	line := fmt.Sprintf("probe from %s: %s %s", pr.From, what, pr.Target)
	if pr.To != "" && pr.Kind != "tcp" {
		line += " (" + pr.To + ")"
	} else if pr.To != "" {
		line += " (" + pr.To + ")"
	}
	switch pr.Result {
	case ResultOK:
		line += ": ok"
		if pr.Kind == "tcp" {
			line += ", the handshake completes"
		}
		if pr.RTT > 0 && pr.Kind == "ping" {
			line += fmt.Sprintf(" (%s)", humanDur(pr.RTT.D()))
		}
		if pr.Kind == "arp" && pr.Detail != "" {
			line += " (" + pr.Detail + ")"
		}
	default:
		line += ": " + pr.Result
		if pr.Detail != "" {
			line += " (" + pr.Detail + ")"
		}
	}
	return line
}

// tcpEvents summarises the capture's TCP events between the ends (probes'
// own connections left out): SYNs per direction, with/without MD5, SYN-ACKs,
// RSTs, FINs.
type tcpSummary struct {
	synFrom     map[string]int // by source address
	synMD5From  map[string]int
	synAckFrom  map[string]int
	rstFrom     map[string]int
	finFrom     map[string]int
	ttlFrom     map[string]uint8 // TTL of the last SYN by source
	notifs, bgp int
}

func (d *diag) tcpEvents(p *pair) tcpSummary {
	ts := tcpSummary{synFrom: map[string]int{}, synMD5From: map[string]int{}, synAckFrom: map[string]int{}, rstFrom: map[string]int{}, finFrom: map[string]int{}, ttlFrom: map[string]uint8{}}
	if d.ev.Capture == nil {
		return ts
	}
	probeLocal := map[string]bool{}
	for _, pr := range d.ev.Probes {
		if pr.Kind != "tcp" || pr.LocalPort == 0 {
			continue
		}
		for _, a := range d.ev.nodeAddrs(pr.From) {
			probeLocal[netip.AddrPortFrom(mustAddr(a), uint16(pr.LocalPort)).String()] = true
		}
	}
	for _, e := range d.ev.Capture.Events {
		src, dst := e.Src.Addr().String(), e.Dst.Addr().String()
		if !d.between(p, src, dst) || probeLocal[e.Src.String()] || probeLocal[e.Dst.String()] {
			continue
		}
		if e.BGP != nil {
			ts.bgp++
			if e.BGP.Notification != nil {
				ts.notifs++
			}
		}
		if e.TCP == nil {
			continue
		}
		switch e.TCP.Event {
		case "SYN":
			ts.synFrom[src]++
			if e.TCP.MD5 {
				ts.synMD5From[src]++
			}
			ts.ttlFrom[src] = e.TTL
		case "SYN-ACK":
			ts.synAckFrom[src]++
		case "RST":
			ts.rstFrom[src]++
		case "FIN":
			ts.finFrom[src]++
		case "retransmission":
			if strings.Contains(e.TCP.Flags, "S") && !strings.Contains(e.TCP.Flags, ".") {
				ts.synFrom[src]++
				if e.TCP.MD5 {
					ts.synMD5From[src]++
				}
			}
		}
	}
	return ts
}

func (ts tcpSummary) line(addr, label string) string {
	if ts.synFrom[addr] == 0 {
		return ""
	}
	s := fmt.Sprintf("capture: %d SYN from %s (%s)", ts.synFrom[addr], label, addr)
	if n := ts.synMD5From[addr]; n > 0 {
		s += fmt.Sprintf(", %d with a TCP-MD5 signature", n)
	} else {
		s += ", without TCP-MD5 signature"
	}
	return s
}

func (d *diag) cap(what string) string {
	if d.ev.Capture == nil {
		return ""
	}
	return fmt.Sprintf("capture (%s on %s): %s", humanDur(d.ev.Capture.Duration.D()), strings.Join(d.ev.Capture.Interfaces, ", "), what)
}

func nonEmpty(lines ...string) []string {
	var out []string
	for _, l := range lines {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// peerRef names a BGPPeer as a user finds it: "BGPPeer metallb-system/onp-bgp-peer".
func (p *pair) peerRef() string {
	ns := defaultMetalLBNamespace
	if p.spk != nil && p.spk.Status != nil && p.spk.Status.MetalLB.Namespace != "" {
		ns = p.spk.Status.MetalLB.Namespace
	}
	return "BGPPeer " + ns + "/" + p.peerName
}

// speakerFix says how to change a BGPPeer field.
func (p *pair) speakerFix(change string) string {
	return fmt.Sprintf("on the cluster: in %s %s, then onp apply -f FILE (the object: onp get bgppeer %s -n %s -o yaml)", p.peerRef(), change, p.peerName, p.namespace())
}

func (p *pair) namespace() string {
	if p.spk != nil && p.spk.Status != nil && p.spk.Status.MetalLB.Namespace != "" {
		return p.spk.Status.MetalLB.Namespace
	}
	return defaultMetalLBNamespace
}

// routerFix renders router configuration changes for the router's kind:
// VyOS commands (1.3: protocols bgp ASN ...; 1.4: protocols bgp ...) or
// FRR lines under router bgp.
type rfix struct {
	verb string // set or delete
	vyos string // after "protocols bgp [ASN] "
	frr  string // inside "router bgp ASN"
}

func routerFix(r *RouterInfo, fixes ...rfix) string {
	if r == nil {
		return ""
	}
	switch r.Kind {
	case "vyos":
		var cmds []string
		for _, f := range fixes {
			if r.Version == "1.4" {
				cmds = append(cmds, fmt.Sprintf("%s protocols bgp %s", f.verb, f.vyos))
			} else {
				cmds = append(cmds, fmt.Sprintf("%s protocols bgp %d %s", f.verb, r.AS, f.vyos))
			}
		}
		return fmt.Sprintf("on %s (onp ssh %s): configure; %s; commit; save", r.Node, r.Node, strings.Join(cmds, "; "))
	default:
		var lines []string
		for _, f := range fixes {
			lines = append(lines, f.frr)
		}
		return fmt.Sprintf("on %s: in its FRR configuration (the lab file's frr config), under router bgp %d: %s", r.Node, r.AS, strings.Join(lines, "; "))
	}
}
