package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/scenarios/spec"
)

// readNeighbors reads `show bgp neighbors json`, keyed by neighbor.
func readNeighbors(ctx context.Context, rt Router) (map[string]frr.BGPNeighbor, error) {
	var raw map[string]json.RawMessage
	if err := rt.ShowJSON(ctx, "show bgp neighbors json", &raw); err != nil {
		return nil, err
	}
	out := map[string]frr.BGPNeighbor{}
	for k, v := range raw {
		var n frr.BGPNeighbor
		if json.Unmarshal(v, &n) == nil {
			out[k] = n
		}
	}
	return out, nil
}

// findNeighbor finds the neighbor whose address is one of addrs.
func findNeighbor(nbs map[string]frr.BGPNeighbor, addrs []netip.Addr) (string, frr.BGPNeighbor, bool) {
	keys := make([]string, 0, len(nbs))
	for k := range nbs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a, err := netip.ParseAddr(k)
		if err != nil {
			a, err = netip.ParseAddr(nbs[k].HostForeign)
		}
		if err == nil && slices.Contains(addrs, a.Unmap()) {
			return k, nbs[k], true
		}
	}
	return "", frr.BGPNeighbor{}, false
}

func neighborList(nbs map[string]frr.BGPNeighbor) string {
	if len(nbs) == 0 {
		return "the router has no BGP neighbors"
	}
	keys := make([]string, 0, len(nbs))
	for k, n := range nbs {
		keys = append(keys, k+" "+n.BGPState)
	}
	sort.Strings(keys)
	return "neighbors: " + strings.Join(keys, ", ")
}

func sessionOnRouter(env Env, node string, addrs []netip.Addr, want string) func(context.Context) (Observation, error) {
	return func(ctx context.Context) (Observation, error) {
		rt, err := env.Router(ctx, node)
		if err != nil {
			return Observation{}, err
		}
		nbs, err := readNeighbors(ctx, rt)
		if err != nil {
			return Observation{}, err
		}
		key, nb, ok := findNeighbor(nbs, addrs)
		if !ok {
			return Observation{Expected: want, Seen: "no such neighbor", Detail: neighborList(nbs)}, nil
		}
		st := nb.BGPState
		o := Observation{OK: strings.EqualFold(st, want), Expected: want, Seen: st}
		var detail []string
		if len(addrs) > 1 {
			detail = append(detail, "neighbor "+key)
		}
		if strings.EqualFold(st, "Established") && nb.BGPTimerUpString != "" {
			detail = append(detail, "up "+nb.BGPTimerUpString)
		}
		if !o.OK {
			if nb.LastResetDueTo != "" {
				detail = append(detail, "last reset: "+nb.LastResetDueTo)
			}
			if nb.LastNotificationReason != "" {
				detail = append(detail, "last notification: "+nb.LastNotificationReason)
			} else if nb.LastErrorCodeSubcode != "" && nb.LastErrorCodeSubcode != "000" {
				detail = append(detail, "last error code/subcode: "+nb.LastErrorCodeSubcode)
			}
		}
		o.Detail = strings.Join(detail, "; ")
		return o, nil
	}
}

func sessionOnSpeaker(env Env, node string, addrs []netip.Addr, want string) func(context.Context) (Observation, error) {
	return func(ctx context.Context) (Observation, error) {
		sp, err := env.Speaker(ctx, node)
		if err != nil {
			return Observation{}, err
		}
		ss, err := sp.Sessions(ctx)
		if err != nil {
			return Observation{}, err
		}
		var peers []string
		for _, s := range ss {
			peers = append(peers, s.Peer.String()+" "+s.State)
			if !slices.Contains(addrs, s.Peer.Unmap()) {
				continue
			}
			o := Observation{OK: strings.EqualFold(s.State, want), Expected: want, Seen: s.State}
			if !o.OK && s.LastError != "" {
				o.Detail = "last error: " + s.LastError
			}
			return o, nil
		}
		detail := "the speaker has no sessions"
		if len(peers) > 0 {
			detail = "speaker sessions: " + strings.Join(peers, ", ")
		}
		return Observation{Expected: want, Seen: "no such session", Detail: detail}, nil
	}
}

func noFlap(env Env, node string, addrs []netip.Addr) func(context.Context) (Observation, error) {
	base := -1
	return func(ctx context.Context) (Observation, error) {
		rt, err := env.Router(ctx, node)
		if err != nil {
			return Observation{}, err
		}
		nbs, err := readNeighbors(ctx, rt)
		if err != nil {
			return Observation{}, err
		}
		_, nb, ok := findNeighbor(nbs, addrs)
		if !ok {
			return Observation{Expected: "a session that does not flap", Seen: "no such neighbor", Detail: neighborList(nbs)}, nil
		}
		if base < 0 {
			base = nb.ConnectionsDropped
		}
		return Observation{
			OK:       nb.ConnectionsDropped == base,
			Expected: fmt.Sprintf("connectionsDropped to stay at %d", base),
			Seen:     fmt.Sprintf("connectionsDropped %d", nb.ConnectionsDropped),
			Detail:   "state " + nb.BGPState,
		}, nil
	}
}

