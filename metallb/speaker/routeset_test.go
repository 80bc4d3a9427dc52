package speaker

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"

	"github.com/onp-lab/onp/metallb/bgp"
	"github.com/onp-lab/onp/metallb/config"
)

// A session's desired set kept per prefix and updated one service at a
// time is always what sessionRoutes builds from all decisions at once:
// services come, change and go in random order, sharing prefixes (merged
// communities, highest localPref), with advertisements for other peers and
// of the other family.
func TestRouteSetIncremental(t *testing.T) {
	peer := &config.Peer{Name: "p1", MyASN: 64512, ASN: 64512, Addr: netip.MustParseAddr("192.168.126.3")}
	params := bgp.SessionParameters{Name: peer.Name, PeerAddress: peer.Addr}
	prefixes := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.10/32"), netip.MustParsePrefix("10.0.0.11/32"), netip.MustParsePrefix("10.0.0.0/24"),
		netip.MustParsePrefix("10.0.1.0/24"), netip.MustParsePrefix("2001:db8::1/128"),
	}
	comms := []config.Community{config.StandardCommunity(65535, 65282), config.StandardCommunity(64512, 1), config.LargeCommunity(1, 2, 3)}
	keys := []string{"a/x", "a/y", "a-b/x", "ab/z", "b/a", "b/b"}
	rng := rand.New(rand.NewPCG(1, 2))
	randomDecision := func(key string) serviceDecision {
		d := serviceDecision{key: key}
		if rng.IntN(4) == 0 {
			return d // not announced
		}
		d.announced = true
		for range 1 + rng.IntN(3) {
			a := config.Advertisement{Prefix: prefixes[rng.IntN(len(prefixes))], LocalPref: uint32(rng.IntN(3) * 100), From: fmt.Sprintf("adv%d", rng.IntN(3))}
			for _, c := range comms {
				if rng.IntN(2) == 0 {
					a.Communities = append(a.Communities, c)
				}
			}
			switch rng.IntN(3) {
			case 0:
				a.Peers = []string{"p1"}
			case 1:
				a.Peers = []string{"p2"}
			}
			d.ads = append(d.ads, a)
		}
		return d
	}
	rs := newRouteSet(peer, params)
	current := map[string]serviceDecision{}
	for step := range 2000 {
		key := keys[rng.IntN(len(keys))]
		if rng.IntN(5) == 0 {
			delete(current, key)
			rs.update(key, nil)
		} else {
			d := randomDecision(key)
			current[key] = d
			rs.update(key, &d)
		}
		var ds []serviceDecision
		for _, k := range keys {
			if d, ok := current[k]; ok {
				ds = append(ds, d)
			}
		}
		sortDecisions(ds)
		wantAdvs, wantRoutes := sessionRoutes(peer, ds)
		// sessionRoutes uses a routeSet too: check the merge itself against
		// config.PeerAdvertisements over everything.
		var all []config.Advertisement
		for _, d := range ds {
			if d.announced {
				for _, a := range d.ads {
					if reaches(a, params) {
						all = append(all, a)
					}
				}
			}
		}
		merged := config.PeerAdvertisements(peer, all)
		if len(merged) != len(wantAdvs) {
			t.Fatalf("step %d: %d merged prefixes, sessionRoutes has %d", step, len(merged), len(wantAdvs))
		}
		for i, m := range merged {
			if m.Prefix != wantAdvs[i].Prefix || m.LocalPref != wantAdvs[i].LocalPref || len(m.Communities) != len(wantAdvs[i].Communities)+len(wantAdvs[i].LargeCommunities) {
				t.Fatalf("step %d: merged %+v, sessionRoutes %+v", step, m, wantAdvs[i])
			}
		}
		if got := rs.advs(); !reflect.DeepEqual(got, wantAdvs) && !(len(got) == 0 && len(wantAdvs) == 0) {
			t.Fatalf("step %d: incremental advertisements\n%+v\nwant\n%+v", step, got, wantAdvs)
		}
		if got := rs.routes(); !reflect.DeepEqual(got, wantRoutes) && !(len(got) == 0 && len(wantRoutes) == 0) {
			t.Fatalf("step %d: incremental routes\n%+v\nwant\n%+v", step, got, wantRoutes)
		}
	}
}
