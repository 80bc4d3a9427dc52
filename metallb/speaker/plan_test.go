package speaker

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/metallb/bgp"
	"github.com/onp-lab/onp/metallb/config"
)

func ptr[T any](v T) *T { return &v }

// seedConfig is 02-metallb-bgp.yaml of the reference lab.
const seedConfig = `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {namespace: metallb-system, name: onp-bgp-pool}
spec:
  addresses: [10.0.0.10-10.0.0.20]
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: onp-bgp-peer}
spec: {peerAddress: 192.168.126.3, peerASN: 64512, myASN: 64512}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: onp-bgp-advertisement, namespace: metallb-system}
spec:
  ipAddressPools: [onp-bgp-pool]
  peers: [onp-bgp-peer]
  communities: [65535:65282]
  aggregationLength: 32
  aggregationLengthV6: 128
  localPref: 100
`

func decodeObjects(t *testing.T, yaml string) []api.Object {
	t.Helper()
	docs, err := api.Decode("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]api.Object, len(docs))
	for i, d := range docs {
		out[i] = d.Object
	}
	return out
}

func mustConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.For(config.ResourcesFrom("", decodeObjects(t, yaml)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var snoNode = &api.Node{ObjectMeta: api.ObjectMeta{Name: "sno4", Labels: map[string]string{"kubernetes.io/hostname": "sno4", "node-role.kubernetes.io/worker": ""}}}

func lbService(ns, name, etp string, ips ...string) *api.Service {
	s := &api.Service{ObjectMeta: api.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
		Spec: api.ServiceSpec{Type: api.ServiceTypeLoadBalancer, ExternalTrafficPolicy: etp, Selector: map[string]string{"app": name}}}
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, api.LoadBalancerIngress{IP: ip})
	}
	return s
}

func endpoints(node string, ready bool) []api.EndpointSlice {
	return []api.EndpointSlice{{AddressType: api.EndpointSliceAddressTypeIPv4, Endpoints: []api.Endpoint{{
		Addresses: []string{"10.128.0.5"}, NodeName: ptr(node), Conditions: api.EndpointConditions{Ready: ptr(ready)},
	}}}}
}

func std(a, b uint16) bgp.Community { return bgp.NewCommunity(a, b) }

func adv(prefix string, lp uint32, comms ...bgp.Community) bgp.Advertisement {
	return bgp.Advertisement{Prefix: netip.MustParsePrefix(prefix), LocalPref: lp, Communities: comms}
}

func (p plan) session(name string) *sessionPlan {
	for i := range p.sessions {
		if p.sessions[i].params.Name == name {
			return &p.sessions[i]
		}
	}
	return nil
}

func (p plan) service(key string) *serviceDecision {
	for i := range p.services {
		if p.services[i].key == key {
			return &p.services[i]
		}
	}
	return nil
}

func (p plan) peer(name string) *PeerStatus {
	for i := range p.peers {
		if p.peers[i].Name == name {
			return &p.peers[i]
		}
	}
	return nil
}

func TestDecideSeed(t *testing.T) {
	cfg := mustConfig(t, seedConfig)
	svc := lbService("onp-metallb", "echoserver", "", "10.0.0.10")
	p := decide(planInput{nodeName: "sno4", node: snoNode, cfg: cfg, services: []*api.Service{svc},
		slices: map[string][]api.EndpointSlice{"onp-metallb/echoserver": endpoints("sno4", true)}})
	sp := p.session("onp-bgp-peer")
	if sp == nil || len(p.sessions) != 1 {
		t.Fatalf("sessions %+v", p.sessions)
	}
	want := bgp.SessionParameters{Name: "onp-bgp-peer", PeerAddress: netip.MustParseAddr("192.168.126.3"), PeerPort: 179, MyASN: 64512, PeerASN: 64512}
	if !reflect.DeepEqual(sp.params, want) {
		t.Errorf("params %+v, want %+v", sp.params, want)
	}
	if wantAdvs := []bgp.Advertisement{adv("10.0.0.10/32", 100, std(65535, 65282))}; !sameAdvs(sp.advs, wantAdvs) {
		t.Errorf("advertisements %+v, want %+v", sp.advs, wantAdvs)
	}
	wantRoute := RouteStatus{Prefix: "10.0.0.10/32", Communities: []string{"65535:65282"}, LocalPref: 100,
		Services: []string{"onp-metallb/echoserver"}, Advertisements: []string{"onp-bgp-advertisement"}}
	if len(sp.routes) != 1 || !reflect.DeepEqual(sp.routes[0], wantRoute) {
		t.Errorf("routes %+v, want %+v", sp.routes, wantRoute)
	}
	d := p.service("onp-metallb/echoserver")
	if d == nil || !d.announced || d.pool != "onp-bgp-pool" || !reflect.DeepEqual(d.peers, []string{"onp-bgp-peer"}) ||
		!reflect.DeepEqual(d.prefixes, []string{"10.0.0.10/32"}) || !reflect.DeepEqual(d.adNames, []string{"onp-bgp-advertisement"}) {
		t.Errorf("decision %+v", d)
	}
	if ps := p.peer("onp-bgp-peer"); ps == nil || !ps.Session || ps.Reason != "" {
		t.Errorf("peer %+v", ps)
	}
}

func TestDecideServiceReasons(t *testing.T) {
	cfg := mustConfig(t, seedConfig)
	excluded := &api.Node{ObjectMeta: api.ObjectMeta{Name: "sno4", Labels: map[string]string{api.LabelNodeExcludeBalancers: ""}}}
	unavailable := &api.Node{ObjectMeta: snoNode.ObjectMeta, Status: api.NodeStatus{Conditions: []api.NodeCondition{{Type: api.NodeNetworkUnavailable, Status: api.ConditionTrue}}}}
	classed := lbService("ns", "s", "", "10.0.0.10")
	classed.Spec.LoadBalancerClass = ptr("other")
	cases := []struct {
		name    string
		svc     *api.Service
		node    *api.Node
		eps     []api.EndpointSlice
		class   string
		ignore  bool
		reason  string
		message string
	}{
		{"announced", lbService("ns", "s", "", "10.0.0.10"), snoNode, endpoints("sno4", true), "", false, "", ""},
		{"ETP Cluster, endpoint elsewhere", lbService("ns", "s", "Cluster", "10.0.0.10"), snoNode, endpoints("other", true), "", false, "", ""},
		{"ETP Local, endpoint elsewhere", lbService("ns", "s", "Local", "10.0.0.10"), snoNode, endpoints("other", true), "", false, config.ReasonNoLocalEndpoints, "externalTrafficPolicy is Local and no endpoint on node sno4 can serve"},
		{"ETP Local, local endpoint", lbService("ns", "s", "Local", "10.0.0.10"), snoNode, endpoints("sno4", true), "", false, "", ""},
		{"no ready endpoint", lbService("ns", "s", "", "10.0.0.10"), snoNode, endpoints("sno4", false), "", false, config.ReasonNoEndpoints, "no endpoint can serve: no pod selected by the service is ready"},
		{"no IP", lbService("ns", "s", ""), snoNode, endpoints("sno4", true), "", false, ReasonNoIPAllocated, ""},
		{"IP outside the pools", lbService("ns", "s", "", "10.9.9.9"), snoNode, endpoints("sno4", true), "", false, ReasonIPNotAllowed, "ingress IP 10.9.9.9 is in no IPAddressPool of the configuration"},
		{"excluded node", lbService("ns", "s", "", "10.0.0.10"), excluded, endpoints("sno4", true), "", false, config.ReasonNodeExcludedFromBalancers, "node sno4 has label node.kubernetes.io/exclude-from-external-load-balancers"},
		{"excluded node, ignored", lbService("ns", "s", "", "10.0.0.10"), excluded, endpoints("sno4", true), "", true, "", ""},
		{"network unavailable", lbService("ns", "s", "", "10.0.0.10"), unavailable, endpoints("sno4", true), "", false, config.ReasonNodeNetworkUnavailable, ""},
		{"other class", classed, snoNode, endpoints("sno4", true), "", false, ReasonLoadBalancerClass, `the service has class "other"; this speaker handles services without spec.loadBalancerClass`},
		{"class handled", classed, snoNode, endpoints("sno4", true), "other", false, "", ""},
		{"class required", lbService("ns", "s", "", "10.0.0.10"), snoNode, endpoints("sno4", true), "mine", false, ReasonLoadBalancerClass, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := decide(planInput{nodeName: "sno4", node: tc.node, cfg: cfg, services: []*api.Service{tc.svc},
				slices: map[string][]api.EndpointSlice{"ns/s": tc.eps}, lbClass: tc.class, ignoreExcludeLB: tc.ignore})
			d := p.service("ns/s")
			if d.reason != tc.reason || d.announced != (tc.reason == "") {
				t.Fatalf("reason %q announced %v, want %q (%s)", d.reason, d.announced, tc.reason, d.message)
			}
			if tc.message != "" && d.message != tc.message {
				t.Errorf("message %q, want %q", d.message, tc.message)
			}
			sp := p.session("onp-bgp-peer")
			if want := 0; tc.reason != "" && len(sp.advs) != want {
				t.Errorf("session carries %v for a withdrawn service", sp.advs)
			}
		})
	}
}

