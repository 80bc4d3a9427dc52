package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/api"
)

const metallbResource = `apiVersion: metallb.io/v1beta1
kind: MetalLB
metadata: {name: metallb, namespace: metallb-system}
---
`

// serviceYAML is a LoadBalancer service without a selector and its
// EndpointSlice (one endpoint on node, ready or not), so the test decides
// where the endpoints are. spec adds lines to the service's spec; anns
// are its annotations.
func serviceYAML(ns, name, spec, anns, node string, ready bool) string {
	if anns == "" {
		anns = "{}"
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {namespace: %[1]s, name: %[2]s, annotations: %[4]s}
spec:
  type: LoadBalancer
  ports: [{port: 80, protocol: TCP}]
%[3]s
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  namespace: %[1]s
  name: %[2]s-1
  labels: {kubernetes.io/service-name: %[2]s}
addressType: IPv4
endpoints:
- addresses: [10.128.0.5]
  nodeName: %[5]s
  conditions: {ready: %[6]v, serving: %[6]v}
---
`, ns, name, spec, anns, node, ready)
}

const appsNamespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n---\n"

// A BGPPeer whose nodeSelectors do not match the node gets no session, with
// MetalLB's reason in the status; labelling the node starts it; a
// reference to a BFDProfile that does not exist yet is a transient error:
// the last valid configuration stays in effect (the session is not
// touched) until the profile exists.
func TestSpeakerNodeSelectorAndTransientConfig(t *testing.T) {
	l := newTestLab(t, false)
	r := l.seedRouter()
	sp := l.startSpeaker(l.speakerOptions())
	peer := func(extra string) string {
		return fmt.Sprintf(`apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: onp-bgp-peer}
spec:
  peerAddress: 192.168.126.3
  peerASN: 64512
  myASN: 64512
  nodeSelectors: [{matchLabels: {bgp: "yes"}}]
%s
---
`, extra)
	}
	l.apply(metallbNamespace + metallbResource + peer(""))
	rep := sp.waitStatus(func(r *StatusReport) error {
		p := r.Peer("onp-bgp-peer")
		if r.State != StateRunning || p == nil || p.Reason != ReasonFilteredByNodeSelector {
			return fmt.Errorf("speaker %s (%s), peer %+v", r.State, r.Message, p)
		}
		return nil
	})
	if len(rep.Sessions) != 0 || rep.Peer("onp-bgp-peer").Session || !strings.Contains(rep.Peer("onp-bgp-peer").Message, "spec.nodeSelectors do not match node sno4") {
		t.Fatalf("peer %+v, sessions %+v", rep.Peer("onp-bgp-peer"), rep.Sessions)
	}
	if n, err := r.neighbor(netip.MustParseAddr(nodeIP)); err != nil || n.BGPState == "Established" || n.ConnectionsEstablished != 0 {
		t.Fatalf("router neighbor %+v %v", n, err)
	}

	// Label the node.
	ctx := context.Background()
	node, err := kube.Get[api.Node](ctx, l.c, "", "sno4")
	if err != nil {
		t.Fatal(err)
	}
	node.Labels["bgp"] = "yes"
	if _, err := l.c.Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	sp.waitStatus(sessionState("onp-bgp-peer", "Established"))
	before := r.waitNeighbor("Established")

	// A BFD profile that does not exist yet: transient, the last valid
	// configuration stays.
	l.apply(peer("  bfdProfile: fast"))
	rep = sp.waitStatus(func(r *StatusReport) error {
		if r.Config.State != ConfigInvalid || !r.Config.Transient || !r.Config.Stale {
			return fmt.Errorf("config %+v", r.Config)
		}
		return nil
	})
	if len(rep.Config.Errors) != 1 || rep.Config.Errors[0].Object != "BGPPeer metallb-system/onp-bgp-peer" || rep.Config.Errors[0].Field != "spec.bfdProfile" {
		t.Errorf("config errors %+v", rep.Config.Errors)
	}
	if s := rep.Session("onp-bgp-peer"); s == nil || s.State != "Established" || s.BFD != nil {
		t.Errorf("session on the stale configuration: %+v", s)
	}
	// The profile appears: valid again, BFD added without touching BGP.
	l.apply(`apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {namespace: metallb-system, name: fast}
spec: {receiveInterval: 200, transmitInterval: 200}
`)
	rep = sp.waitStatus(func(r *StatusReport) error {
		s := r.Session("onp-bgp-peer")
		if r.Config.State != ConfigValid || s == nil || s.BFD == nil {
			return fmt.Errorf("config %s, session %+v", r.Config.State, s)
		}
		return nil
	})
	if b := rep.Session("onp-bgp-peer").BFD; b.Profile != "fast" || b.ReceiveInterval.Duration != 200*time.Millisecond || b.DetectMultiplier != 3 {
		t.Errorf("bfd %+v", b)
	}
	if after, _ := r.neighbor(netip.MustParseAddr(nodeIP)); after.ConnectionsDropped != before.ConnectionsDropped || after.BGPState != "Established" {
		t.Errorf("the session flapped: dropped %d → %d, state %s", before.ConnectionsDropped, after.ConnectionsDropped, after.BGPState)
	}

	// Label removed: the session goes, with MetalLB's reason.
	node, _ = kube.Get[api.Node](ctx, l.c, "", "sno4")
	delete(node.Labels, "bgp")
	if _, err := l.c.Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	rep = sp.waitStatus(func(r *StatusReport) error {
		if len(r.Sessions) != 0 {
			return fmt.Errorf("%d sessions", len(r.Sessions))
		}
		return nil
	})
	if ev := lastEvent(rep, "peerRemoved"); ev == nil || ev.Reason != ReasonFilteredByNodeSelector {
		t.Errorf("peerRemoved %+v", ev)
	}
	r.waitNeighbor("Idle")
}

// externalTrafficPolicy Local: announced only while this node has a
// serving endpoint; otherwise withdrawn with noLocalEndpoints.
func TestSpeakerETPLocal(t *testing.T) {
	l := newTestLab(t, false)
	r := l.seedRouter()
	sp := l.startSpeaker(l.speakerOptions())
	l.apply(metallbNamespace + metallbResource + seedFile(t, "02-metallb-bgp.yaml"))
	l.apply(appsNamespace + serviceYAML("apps", "local", "  externalTrafficPolicy: Local", "", "other-node", true))
	rep := sp.waitStatus(all(sessionState("onp-bgp-peer", "Established"), serviceDecided("apps", "local", false, "noLocalEndpoints")))
	if s := rep.Service("apps", "local"); !slices.Equal(s.IPs, []string{"10.0.0.10"}) || s.Message != "externalTrafficPolicy is Local and no endpoint on node sno4 can serve" {
		t.Errorf("service %+v", s)
	}
	r.waitNeighbor("Established")
	if ps, err := r.paths("10.0.0.10/32"); err != nil || len(ps) != 0 {
		t.Fatalf("router has %d paths for a service without local endpoints (%v)", len(ps), err)
	}
	// The decision is an event on the service.
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		svc, err := kube.Get[api.Service](context.Background(), l.c, "apps", "local")
		if err != nil {
			return err
		}
		evs, err := kube.EventsFor(context.Background(), l.c, svc)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Reason == "noLocalEndpoints" && strings.Contains(e.Message, `not announced from node "sno4"`) {
				return nil
			}
		}
		return fmt.Errorf("no noLocalEndpoints event among %d", len(evs))
	})

	// The endpoint moves here.
	l.apply(serviceYAML("apps", "local", "  externalTrafficPolicy: Local", "", "sno4", true))
	sp.waitStatus(serviceDecided("apps", "local", true, ""))
	r.waitRoute("10.0.0.10/32")

	// It stops being ready.
	l.apply(serviceYAML("apps", "local", "  externalTrafficPolicy: Local", "", "sno4", false))
	rep = sp.waitStatus(serviceDecided("apps", "local", false, "noLocalEndpoints"))
	r.waitNoRoute("10.0.0.10/32")
	if ev := lastEvent(rep, "serviceWithdrawn"); ev == nil || ev.Reason != "noLocalEndpoints" || ev.IP != "10.0.0.10" || ev.Service != "apps/local" {
		t.Errorf("serviceWithdrawn %+v", ev)
	}
}

// Two routers, two pools, advertisements with different communities per
// pool and per peer; changing one peer re-creates only that session, and
// adding services touches none.
func TestSpeakerTwoPeersCommunitiesNoFlap(t *testing.T) {
	l := newTestLab(t, false)
	r1 := l.seedRouter()
	r2 := l.addRouter("eth1", "192.168.127.2/24", "192.168.127.3/24", `hostname r2
router bgp 64513
 bgp router-id 192.168.127.3
 no bgp ebgp-requires-policy
 neighbor 192.168.127.2 remote-as 64512
 address-family ipv4 unicast
  neighbor 192.168.127.2 activate
 exit-address-family
`)
	sp := l.startSpeaker(l.speakerOptions())
	peers := func(r2Extra string) string {
		return `apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: r1}
