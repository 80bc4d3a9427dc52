package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/metallb/bgp"
	"github.com/onp-lab/onp/metallb/speaker"
)

// Session is one BGP session with both its ends (one when the other end
// is not a node of the lab or has no session configured).
type Session struct {
	// Name is "sno4 ↔ vyos" (an address stands for an end that is no
	// node of the lab).
	Name string `json:"name"`
	Ends []End  `json:"ends"`
}

// End is one end of a session.
type End struct {
	Node string `json:"node"`
	Kind string `json:"kind"`
	// Role is "speaker" (a cluster node's MetalLB speaker) or "router".
	Role string `json:"role"`
	// Name is the BGPPeer's name for a speaker end.
	Name         string `json:"name,omitempty"`
	LocalAddress string `json:"localAddress,omitempty"`
	LocalAS      uint32 `json:"localAS,omitempty"`
	PeerAddress  string `json:"peerAddress"`
	PeerAS       uint32 `json:"peerAS,omitempty"`
	// PeerNode is the node that owns PeerAddress, if any.
	PeerNode string `json:"peerNode,omitempty"`
	// State is the FSM state as FRR names it ("Idle (Admin)" for a
	// shut-down FRR neighbor).
	State string `json:"state"`
	// Up is how long the session has been Established; Down how long it
	// has been down (since the last reset), when known.
	Up   Duration `json:"up,omitzero"`
	Down Duration `json:"down,omitzero"`
	// PrefixesSent and PrefixesReceived count IPv4 unicast prefixes.
	PrefixesSent     int `json:"prefixesSent"`
	PrefixesReceived int `json:"prefixesReceived"`
	// LastError is the last error or reset reason, LastErrorAgo its age.
	LastError    string   `json:"lastError,omitempty"`
	LastErrorAgo Duration `json:"lastErrorAgo,omitzero"`
	// LastNotification is the last NOTIFICATION sent or received.
	LastNotification *EndNotification `json:"lastNotification,omitempty"`
	// BFD is this end's BFD session state for the peer ("Up", "Down",
	// "Init", "AdminDown"); empty when this end runs no BFD for it (or
	// cannot say: BIRD and gobgpd ends).
	BFD string `json:"bfd,omitempty"`
	// Error says why this end could not be read.
	Error string `json:"error,omitempty"`
}

// EndNotification is a NOTIFICATION seen by one end.
type EndNotification struct {
	Direction string   `json:"direction"`
	Code      uint8    `json:"code"`
	Subcode   uint8    `json:"subcode"`
	Name      string   `json:"name"`
	Ago       Duration `json:"ago,omitzero"`
}

// String is "received 2/2 OPEN Message Error / Bad Peer AS".
func (n *EndNotification) String() string {
	return fmt.Sprintf("%s %d/%d %s", n.Direction, n.Code, n.Subcode, n.Name)
}