func TestDecideNotOwner(t *testing.T) {
	cfg := mustConfig(t, `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {namespace: metallb-system, name: a}
spec: {addresses: [10.0.0.0/28]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {namespace: metallb-system, name: b}
spec: {addresses: [10.0.1.0/28]}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {namespace: metallb-system, name: elsewhere}
spec:
  ipAddressPools: [a]
  nodeSelectors: [{matchLabels: {kubernetes.io/hostname: other}}]
`)
	p := decide(planInput{nodeName: "sno4", node: snoNode, cfg: cfg,
		services: []*api.Service{lbService("ns", "a", "", "10.0.0.1"), lbService("ns", "b", "", "10.0.1.1")},
		slices:   map[string][]api.EndpointSlice{"ns/a": endpoints("sno4", true), "ns/b": endpoints("sno4", true)}})
	if d := p.service("ns/a"); d.reason != config.ReasonNotOwner || !strings.Contains(d.message, "no BGPAdvertisement of pool a selects node sno4") {
		t.Errorf("a: %q %q", d.reason, d.message)
	}
	if d := p.service("ns/b"); d.reason != config.ReasonNotOwner || !strings.Contains(d.message, "pool b has no BGPAdvertisement") {
		t.Errorf("b: %q %q", d.reason, d.message)
	}
}