spec: {peerAddress: 192.168.126.3, peerASN: 64512, myASN: 64512}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: r2}
spec:
  peerAddress: 192.168.127.3
  peerASN: 64513
  myASN: 64512
` + r2Extra + `
---
`
	}
	l.apply(metallbNamespace + metallbResource + peers("") + `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {namespace: metallb-system, name: gold}
spec: {addresses: [10.0.0.10-10.0.0.20]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {namespace: metallb-system, name: silver}
spec: {addresses: [10.0.1.10-10.0.1.20], autoAssign: false}
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
metadata: {namespace: metallb-system, name: silver-r2}
spec:
  ipAddressPools: [silver]
  peers: [r2]
  communities: ["64512:200", "large:64512:1:2"]
`)
	l.apply(appsNamespace + serviceYAML("apps", "g", "", "", "sno4", true) +
		serviceYAML("apps", "s", "", "{metallb.io/address-pool: silver}", "sno4", true))
	sp.waitStatus(all(sessionState("r1", "Established"), sessionState("r2", "Established"),
		serviceDecided("apps", "g", true, ""), serviceDecided("apps", "s", true, "")))
	r1.waitNeighbor("Established")
	r2.waitNeighbor("Established")

	p := r1.waitRoute("10.0.0.10/32")
	if p.Community == nil || p.Community.String != "64512:100" || p.LocPrf == nil || *p.LocPrf != 200 || p.Aspath.String != "Local" {
		t.Errorf("r1 10.0.0.10/32: %+v", p)
	}
	p = r2.waitRoute("10.0.0.10/32")
	if p.Community == nil || p.Community.String != "64512:100" || p.Aspath.String != "64512" || len(p.Nexthops) != 1 || p.Nexthops[0].IP != "192.168.127.2" {
		t.Errorf("r2 10.0.0.10/32: %+v", p)
	}
	p = r2.waitRoute("10.0.1.10/32")
	if p.Community == nil || p.Community.String != "64512:200" || p.LargeCommunity == nil || p.LargeCommunity.String != "64512:1:2" {
		t.Errorf("r2 10.0.1.10/32: community %+v large %+v", p.Community, p.LargeCommunity)
	}
	if ps, _ := r1.paths("10.0.1.10/32"); len(ps) != 0 {
		t.Errorf("r1 got the silver prefix, which is advertised to r2 only")
	}
	rep := sp.waitStatus(func(r *StatusReport) error { return nil })
	if s := rep.Service("apps", "s"); !slices.Equal(s.Peers, []string{"r2"}) || !slices.Equal(s.Advertisements, []string{"silver-r2"}) {
		t.Errorf("service s %+v", s)
	}
	if s := rep.Service("apps", "g"); !slices.Equal(s.Peers, []string{"r1", "r2"}) {
		t.Errorf("service g %+v", s)
	}

	n1, _ := r1.neighbor(netip.MustParseAddr(nodeIP))
	n2, _ := r2.neighbor(netip.MustParseAddr("192.168.127.2"))
	// More services: no session flaps.
	l.apply(serviceYAML("apps", "g2", "", "", "sno4", true))
	r1.waitRoute("10.0.0.11/32")
	r2.waitRoute("10.0.0.11/32")
	// r2's parameters change: only r2's session is re-created.
	l.apply(peers("  holdTime: 30s"))
	testutil.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		n, err := r2.neighbor(netip.MustParseAddr("192.168.127.2"))
		if err != nil {
			return err
		}
		if n.ConnectionsEstablished <= n2.ConnectionsEstablished || n.BGPState != "Established" {
			return fmt.Errorf("r2 neighbor %s, established %d times (was %d)", n.BGPState, n.ConnectionsEstablished, n2.ConnectionsEstablished)
		}
		if n.BGPTimerHoldTimeMsecs != 30000 {
			return fmt.Errorf("r2 negotiated hold time %d ms, want 30000", n.BGPTimerHoldTimeMsecs)
		}
		return nil
	})
	r2.waitRoute("10.0.1.10/32")
	rep = sp.waitStatus(sessionState("r2", "Established"))
	if s := rep.Session("r2"); s.HoldTime.Duration != 30*time.Second || s.KeepaliveTime.Duration != 10*time.Second {
		t.Errorf("r2 timers %v/%v", s.HoldTime, s.KeepaliveTime)
	}
	if n, _ := r1.neighbor(netip.MustParseAddr(nodeIP)); n.ConnectionsDropped != n1.ConnectionsDropped || n.ConnectionsEstablished != n1.ConnectionsEstablished || n.BGPState != "Established" {
		t.Errorf("r1 flapped: dropped %d → %d, established %d → %d, state %s", n1.ConnectionsDropped, n.ConnectionsDropped, n1.ConnectionsEstablished, n.ConnectionsEstablished, n.BGPState)
	}
	if s := rep.Session("r1"); s.EstablishedCount != 1 {
		t.Errorf("r1 established %d times", s.EstablishedCount)
	}
}

// A speaker killed (SIGKILL) and started again: the router drops the routes
// when the TCP connection goes, gets them back from the new speaker, and
// keeps nothing of a service deleted meanwhile.
func TestSpeakerRestart(t *testing.T) {
	l := newTestLab(t, false)
	r := l.seedRouter()
	o := l.speakerOptions()
	sp := l.startSpeakerProcess(o)
	l.apply(metallbNamespace + metallbResource + seedFile(t, "02-metallb-bgp.yaml"))
	l.apply(appsNamespace + serviceYAML("apps", "a", "", "", "sno4", true) + serviceYAML("apps", "b", "", "", "sno4", true))
	sp.waitStatus(all(sessionState("onp-bgp-peer", "Established"), serviceDecided("apps", "a", true, ""), serviceDecided("apps", "b", true, "")))
	r.waitRoute("10.0.0.10/32")
	r.waitRoute("10.0.0.11/32")

	sp.stop()
	r.waitNeighbor("Idle")
	r.waitNoRoute("10.0.0.10/32")
	r.waitNoRoute("10.0.0.11/32")
	l.delete(kube.KindFor[api.Service](), "apps", "b")

	sp = l.startSpeakerProcess(o)
	sp.waitStatus(all(sessionState("onp-bgp-peer", "Established"), serviceDecided("apps", "a", true, "")))
	r.waitRoute("10.0.0.10/32")
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sum, err := r.frr.BGPSummary(ctx)
		if err != nil {
			return err
		}
		got := sum["ipv4Unicast"].Peers[nodeIP].PfxRcd
		if got != 1 {
			return fmt.Errorf("router has %d prefixes from the speaker, want 1 (10.0.0.10/32 only)", got)
		}
		return nil
	})
	if ps, _ := r.paths("10.0.0.11/32"); len(ps) != 0 {
		t.Errorf("stale route for the deleted service: %+v", ps)
	}
}

// The agent goes away and comes back: the session and its routes stay,
// the status says the API is unreachable, and changes made after the
// agent is back are applied.
func TestSpeakerAgentRestart(t *testing.T) {
	l := newTestLab(t, false)
	r := l.seedRouter()
	sp := l.startSpeaker(l.speakerOptions())
	l.apply(metallbNamespace + metallbResource + seedFile(t, "02-metallb-bgp.yaml"))
	l.apply(appsNamespace + serviceYAML("apps", "a", "", "", "sno4", true))
	sp.waitStatus(all(sessionState("onp-bgp-peer", "Established"), serviceDecided("apps", "a", true, "")))
	r.waitRoute("10.0.0.10/32")
	before := r.waitNeighbor("Established")

	l.stopAgent()
	rep := sp.waitStatus(func(r *StatusReport) error {
		if r.Cluster.Connected || r.Cluster.LastError == "" {
			return fmt.Errorf("cluster %+v", r.Cluster)
		}
		return nil
	})
	if s := rep.Session("onp-bgp-peer"); s == nil || s.State != "Established" || !rep.Service("apps", "a").Announced {
		t.Errorf("without the agent: session %+v", s)
	}
	if ps, _ := r.paths("10.0.0.10/32"); len(ps) != 1 {
		t.Errorf("the route went with the agent")
	}

	l.startAgent()
	l.apply(serviceYAML("apps", "b", "", "", "sno4", true))
	sp.waitStatus(all(serviceDecided("apps", "b", true, ""), func(r *StatusReport) error {
		if !r.Cluster.Connected {
			return fmt.Errorf("cluster %+v", r.Cluster)
		}
		return nil
	}))
	r.waitRoute("10.0.0.11/32")
	if n, _ := r.neighbor(netip.MustParseAddr(nodeIP)); n.ConnectionsDropped != before.ConnectionsDropped {
		t.Errorf("the session dropped while the agent restarted")
	}
}

// Before the agent answers, the status says so; a second speaker cannot
// take the status socket; invalid options are refused with what to set.
func TestSpeakerStatusWithoutAgent(t *testing.T) {
	requireNode(t)
	dir := shortDir(t, "onpspk")
	sock := dir + "/speaker.sock"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{NodeName: "sno4", APISocket: dir + "/cluster/api.sock", StatusSocket: sock, MetricsAddr: MetricsOff, Logger: testLogger(t, -4)})
	}()
	var rep *StatusReport
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		var err error
		rep, err = Status(context.Background(), sock)
		if err != nil {
			return err
		}
		if rep.State != StateConnecting {
			return fmt.Errorf("state %s", rep.State)
		}
		if !strings.Contains(rep.Message, "waiting for the cluster API at "+dir+"/cluster/api.sock") {
			return fmt.Errorf("message %q", rep.Message)
		}
		return nil
	})
	if rep.SchemaVersion != SchemaVersion || rep.Node != "sno4" || rep.Sessions == nil || rep.Services == nil {
		t.Errorf("report %+v", rep)
	}
	// A second speaker on the same socket is refused.
	err := Run(ctx, Options{NodeName: "sno4", APISocket: dir + "/cluster/api.sock", StatusSocket: sock, MetricsAddr: MetricsOff})
	if err == nil || !strings.Contains(err.Error(), "another speaker answers on it") {
		t.Errorf("second speaker: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := Status(context.Background(), sock); err == nil || !strings.Contains(err.Error(), "the speaker is not running") {
		t.Errorf("status of a stopped speaker: %v", err)
	}
	if err := Run(context.Background(), Options{}); err == nil || !strings.Contains(err.Error(), "no node name") || !strings.Contains(err.Error(), "no cluster API socket") {
		t.Errorf("invalid options: %v", err)
	}
}

// TCP MD5 with the password in a Secret (kubernetes.io/basic-auth, key
// password), the Secret created after the BGPPeer: until it exists the
// configuration is transiently invalid and, with no valid one before it,
// the speaker holds no session and says why.
func TestSpeakerPasswordSecret(t *testing.T) {
	l := newTestLab(t, false)
	r := l.addRouter("eth0", nodeIP+"/24", routerIP+"/24", fmt.Sprintf(`hostname vyos
router bgp 64512
 bgp router-id %s
 neighbor %s remote-as 64512
 neighbor %s password ibgp-test
 address-family ipv4 unicast
  neighbor %s activate
 exit-address-family
`, routerIP, nodeIP, nodeIP, nodeIP))
	sp := l.startSpeaker(l.speakerOptions())
	l.apply(metallbNamespace + metallbResource + `apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: onp-bgp-peer}