// snapshot reads the session state of every speaker and router (no
// configuration, probes or capture): what onp bgp shows.
func snapshot(ctx context.Context, env Env) (*Evidence, error) {
	m, l := env.RunningLab()
	if l == nil || l.Topology == nil {
		return nil, errors.New("diagnose: no running lab")
	}
	ev := &Evidence{Lab: l.Name, Time: time.Now(), Nodes: labNodes(l.Topology)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, n := range ev.Nodes {
		switch {
		case n.Kind == "sno":
			wg.Add(1)
			go func() {
				defer wg.Done()
				si := SpeakerInfo{Node: n.Name}
				st, err := speaker.Status(ctx, speakerSocket(l, n.Name))
				if err != nil {
					si.Error = err.Error()
				}
				si.Status = st
				mu.Lock()
				ev.Speakers = append(ev.Speakers, si)
				mu.Unlock()
			}()
		case isRouterKind(n.Kind):
			wg.Add(1)
			go func() {
				defer wg.Done()
				ns := ""
				if h, err := m.Node(l, n.Name); err == nil {
					if ln, ok := h.(lab.LocalNode); ok {
						ns = ln.NetnsPath()
					}
				}
				ri := gatherRouter(ctx, env, l, n, ns, false)
				mu.Lock()
				ev.Routers = append(ev.Routers, ri)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	sort.Slice(ev.Speakers, func(i, j int) bool { return ev.Speakers[i].Node < ev.Speakers[j].Node })
	sort.Slice(ev.Routers, func(i, j int) bool { return ev.Routers[i].Node < ev.Routers[j].Node })
	return ev, ctx.Err()
}

// Sessions reads every BGP session of the lab from both ends: the
// speakers' status and every router node's neighbors (FRR JSON from vyos
// and frr nodes; BIRD and gobgpd nodes as far as their tools tell). The two
// ends of a session are adjacent in Session.Ends. Options.Peer keeps the
// sessions with that end.
func Sessions(ctx context.Context, env Env, opts Options) ([]Session, error) {
	ev, err := snapshot(ctx, env)
	if err != nil {
		return nil, err
	}
	return SessionsOf(ev, opts.Peer), nil
}

// SessionsOf pairs the ends found in the evidence into sessions.
func SessionsOf(ev *Evidence, peer string) []Session {
	now := ev.Time
	var ends []End
	for _, s := range ev.Speakers {
		if s.Status == nil {
			ends = append(ends, End{Node: s.Node, Kind: "sno", Role: "speaker", State: "-", Error: s.Error})
			continue
		}
		at := s.Status.Time
		if at.IsZero() {
			at = now
		}
		for _, ss := range s.Status.Sessions {
			ends = append(ends, speakerEnd(ev, s.Node, &ss, at))
		}
	}
	for _, r := range ev.Routers {
		if r.Error != "" && r.Neighbors == nil {
			ends = append(ends, End{Node: r.Node, Kind: r.Kind, Role: "router", State: "-", Error: r.Error})
			continue
		}
		keys := make([]string, 0, len(r.Neighbors))
		for k := range r.Neighbors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ends = append(ends, routerEnd(ev, &r, k, r.Neighbors[k]))
		}
	}
	// Pair ends: A's peer is B's node and B's peer is A's node.
	used := make([]bool, len(ends))
	var out []Session
	for i := range ends {
		if used[i] {
			continue
		}
		used[i] = true
		a := ends[i]
		s := Session{Ends: []End{a}}
		for j := i + 1; j < len(ends); j++ {
			b := ends[j]
			if !used[j] && a.PeerNode != "" && a.PeerNode == b.Node && b.PeerNode == a.Node && a.Node != "" {
				used[j] = true
				s.Ends = append(s.Ends, b)
				break
			}
		}
		if a.Role == "router" && len(s.Ends) == 2 {
			s.Ends[0], s.Ends[1] = s.Ends[1], s.Ends[0]
		}
		first := s.Ends[0]
		other := first.PeerNode
		if other == "" {
			other = first.PeerAddress
		}
		if other == "" {
			other = "-"
		}
		s.Name = first.Node + " ↔ " + other
		if peer != "" && !sessionMatches(ev, s, peer) {
			continue
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func sessionMatches(ev *Evidence, s Session, peer string) bool {
	for _, e := range s.Ends {
		if e.Node == peer || e.PeerNode == peer || sameAddr(e.PeerAddress, peer) || sameAddr(e.LocalAddress, peer) {
			return true
		}
	}
	return false
}

func speakerEnd(ev *Evidence, node string, ss *speaker.SessionStatus, now time.Time) End {
	e := End{Node: node, Kind: "sno", Role: "speaker", Name: ss.Name, PeerAddress: ss.PeerAddress,
		LocalAS: ss.MyASN, PeerAS: ss.PeerASN, State: ss.State, Up: Duration(ss.Uptime.Duration), Down: Duration(ss.Downtime.Duration),
		PrefixesSent: ss.PrefixesAdvertised, LastError: ss.LastError}
	if ss.BFD != nil {
		e.BFD = ss.BFD.State
	}
	e.PeerNode = ev.nodeByAddr(ss.PeerAddress)
	if la, _, ok := strings.Cut(ss.LocalAddress, ":"); ok && la != "" {
		e.LocalAddress = la
	} else if sh := sharedAddrs(ev, node, e.PeerNode); len(sh) > 0 {
		e.LocalAddress = sh[0][0]
	}
	if ss.State != "Established" && e.Down == 0 && !ss.Since.IsZero() {
		e.Down = Duration(now.Sub(ss.Since))
	}
	if ss.LastErrorTime != nil {
		e.LastErrorAgo = Duration(now.Sub(*ss.LastErrorTime))
	}
	var last *speaker.Notification
	for _, n := range []*speaker.Notification{ss.LastNotificationSent, ss.LastNotificationReceived} {
		if n != nil && (last == nil || n.Time.After(last.Time)) {
			last = n
		}
	}
	if last != nil {
		e.LastNotification = &EndNotification{Direction: last.Direction, Code: last.Code, Subcode: last.Subcode, Name: last.Name, Ago: Duration(now.Sub(last.Time))}
	}
	return e
}

func routerEnd(ev *Evidence, r *RouterInfo, addr string, nb Neighbor) End {
	e := End{Node: r.Node, Kind: r.Kind, Role: "router", PeerAddress: addr, LocalAS: nb.LocalAS, PeerAS: nb.RemoteAS,
		State: nb.BGPState, PrefixesSent: nb.PfxSnt, PrefixesReceived: nb.PfxRcd, LastError: nb.LastResetDueTo}
	if e.LocalAS == 0 {
		e.LocalAS = r.AS
	}
	if nb.PeerBFDInfo != nil {
		// FRR writes "Up", "Down", "Unknown"; as the speaker names them.
		e.BFD = nb.PeerBFDInfo.Status
	}
	if nb.SummaryState != "" && strings.HasPrefix(nb.SummaryState, nb.BGPState) {
		e.State = nb.SummaryState
	}
	if e.State == "" {
		e.State = "Unknown"
	}
	e.PeerNode = ev.nodeByAddr(addr)
	if _, err := netip.ParseAddr(nb.HostLocal); err == nil {
		e.LocalAddress = nb.HostLocal
	}
	if e.LocalAddress == "" {
		if sh := sharedAddrs(ev, r.Node, e.PeerNode); len(sh) > 0 {
			e.LocalAddress = sh[0][0]
		}
	}
	if nb.BGPState == "Established" {
		e.Up = Duration(time.Duration(nb.BGPTimerUpMsec) * time.Millisecond)
		e.LastError = ""
	} else if nb.LastResetTimerMsecs > 0 {
		e.Down = Duration(time.Duration(nb.LastResetTimerMsecs) * time.Millisecond)
		e.LastErrorAgo = e.Down
	}
	if nb.LastErrorCodeSubcode != "" && len(nb.LastErrorCodeSubcode) == 4 {
		code, err1 := strconv.ParseUint(nb.LastErrorCodeSubcode[:2], 16, 8)
		sub, err2 := strconv.ParseUint(nb.LastErrorCodeSubcode[2:], 16, 8)
		if err1 == nil && err2 == nil {
			dir := "sent"
			if strings.Contains(nb.LastResetDueTo, "received") {
				dir = "received"
			}
			e.LastNotification = &EndNotification{Direction: dir, Code: uint8(code), Subcode: uint8(sub),
				Name: bgp.NotificationName(uint8(code), uint8(sub)), Ago: Duration(time.Duration(nb.LastResetTimerMsecs) * time.Millisecond)}
		}
	}
	return e
}

// Change is one FSM state change of a session end.
type Change struct {
	Time time.Time `json:"time"`
	Node string    `json:"node"`
	Role string    `json:"role"`
	// Peer is the end's peer address; PeerNode its node, if any.
	Peer     string `json:"peer"`
	PeerNode string `json:"peerNode,omitempty"`
	// From is "" for the state an end is in when the watch starts.
	From string `json:"from"`
	To   string `json:"to"`
	// Reason is why, when the end says (the speaker's transition reason,
	// FRR's last reset reason and NOTIFICATION).
	Reason string `json:"reason,omitempty"`
	// Exact is false when the time is when a poll noticed the change
	// (routers, and the initial states) rather than when it happened (the
	// speaker's history).
	Exact bool `json:"exact"`
}

// WatchInterval is how often Watch polls the routers.
const WatchInterval = 200 * time.Millisecond

// Watch follows every session's state until ctx ends and passes each FSM
// transition to emit. It starts with one Change per end with From "" (the
// state the end is in when the watch starts); then come the transitions: the speakers' transitions from their status
// history (exact times, every intermediate state), the routers' by polling
// their neighbor state every interval (WatchInterval when zero), so that
// states shorter than a poll may be missed on the router side. An error
// from emit ends the watch.
func Watch(ctx context.Context, env Env, opts Options, interval time.Duration, emit func(Change) error) error {
	if interval <= 0 {
		interval = WatchInterval
	}
	type key struct{ node, peer string }
	seenSpeaker := map[key]time.Time{}
	routerState := map[key]string{}
	first := true
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ev, err := snapshot(ctx, env)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		now := time.Now()
		var changes []Change
		for _, s := range ev.Speakers {
			if s.Status == nil {
				continue
			}
			for _, ss := range s.Status.Sessions {
				k := key{s.Node, ss.Name}
				if first {
					changes = append(changes, Change{Time: now, Node: s.Node, Role: "speaker", Peer: ss.PeerAddress, PeerNode: ev.nodeByAddr(ss.PeerAddress), To: ss.State})
				}
				last, known := seenSpeaker[k]
				for _, t := range ss.Transitions {
					if known && !t.Time.After(last) || first {
						continue
					}
					c := Change{Time: t.Time, Node: s.Node, Role: "speaker", Peer: ss.PeerAddress, PeerNode: ev.nodeByAddr(ss.PeerAddress), From: t.From, To: t.To, Reason: t.Reason, Exact: true}
					if opts.Peer == "" || c.matches(ev, opts.Peer) {
						changes = append(changes, c)
					}
				}
				if n := len(ss.Transitions); n > 0 {
					seenSpeaker[k] = ss.Transitions[n-1].Time
				} else {
					seenSpeaker[k] = time.Time{}
				}
			}
		}
		current := map[key]bool{}
		for _, r := range ev.Routers {
			for addr, nb := range r.Neighbors {
				k := key{r.Node, addr}
				current[k] = true
				st := nb.BGPState
				if nb.SummaryState != "" && strings.HasPrefix(nb.SummaryState, st) {
					st = nb.SummaryState
				}
				prev, known := routerState[k]
				routerState[k] = st
				if first {
					changes = append(changes, Change{Time: now, Node: r.Node, Role: "router", Peer: addr, PeerNode: ev.nodeByAddr(addr), To: st})
					continue
				}
				if known && prev == st {
					continue
				}
				if !known {
					prev = "(new neighbor)"
				}
				c := Change{Time: now, Node: r.Node, Role: "router", Peer: addr, PeerNode: ev.nodeByAddr(addr), From: prev, To: st}
				if st != "Established" {
					c.Reason = nb.LastResetDueTo
					if nb.LastNotificationReason != "" {
						c.Reason = strings.TrimPrefix(c.Reason+"; NOTIFICATION "+nb.LastNotificationReason, "; ")
					}
				}
				if opts.Peer == "" || c.matches(ev, opts.Peer) {
					changes = append(changes, c)
				}
			}
		}
		for k, st := range routerState {
			if !current[k] && k.node != "" {
				delete(routerState, k)
				changes = append(changes, Change{Time: now, Node: k.node, Role: "router", Peer: k.peer, From: st, To: "(neighbor removed)"})
			}
		}
		sort.SliceStable(changes, func(i, j int) bool { return changes[i].Time.Before(changes[j].Time) })
		for _, c := range changes {
			if err := emit(c); err != nil {
				return err
			}
		}
		first = false
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (c Change) matches(ev *Evidence, peer string) bool {
	return c.Node == peer || c.PeerNode == peer || sameAddr(c.Peer, peer)
}