// Two pools, two peers, advertisements with different communities per
// pool and per peer; a third advertisement adds a community and a large
// one for one peer; an aggregated /24 carries two services.
func TestDecidePerPeerSets(t *testing.T) {
	cfg := mustConfig(t, `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {namespace: metallb-system, name: gold}
spec: {addresses: [10.0.0.0/24]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {namespace: metallb-system, name: silver}
spec: {addresses: [10.0.1.0/24]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: r1}
spec: {peerAddress: 192.168.126.3, peerASN: 64512, myASN: 64512}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: r2}
spec: {peerAddress: 192.168.126.4, peerASN: 64513, myASN: 64512, holdTime: 10s}
---
apiVersion: metallb.io/v1beta1
kind: Community
metadata: {namespace: metallb-system, name: aliases}
spec:
  communities:
  - {name: no-export, value: "65535:65281"}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {namespace: metallb-system, name: gold-all}
spec:
  ipAddressPools: [gold]
  communities: ["64512:100"]
  localPref: 200
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {namespace: metallb-system, name: gold-r2}
spec:
  ipAddressPools: [gold]
  peers: [r2]
  communities: [no-export, "large:64512:1:2"]
  localPref: 200
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {namespace: metallb-system, name: silver-agg}
spec:
  ipAddressPools: [silver]
  peers: [r1]
  aggregationLength: 24
  communities: ["64512:200"]
`)
	eps := endpoints("sno4", true)
	p := decide(planInput{nodeName: "sno4", node: snoNode, cfg: cfg,
		services: []*api.Service{lbService("ns", "g", "", "10.0.0.5"), lbService("ns", "s1", "", "10.0.1.1"), lbService("ns", "s2", "", "10.0.1.2")},
		slices:   map[string][]api.EndpointSlice{"ns/g": eps, "ns/s1": eps, "ns/s2": eps}})
	r1, r2 := p.session("r1"), p.session("r2")
	if r1 == nil || r2 == nil {
		t.Fatalf("sessions %+v", p.sessions)
	}
	want1 := []bgp.Advertisement{adv("10.0.0.5/32", 200, std(64512, 100)), adv("10.0.1.0/24", 0, std(64512, 200))}
	if !sameAdvs(r1.advs, want1) {
		t.Errorf("r1 %+v, want %+v", r1.advs, want1)
	}
	want2 := []bgp.Advertisement{adv("10.0.0.5/32", 200, std(64512, 100), std(65535, 65281))}
	want2[0].LargeCommunities = []bgp.LargeCommunity{{GlobalAdmin: 64512, LocalData1: 1, LocalData2: 2}}
	if !sameAdvs(r2.advs, want2) {
		t.Errorf("r2 %+v, want %+v", r2.advs, want2)
	}
	if got := r1.routes[1]; !reflect.DeepEqual(got.Services, []string{"ns/s1", "ns/s2"}) || got.Prefix != "10.0.1.0/24" {
		t.Errorf("aggregated route %+v", got)
	}
	if got := r2.routes[0]; !reflect.DeepEqual(got.Advertisements, []string{"gold-all", "gold-r2"}) ||
		!reflect.DeepEqual(got.Communities, []string{"large:64512:1:2", "64512:100", "65535:65281"}) {
		t.Errorf("r2 route %+v", got)
	}
	if d := p.service("ns/g"); !reflect.DeepEqual(d.peers, []string{"r1", "r2"}) {
		t.Errorf("g peers %v", d.peers)
	}
	if d := p.service("ns/s1"); !reflect.DeepEqual(d.peers, []string{"r1"}) || !reflect.DeepEqual(d.prefixes, []string{"10.0.1.0/24"}) {
		t.Errorf("s1 %+v", d)
	}
	// holdTime 10s: keepalive hold/3 = 3.33s, rendered in whole seconds as FRR mode does.
	if r2.params.HoldTime != 10*time.Second || r2.params.KeepaliveTime != 3*time.Second {
		t.Errorf("r2 timers %v/%v", r2.params.HoldTime, r2.params.KeepaliveTime)
	}
	if err := r2.params.Validate(); err != nil {
		t.Error(err)
	}
}