// routeExpectation is what a bgp-route or fib-route check wants.
type routeExpectation struct {
	prefix    netip.Prefix
	present   bool
	nexthops  []hostSet
	comms     []spec.Community
	large     []spec.LargeCommunity
	localPref *uint32
	origin    string
	asPath    []uint32
	hasPath   bool
	best      bool
	iface     string
	lab       *spec.Context
}

func newRouteExpectation(c *spec.Check, lab *spec.Context) (*routeExpectation, error) {
	p, err := netip.ParsePrefix(c.Prefix)
	if err != nil {
		return nil, err
	}
	e := &routeExpectation{prefix: p, present: c.ExpectPresent(), localPref: c.LocalPref, origin: c.Origin,
		best: c.Best != nil && *c.Best, iface: c.Interface, lab: lab}
	if len(c.Nexthops) > 0 {
		e.nexthops = resolveHosts(lab, c.Nexthops)
	}
	for _, s := range c.Communities {
		v, err := spec.ParseCommunity(s)
		if err != nil {
			return nil, err
		}
		e.comms = append(e.comms, v)
	}
	for _, s := range c.LargeCommunities {
		v, err := spec.ParseLargeCommunity(s)
		if err != nil {
			return nil, err
		}
		e.large = append(e.large, v)
	}
	if c.ASPath != nil {
		e.hasPath = true
		if e.asPath, err = spec.ParseASPath(*c.ASPath); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// bgpPrefix is `show bgp ipv4 unicast PREFIX json`.
type bgpPrefix struct {
	Prefix string    `json:"prefix"`
	Paths  []bgpPath `json:"paths"`
}

type bgpPath struct {
	ASPath *struct {
		String   string `json:"string"`
		Segments []struct {
			Type string   `json:"type"`
			List []uint32 `json:"list"`
		} `json:"segments"`
	} `json:"aspath"`
	Origin   string  `json:"origin"`
	LocPrf   *uint32 `json:"locPrf"`
	Valid    bool    `json:"valid"`
	Bestpath *struct {
		Overall bool `json:"overall"`
	} `json:"bestpath"`
	Multipath      bool       `json:"multipath"`
	Community      *commJSON  `json:"community"`
	LargeCommunity *commJSON  `json:"largeCommunity"`
	Nexthops       []nexthopJ `json:"nexthops"`
	Peer           *struct {
		PeerID   string `json:"peerId"`
		Hostname string `json:"hostname"`
	} `json:"peer"`
}

type commJSON struct {
	String string   `json:"string"`
	List   []string `json:"list"`
}

type nexthopJ struct {
	IP    string `json:"ip"`
	Scope string `json:"scope"`
	Used  bool   `json:"used"`
}

func (p *bgpPath) nexthops() []netip.Addr {
	var out []netip.Addr
	for _, nh := range p.Nexthops {
		if nh.Scope == "link-local" {
			continue
		}
		if a, err := netip.ParseAddr(nh.IP); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func (p *bgpPath) communities() ([]spec.Community, []string) {
	if p.Community == nil {
		return nil, nil
	}
	var vals []spec.Community
	var other []string
	for _, f := range strings.Fields(p.Community.String) {
		if v, err := spec.ParseCommunity(f); err == nil {
			vals = append(vals, v)
		} else {
			other = append(other, f)
		}
	}
	return vals, other
}

func (p *bgpPath) largeCommunities() []spec.LargeCommunity {
	if p.LargeCommunity == nil {
		return nil
	}
	var out []spec.LargeCommunity
	for _, f := range strings.Fields(p.LargeCommunity.String) {
		if v, err := spec.ParseLargeCommunity(f); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func (p *bgpPath) asPath() []uint32 {
	if p.ASPath == nil {
		return nil
	}
	var out []uint32
	for _, s := range p.ASPath.Segments {
		out = append(out, s.List...)
	}
	return out
}

func commText(cs []spec.Community, other []string) string {
	if len(cs)+len(other) == 0 {
		return "none"
	}
	var s []string
	for _, c := range cs {
		if n := c.Name(); n != "" {
			s = append(s, fmt.Sprintf("%s (%s)", c, n))
		} else {
			s = append(s, c.String())
		}
	}
	return strings.Join(append(s, other...), ", ")
}

func largeText(cs []spec.LargeCommunity) string {
	if len(cs) == 0 {
		return "none"
	}
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.String()
	}
	return strings.Join(s, ", ")
}

func pathText(p []uint32) string {
	if len(p) == 0 {
		return "(empty)"
	}
	s := make([]string, len(p))
	for i, a := range p {
		s[i] = strconv.FormatUint(uint64(a), 10)
	}
	return strings.Join(s, " ")
}

func addrsText(lab *spec.Context, as []netip.Addr) string {
	if len(as) == 0 {
		return "none"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = describeAddr(lab, a)
	}
	return strings.Join(s, ", ")
}

func localPrefText(p *uint32) string {
	if p == nil {
		return "not set"
	}
	return strconv.FormatUint(uint64(*p), 10)
}

func bgpRoute(env Env, node string, e *routeExpectation) func(context.Context) (Observation, error) {
	afi := "ipv4"
	if e.prefix.Addr().Is6() {
		afi = "ipv6"
	}
	cmd := fmt.Sprintf("show bgp %s unicast %s json", afi, e.prefix)
	return func(ctx context.Context) (Observation, error) {
		rt, err := env.Router(ctx, node)
		if err != nil {
			return Observation{}, err
		}
		var pfx bgpPrefix
		if err := rt.ShowJSON(ctx, cmd, &pfx); err != nil {
			if !strings.Contains(err.Error(), "not in table") {
				return Observation{}, err
			}
			pfx = bgpPrefix{}
		}
		return e.evalBGP(pfx.Paths), nil
	}
}

// evalBGP compares the paths of a prefix with the expectation.
func (e *routeExpectation) evalBGP(all []bgpPath) Observation {
	var valid []bgpPath
	for _, p := range all {
		if p.Valid {
			valid = append(valid, p)
		}
	}
	considered := valid
	if e.best {
		considered = nil
		for _, p := range valid {
			if p.Bestpath != nil && p.Bestpath.Overall {
				considered = append(considered, p)
			}
		}
	}
	if !e.present {
		if len(valid) == 0 {
			return Observation{OK: true, Expected: "no route", Seen: "no route"}
		}
		var nhs []netip.Addr
		for _, p := range valid {
			nhs = append(nhs, p.nexthops()...)
		}
		return Observation{Expected: "no route", Seen: "a route via " + addrsText(e.lab, nhs)}
	}
	switch {
	case len(all) == 0:
		return Observation{Expected: "a route", Seen: "none"}
	case len(valid) == 0:
		return Observation{Expected: "a valid route", Seen: fmt.Sprintf("%d invalid path(s) only", len(all)), Detail: "is the next hop reachable?"}
	case len(considered) == 0:
		return Observation{Expected: "a best path", Seen: fmt.Sprintf("no best path among %d path(s)", len(valid))}
	}
	var m mismatch
	if e.nexthops != nil {
		var got []netip.Addr
		for _, p := range considered {
			got = append(got, p.nexthops()...)
		}
		if !matchHosts(e.nexthops, got) {
			m.add("next hops", hostsText(e.nexthops), addrsText(e.lab, got))
		}
	}
	several := len(considered) > 1
	for _, p := range considered {
		var pm mismatch
		cs, other := p.communities()
		for _, w := range e.comms {
			if !slices.Contains(cs, w) {
				pm.add("communities", "including "+commText(e.comms, nil), commText(cs, other))
				break
			}
		}
		lc := p.largeCommunities()
		for _, w := range e.large {
			if !slices.Contains(lc, w) {
				pm.add("large communities", "including "+largeText(e.large), largeText(lc))
				break
			}
		}
		if e.localPref != nil && (p.LocPrf == nil || *p.LocPrf != *e.localPref) {
			pm.add("local-pref", localPrefText(e.localPref), localPrefText(p.LocPrf))
		}
		if e.origin != "" && !strings.EqualFold(e.origin, p.Origin) {
			pm.add("origin", strings.ToUpper(e.origin), strings.ToUpper(p.Origin))
		}
		if e.hasPath && !slices.Equal(e.asPath, p.asPath()) {
			pm.add("AS path", pathText(e.asPath), pathText(p.asPath()))
		}
		if !pm.empty() {
			if several {
				for i := range pm.got {
					pm.got[i] += " (path via " + addrsText(e.lab, p.nexthops()) + ")"
				}
			}
			m.want = append(m.want, pm.want...)
			m.got = append(m.got, pm.got...)
			break
		}
	}
	if !m.empty() {
		return Observation{Expected: strings.Join(m.want, ", "), Seen: strings.Join(m.got, ", ")}
	}
	return Observation{OK: true, Expected: "a matching route", Seen: describePaths(e.lab, considered)}
}

func describePaths(lab *spec.Context, ps []bgpPath) string {
	var parts []string
	for _, p := range ps {
		s := "via " + addrsText(lab, p.nexthops())
		if cs, other := p.communities(); len(cs)+len(other) > 0 {
			s += ", communities " + commText(cs, other)
		}
		if lc := p.largeCommunities(); len(lc) > 0 {
			s += ", large communities " + largeText(lc)
		}
		if p.LocPrf != nil {
			s += ", local-pref " + localPrefText(p.LocPrf)
		}
		if p.Origin != "" {
			s += ", origin " + strings.ToUpper(p.Origin)
		}
		s += ", AS path " + pathText(p.asPath())
		if p.Bestpath != nil && p.Bestpath.Overall {
			s += ", best"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