spec:
  peerAddress: 192.168.126.3
  peerASN: 64512
  myASN: 64512
  passwordSecret: {name: bgp-password, namespace: metallb-system}
`)
	rep := sp.waitStatus(func(r *StatusReport) error {
		if r.State != StateWaiting || r.Config.State != ConfigInvalid || !r.Config.Transient || r.Config.Stale {
			return fmt.Errorf("speaker %s (%s), config %+v", r.State, r.Message, r.Config)
		}
		return nil
	})
	if !strings.Contains(rep.Message, "no valid MetalLB configuration in metallb-system") || !strings.Contains(rep.Message, "bgp-password") || len(rep.Sessions) != 0 {
		t.Errorf("message %q, sessions %d", rep.Message, len(rep.Sessions))
	}
	l.apply(`apiVersion: v1
kind: Secret
metadata: {namespace: metallb-system, name: bgp-password}
type: kubernetes.io/basic-auth
stringData: {password: ibgp-test}
`)
	rep = sp.waitStatus(sessionState("onp-bgp-peer", "Established"))
	if s := rep.Session("onp-bgp-peer"); !s.Password || s.PasswordSecret != "bgp-password" {
		t.Errorf("session %+v", s)
	}
	if rep.Config.State != ConfigValid || rep.State != StateRunning {
		t.Errorf("speaker %s, config %+v", rep.State, rep.Config)
	}
	r.waitNeighbor("Established")
}