func TestDecidePeers(t *testing.T) {
	cfg := mustConfig(t, `
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: here}
spec:
  peerAddress: 192.168.126.3
  peerASN: 64512
  myASN: 64512
  nodeSelectors: [{matchLabels: {kubernetes.io/hostname: sno4}}]
  connectTime: 2s
  password: secret
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: there}
spec:
  peerAddress: 192.168.126.4
  peerASN: 64512
  myASN: 64512
  nodeSelectors: [{matchLabels: {kubernetes.io/hostname: other}}]
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: unnumbered}
spec: {interface: eth1, peerASN: 64513, myASN: 64512}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: local-as}
spec: {peerAddress: 192.168.126.5, peerASN: 64600, myASN: 64512, localASN: 64700, enableGracefulRestart: true}
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {namespace: metallb-system, name: fast}
spec: {receiveInterval: 100, transmitInterval: 120, detectMultiplier: 5}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: with-bfd}
spec: {peerAddress: 192.168.126.6, peerASN: 64512, myASN: 64512, bfdProfile: fast}
`)
	p := decide(planInput{nodeName: "sno4", node: snoNode, cfg: cfg})
	if ps := p.peer("there"); ps.Session || ps.Reason != ReasonFilteredByNodeSelector || !strings.Contains(ps.Message, "do not match node sno4") {
		t.Errorf("there: %+v", ps)
	}
	if ps := p.peer("unnumbered"); ps.Session || ps.Reason != ReasonUnsupported {
		t.Errorf("unnumbered: %+v", ps)
	}
	here := p.session("here")
	if here == nil || here.params.ConnectTime != 2*time.Second || here.params.Password != "secret" {
		t.Fatalf("here: %+v", here)
	}
	la := p.session("local-as")
	if la == nil || la.params.MyASN != 64700 || len(p.peer("local-as").Warnings) != 2 {
		t.Errorf("local-as: %+v %+v", la, p.peer("local-as"))
	}
	b := p.session("with-bfd")
	if b == nil || b.params.BFD == nil || b.params.BFD.ReceiveInterval != 100*time.Millisecond || b.params.BFD.TransmitInterval != 120*time.Millisecond ||
		b.params.BFD.DetectMultiplier != 5 || b.params.BFD.EchoInterval != 50*time.Millisecond || b.bfdProfile != "fast" {
		t.Errorf("with-bfd: %+v", b)
	}
	if len(p.sessions) != 3 {
		t.Errorf("%d sessions", len(p.sessions))
	}
}

