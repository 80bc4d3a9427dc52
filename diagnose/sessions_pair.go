package diagnose

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/onp-lab/onp/metallb/speaker"
)

// pair is one BGP session seen from both ends: a cluster node's speaker
// (one BGPPeer) and a router node's neighbor. Either end may be missing.
type pair struct {
	speakerNode string
	spk         *SpeakerInfo
	peerName    string
	peerStatus  *speaker.PeerStatus
	peerCfg     *PeerConfig
	sess        *speaker.SessionStatus
	// peerAddr is the address the speaker peers with.
	peerAddr string

	routerNode string
	rtr        *RouterInfo
	nbAddr     string
	nb         *Neighbor
	nbCfg      *NeighborConfig

	// speakerAddr and routerAddr are the two nodes' addresses on a network
	// they share.
	speakerAddr, routerAddr string
	// wrongPeerAddr: the speaker peers with an address no router has; the
	// router is the one that expects this speaker.
	wrongPeerAddr bool
	// stray are the router's neighbors at addresses no node has.
	stray []string
}

func (p *pair) name() string {
	a, b := p.speakerNode, p.routerNode
	if b == "" {
		b = p.peerAddr
	}
	if a == "" {
		a = p.nbAddr
	}
	return a + " ↔ " + b
}

func (p *pair) speakerState() string {
	if p.sess == nil {
		return ""
	}
	return p.sess.State
}

func (p *pair) routerState() string {
	if p.nb == nil {
		return ""
	}
	return p.nb.BGPState
}

func (p *pair) established() bool {
	return p.speakerState() == "Established" && p.routerState() == "Established"
}

// myASN, peerASN are the speaker's configured ASes.
func (p *pair) myASN() uint32 {
	if p.sess != nil && p.sess.MyASN != 0 {
		return p.sess.MyASN
	}
	if p.peerCfg != nil {
		return p.peerCfg.MyASN
	}
	if p.peerStatus != nil {
		return p.peerStatus.MyASN
	}
	return 0
}

func (p *pair) peerASN() uint32 {
	if p.peerCfg != nil && p.peerCfg.PeerASN != 0 {
		return p.peerCfg.PeerASN
	}
	if p.peerStatus != nil && p.peerStatus.PeerASN != 0 {
		return p.peerStatus.PeerASN
	}
	if p.sess != nil && p.sess.DynamicASN == "" {
		return p.sess.PeerASN
	}
	return 0
}

// routerAS is the router's own AS.
func (p *pair) routerAS() uint32 {
	if p.nb != nil && p.nb.LocalAS != 0 {
		return p.nb.LocalAS
	}
	if p.rtr != nil {
		return p.rtr.AS
	}
	return 0
}

func (p *pair) routerRemoteAS() uint32 {
	if p.nb != nil {
		return p.nb.RemoteAS
	}
	return 0
}

// nodeAddrs returns a node's addresses.
func (ev *Evidence) nodeAddrs(node string) []string {
	n := ev.node(node)
	if n == nil {
		return nil
	}
	var out []string
	for _, ifc := range n.Interfaces {
		if ifc.Address.IsValid() {
			out = append(out, ifc.Address.Addr().String())
		}
	}
	return out
}

func sameAddr(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x.Unmap() == y.Unmap()
}

// neighborFor returns the router's neighbor for one of the addresses.
func neighborFor(r *RouterInfo, addrs []string) (string, *Neighbor) {
	keys := make([]string, 0, len(r.Neighbors))
	for k := range r.Neighbors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, a := range addrs {
			if sameAddr(k, a) {
				nb := r.Neighbors[k]
				return k, &nb
			}
		}
	}
	return "", nil
}

// pairs builds the sessions of the lab from both ends.
func pairs(ev *Evidence) []*pair {
	var out []*pair
	have := map[[2]string]bool{}
	for i := range ev.Speakers {
		s := &ev.Speakers[i]
		type peerRef struct {
			name, addr string
			st         *speaker.PeerStatus
		}
		var peers []peerRef
		if s.Status != nil {
			for j := range s.Status.Peers {
				p := &s.Status.Peers[j]
				peers = append(peers, peerRef{p.Name, p.Address, p})
			}
		}
		for _, pc := range s.Peers {
			if !slices.ContainsFunc(peers, func(r peerRef) bool { return r.name == pc.Name }) {
				peers = append(peers, peerRef{pc.Name, pc.Address, nil})
			}
		}
		for _, pr := range peers {
			p := &pair{speakerNode: s.Node, spk: s, peerName: pr.name, peerStatus: pr.st, peerCfg: s.peerConfig(pr.name), sess: s.session(pr.name), peerAddr: pr.addr}
			if p.sess != nil && p.peerAddr == "" {
				p.peerAddr = p.sess.PeerAddress
			}
			owner := ev.nodeByAddr(p.peerAddr)
			if r := ev.router(owner); r != nil {
				p.routerNode, p.rtr = owner, r
			}
			out = append(out, p)
		}
	}
	// Attach the router to each session, and find the router a session
	// with a wrong address was meant for.
	for _, p := range out {
		saddrs := ev.nodeAddrs(p.speakerNode)
		if p.rtr == nil {
			for i := range ev.Routers {
				r := &ev.Routers[i]
				if addr, nb := neighborFor(r, saddrs); nb != nil && !have[[2]string{p.speakerNode, r.Node}] && !pairExists(out, p.speakerNode, r.Node) {
					p.routerNode, p.rtr, p.nbAddr, p.nb = r.Node, r, addr, nb
					p.wrongPeerAddr = ev.nodeByAddr(p.peerAddr) == ""
					break
				}
			}
		} else {
			p.nbAddr, p.nb = neighborFor(p.rtr, saddrs)
		}
		if p.rtr != nil {
			have[[2]string{p.speakerNode, p.routerNode}] = true
		}
	}
	// Router neighbors towards cluster nodes that no BGPPeer covers.
	for i := range ev.Routers {
		r := &ev.Routers[i]
		keys := make([]string, 0, len(r.Neighbors))
		for k := range r.Neighbors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			owner := ev.nodeByAddr(k)
			if owner == "" || ev.speaker(owner) == nil || have[[2]string{owner, r.Node}] {
				continue
			}
			nb := r.Neighbors[k]
			out = append(out, &pair{speakerNode: owner, spk: ev.speaker(owner), routerNode: r.Node, rtr: r, nbAddr: k, nb: &nb})
			have[[2]string{owner, r.Node}] = true
		}
	}
	for _, p := range out {
		if p.rtr != nil {
			for k := range p.rtr.Neighbors {
				if ev.nodeByAddr(k) == "" {
					p.stray = append(p.stray, k)
				}
			}
			sort.Strings(p.stray)
			if p.rtr.Config != nil && p.nbAddr != "" {
				p.nbCfg = p.rtr.Config.Neighbors[p.nbAddr]
			}
			if sh := sharedAddrs(ev, p.speakerNode, p.routerNode); len(sh) > 0 {
				p.speakerAddr, p.routerAddr = sh[0][0], sh[0][1]
			}
		}
	}
	return out
}

func pairExists(ps []*pair, s, r string) bool {
	for _, p := range ps {
		if p.speakerNode == s && p.routerNode == r && !p.wrongPeerAddr {
			return true
		}
	}
	return false
}

// ago renders how long before now t was ("3.2s ago").
func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return humanDur(d) + " ago"
}

func humanDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
