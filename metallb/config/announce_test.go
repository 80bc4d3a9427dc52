package config

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/onp-lab/onp/metallb/api"
)

func ptr[T any](v T) *T { return &v }

func slice(node string, ready, serving *bool, addrs ...string) api.EndpointSlice {
	ep := api.Endpoint{Addresses: addrs, Conditions: api.EndpointConditions{Ready: ready, Serving: serving}}
	if node != "" {
		ep.NodeName = ptr(node)
	}
	return api.EndpointSlice{AddressType: api.EndpointSliceAddressTypeIPv4, Endpoints: []api.Endpoint{ep}}
}

func TestShouldAnnounce(t *testing.T) {
	base := node("sno", "kubernetes.io/hostname: sno") + pool("p", goodPool)
	svc := &api.Service{ObjectMeta: api.ObjectMeta{Name: "echo", Namespace: "ns", Labels: map[string]string{"app": "echo"}},
		Spec: api.ServiceSpec{Type: api.ServiceTypeLoadBalancer}}
	local := &api.Service{ObjectMeta: svc.ObjectMeta, Spec: api.ServiceSpec{Type: api.ServiceTypeLoadBalancer, ExternalTrafficPolicy: api.ServiceExternalTrafficLocal}}
	sno := &api.Node{ObjectMeta: api.ObjectMeta{Name: "sno", Labels: map[string]string{"kubernetes.io/hostname": "sno"}}}
	excluded := &api.Node{ObjectMeta: api.ObjectMeta{Name: "sno", Labels: map[string]string{api.LabelNodeExcludeBalancers: ""}}}
	unavailable := &api.Node{ObjectMeta: sno.ObjectMeta, Status: api.NodeStatus{Conditions: []api.NodeCondition{{Type: "NetworkUnavailable", Status: "True"}}}}
	here := []api.EndpointSlice{slice("sno", nil, nil, "10.128.0.5")}
	there := []api.EndpointSlice{slice("other", ptr(true), nil, "10.128.1.5")}
	cases := []struct {
		name     string
		yaml     string
		node     *api.Node
		svc      *api.Service
		eps      []api.EndpointSlice
		ignoreLB bool
		want     string
	}{
		{"announce", base + adv("a", "{}"), sno, svc, here, false, ""},
		{"not owner: node not selected", base + adv("a", "{nodeSelectors: [{matchLabels: {kubernetes.io/hostname: other}}]}"), sno, svc, here, false, ReasonNotOwner},
		{"not owner: no advertisement", base, sno, svc, here, false, ReasonNotOwner},
		{"no matching advertisement", base + adv("a", "{serviceSelectors: [{matchLabels: {app: other}}]}"), sno, svc, here, false, ReasonNoMatchingAdvertisement},
		{"conflicting advertisements", base + adv("a", "{localPref: 1, serviceSelectors: [{matchLabels: {app: echo}}]}") + adv("b", "{localPref: 2}"), sno, svc, here, false, ReasonConflictingAdvertisements},
		{"network unavailable", base + adv("a", "{}"), unavailable, svc, here, false, ReasonNodeNetworkUnavailable},
		{"excluded from load balancers", base + adv("a", "{}"), excluded, svc, here, false, ReasonNodeExcludedFromBalancers},
		{"exclusion ignored", base + adv("a", "{}"), excluded, svc, here, true, ""},
		{"ETP Local without local endpoints", base + adv("a", "{}"), sno, local, there, false, ReasonNoLocalEndpoints},
		{"ETP Local with a local endpoint", base + adv("a", "{}"), sno, local, here, false, ""},
		{"ETP Cluster with a remote endpoint", base + adv("a", "{}"), sno, svc, there, false, ""},
		{"no endpoints", base + adv("a", "{}"), sno, svc, nil, false, ReasonNoEndpoints},
		{"endpoint not ready", base + adv("a", "{}"), sno, svc, []api.EndpointSlice{slice("sno", ptr(false), nil, "10.128.0.5")}, false, ReasonNoEndpoints},
		{"endpoint not ready but serving", base + adv("a", "{}"), sno, svc, []api.EndpointSlice{slice("sno", ptr(false), ptr(true), "10.128.0.5")}, false, ""},
		{"endpoint without address", base + adv("a", "{}"), sno, svc, []api.EndpointSlice{slice("sno", nil, nil)}, false, ReasonNoEndpoints},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := For(resources(t, tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got := ShouldAnnounce(AnnounceInput{Pool: cfg.Pool("p"), Node: tc.node, Service: tc.svc, EndpointSlices: tc.eps, IgnoreExcludeLB: tc.ignoreLB})
			if got != tc.want {
				t.Errorf("ShouldAnnounce = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAdvertisements(t *testing.T) {
	y := node("sno", "") + pool("p", `{addresses: [10.0.0.0/24, "fc00::/120"]}`) +
		peer("ibgp", goodPeer) + peer("ebgp", "{myASN: 64512, peerASN: 65001, peerAddress: 192.168.126.4}") +
		peer("v6", `{myASN: 64512, peerASN: 65001, peerAddress: "fd00::1"}`) +
		peer("dual", `{myASN: 64512, peerASN: 65001, peerAddress: "fd00::2", dualStackAddressFamily: true}`) +
		community("c", `{communities: [{name: big, value: "large:64512:1:2"}]}`) +
		adv("host", `{localPref: 100, communities: ["65535:65282"]}`) +
		adv("agg", `{aggregationLength: 24, aggregationLengthV6: 120, localPref: 50, communities: [big], peers: [ibgp, ebgp, v6]}`)
	cfg, err := For(resources(t, y))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Pool("p")
	sno := &api.Node{ObjectMeta: api.ObjectMeta{Name: "sno"}}
	svc := func(name string) *api.Service {
		return &api.Service{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "ns"}, Spec: api.ServiceSpec{Type: api.ServiceTypeLoadBalancer}}
	}
	var ads []Advertisement
	ads = append(ads, ServiceAdvertisements(p, sno, svc("a"), []netip.Addr{netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("fc00::10")})...)
	ads = append(ads, ServiceAdvertisements(p, sno, svc("b"), []netip.Addr{netip.MustParseAddr("10.0.0.11")})...)
	if len(ads) != 6 {
		t.Fatalf("service advertisements: %+v", ads)
	}
	if ads[0].Prefix.String() != "10.0.0.0/24" || ads[0].From != "agg" || ads[1].Prefix.String() != "10.0.0.10/32" || ads[3].Prefix.String() != "fc00::10/128" {
		t.Errorf("service advertisements: %+v", ads)
	}
	render := func(pas []PeerAdvertisement) string {
		s := ""
		for _, a := range pas {
			s += fmt.Sprintf("%s %v lp=%d ibgp=%v; ", a.Prefix, a.Communities, a.LocalPref, a.IBGP)
		}
		return s
	}
	want := map[string]string{
		"ibgp": "10.0.0.0/24 [large:64512:1:2] lp=50 ibgp=true; 10.0.0.10/32 [65535:65282] lp=100 ibgp=true; 10.0.0.11/32 [65535:65282] lp=100 ibgp=true; ",
		"ebgp": "10.0.0.0/24 [large:64512:1:2] lp=50 ibgp=false; 10.0.0.10/32 [65535:65282] lp=100 ibgp=false; 10.0.0.11/32 [65535:65282] lp=100 ibgp=false; ",
		"v6":   "fc00::/120 [large:64512:1:2] lp=50 ibgp=false; fc00::10/128 [65535:65282] lp=100 ibgp=false; ",
		"dual": "10.0.0.10/32 [65535:65282] lp=100 ibgp=false; 10.0.0.11/32 [65535:65282] lp=100 ibgp=false; fc00::10/128 [65535:65282] lp=100 ibgp=false; ",
	}
	for name, w := range want {
		if got := render(PeerAdvertisements(cfg.Peer(name), ads)); got != w {
			t.Errorf("peer %s:\n got %s\nwant %s", name, got, w)
		}
	}
}

func TestPeerAdvertisementsMerge(t *testing.T) {
	pfx := netip.MustParsePrefix("10.0.0.0/24")
	ads := []Advertisement{
		{Prefix: pfx, LocalPref: 100, Communities: []Community{StandardCommunity(1, 2)}},
		{Prefix: pfx, LocalPref: 200, Communities: []Community{StandardCommunity(1, 1), StandardCommunity(1, 2)}},
		{Prefix: pfx, LocalPref: 300, Peers: []string{"other"}},
	}
	got := PeerAdvertisements(&Peer{Name: "p", MyASN: 1, ASN: 1, Addr: netip.MustParseAddr("192.168.126.3")}, ads)
	if len(got) != 1 || fmt.Sprint(got[0].Communities) != "[1:1 1:2]" || got[0].LocalPref != 200 || !got[0].IBGP {
		t.Errorf("merged = %+v", got)
	}
}