func TestDecideNoConfig(t *testing.T) {
	p := decide(planInput{nodeName: "sno4", node: snoNode, services: []*api.Service{lbService("ns", "s", "", "10.0.0.10"), {Spec: api.ServiceSpec{Type: api.ServiceTypeClusterIP}}}})
	if len(p.sessions) != 0 || len(p.services) != 1 || p.services[0].reason != ReasonNoConfig {
		t.Errorf("%+v", p)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{`"1m30s"`, 90 * time.Second}, {`"300ms"`, 300 * time.Millisecond}, {`1000`, time.Microsecond}, {`null`, 0}} {
		var d Duration
		if err := d.UnmarshalJSON([]byte(tc.in)); err != nil || d.Duration != tc.want {
			t.Errorf("%s: %v %v", tc.in, d, err)
		}
	}
	b, _ := D(1500 * time.Millisecond).MarshalJSON()
	if string(b) != `"1.5s"` {
		t.Errorf("marshal %s", b)
	}
	var d Duration
	if err := d.UnmarshalJSON([]byte(`"soon"`)); err == nil {
		t.Error("no error for an invalid duration")
	}
}

func TestReportLookups(t *testing.T) {
	r := &StatusReport{Sessions: []SessionStatus{{Name: "a", Peer: "192.168.126.3:179", PeerAddress: "192.168.126.3"}},
		Services: []ServiceStatus{{Namespace: "ns", Name: "s"}}, Peers: []PeerStatus{{Name: "a"}}}
	for _, k := range []string{"a", "192.168.126.3", "192.168.126.3:179", "::ffff:192.168.126.3"} {
		if r.Session(k) == nil {
			t.Errorf("Session(%q) = nil", k)
		}
	}
	if r.Session("b") != nil || r.Service("ns", "s") == nil || r.Peer("a") == nil || r.Service("ns", "x") != nil {
		t.Error("lookups")
	}
	if got := fmt.Sprint(r.Services[0].Key()); got != "ns/s" {
		t.Error(got)
	}
}
