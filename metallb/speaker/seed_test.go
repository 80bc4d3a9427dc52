package speaker

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/api"
)

// httpGet sends a GET from inside a namespace.
func httpGet(ns *testutil.Netns, url string) (string, error) {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := nsx.Do(ns.Path, func() error {
			d := net.Dialer{Timeout: 2 * time.Second}
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}
	hc := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func metricsText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The reference lab end to end: the seed manifests applied verbatim, the
// router configured as 04-vyos-commands.txt says. The speaker holds no
// session until the MetalLB resource exists; then the router has
// 10.0.0.10/32 via 192.168.126.2 with NO_ADVERTISE and local-pref 100,
// origin IGP, in its FIB, and HTTP through it reaches the echoserver.
// Deleting the Service withdraws the route; deleting the MetalLB resource
// stops the session; re-creating it brings both back.
func TestSpeakerSeedLab(t *testing.T) {
	l := newTestLab(t, true)
	r := l.seedRouter()
	o := l.speakerOptions()
	o.MetricsAddr = DefaultMetricsAddr
	sp := l.startSpeaker(o)

	// MetalLB's configuration, but no MetalLB resource yet: no session.
	l.apply(metallbNamespace + seedFile(t, "02-metallb-bgp.yaml"))
	rep := sp.waitStatus(func(r *StatusReport) error {
		if r.State != StateWaiting || r.Message != "waiting for a MetalLB resource in metallb-system" {
			return fmt.Errorf("speaker %s: %q", r.State, r.Message)
		}
		return nil
	})
	if len(rep.Sessions) != 0 || rep.MetalLB.Present {
		t.Fatalf("sessions without a MetalLB resource: %+v", rep.Sessions)
	}

	l.apply(seedFile(t, "01-metallb-operator.yaml"))
	l.apply(seedFile(t, "03-echoserver.yaml"))
	rep = sp.waitStatus(all(sessionState("onp-bgp-peer", "Established"), serviceDecided("onp-metallb", "echoserver", true, "")))
	r.waitNeighbor("Established")

	p := r.waitRoute("10.0.0.10/32")
	if len(p.Nexthops) != 1 || p.Nexthops[0].IP != nodeIP {
		t.Errorf("next hops %+v, want %s", p.Nexthops, nodeIP)
	}
	if p.Origin != "IGP" {
		t.Errorf("origin %q, want IGP", p.Origin)
	}
	if p.LocPrf == nil || *p.LocPrf != 100 {
		t.Errorf("locPrf %v, want 100", p.LocPrf)
	}
	// FRR prints the well-known 65535:65282 by name.
	if p.Community == nil || !(slices.Contains(p.Community.List, "noAdvertise") || slices.Contains(p.Community.List, "65535:65282")) {
		t.Errorf("communities %+v, want 65535:65282 (noAdvertise)", p.Community)
	}
	h := r.ns.Handle(t)
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if !r.inFIB(h, netip.MustParsePrefix("10.0.0.10/32"), netip.MustParseAddr(nodeIP)) {
			return fmt.Errorf("10.0.0.10/32 via %s not in the router's FIB", nodeIP)
		}
		return nil
	})
	// Through the router to the echoserver pod.
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		body, err := httpGet(r.ns, "http://10.0.0.10:8080/")
		if err != nil {
			return err
		}
		if !strings.Contains(body, "Hostname: echoserver") {
			return fmt.Errorf("answer is not the echoserver's:\n%s", body)
		}
		return nil
	})

	// The status JSON.
	s := rep.Session("192.168.126.3")
	if s == nil || s.Name != "onp-bgp-peer" || s.Peer != "192.168.126.3:179" || s.MyASN != 64512 || s.PeerASN != 64512 || !s.IBGP ||
		s.RouterID != nodeIP || s.RemoteRouterID != routerIP || s.EstablishedCount != 1 {
		t.Errorf("session %+v", s)
	}
	if len(s.Transitions) == 0 || s.Transitions[len(s.Transitions)-1].To != "Established" {
		t.Errorf("transitions %+v", s.Transitions)
	}
	if s.HoldTime.Duration != 90*time.Second || s.ConnectTime.Duration != time.Second {
		t.Errorf("timers hold %v connect %v", s.HoldTime, s.ConnectTime)
	}
	rep = sp.waitStatus(func(r *StatusReport) error {
		s := r.Session("onp-bgp-peer")
		if s.PrefixesAdvertised != 1 || len(s.Routes) != 1 {
			return fmt.Errorf("prefixes advertised %d, routes %+v", s.PrefixesAdvertised, s.Routes)
		}
		return nil
	})
	route := rep.Session("onp-bgp-peer").Routes[0]
	if route.Prefix != "10.0.0.10/32" || !slices.Equal(route.Communities, []string{"65535:65282"}) || route.LocalPref != 100 ||
		!slices.Equal(route.Services, []string{"onp-metallb/echoserver"}) || !slices.Equal(route.Advertisements, []string{"onp-bgp-advertisement"}) {
		t.Errorf("route %+v", route)
	}
	svc := rep.Service("onp-metallb", "echoserver")
	if !slices.Equal(svc.IPs, []string{"10.0.0.10"}) || svc.Pool != "onp-bgp-pool" || !slices.Equal(svc.Peers, []string{"onp-bgp-peer"}) ||
		!slices.Equal(svc.Prefixes, []string{"10.0.0.10/32"}) {
		t.Errorf("service %+v", svc)
	}
	if rep.Config.State != ConfigValid || !rep.MetalLB.Present || rep.MetalLB.Name != "metallb" || !rep.Cluster.Connected ||
		len(rep.Pools) != 1 || rep.Pools[0].Name != "onp-bgp-pool" || !slices.Equal(rep.Pools[0].Addresses, []string{"10.0.0.10-10.0.0.20"}) {
		t.Errorf("speaker view: config %+v metallb %+v cluster %+v pools %+v", rep.Config, rep.MetalLB, rep.Cluster, rep.Pools)
	}
	// Prometheus, as MetalLB serves it on :7472 in the node's namespace.
	m := metricsText(t, "http://127.0.0.1:7472/metrics")
	for _, want := range []string{
		`metallb_bgp_session_up{peer="192.168.126.3:179"} 1`,
		`metallb_bgp_announced_prefixes_total{peer="192.168.126.3:179"} 1`,
		`metallb_speaker_announced{ip="10.0.0.10",node="sno4",protocol="bgp",service="onp-metallb/echoserver"} 1`,
		`metallb_k8s_client_config_loaded_bool 1`,
		`metallb_k8s_client_config_stale_bool 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
	// The service's events say where it is announced from.
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		svc, err := kube.Get[api.Service](context.Background(), l.c, "onp-metallb", "echoserver")
		if err != nil {
			return err
		}
		evs, err := kube.EventsFor(context.Background(), l.c, svc)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Reason == "nodeAssigned" && e.Message == `announcing from node "sno4" with protocol "bgp"` && e.Source.Component == "metallb-speaker" {
				return nil
			}
		}
		return fmt.Errorf("no nodeAssigned event among %d", len(evs))
	})

	// Service deleted: the route goes, the session stays.
	before, _ := r.neighbor(netip.MustParseAddr(nodeIP))
	l.delete(kube.KindFor[api.Service](), "onp-metallb", "echoserver")
	r.waitNoRoute("10.0.0.10/32")
	rep = sp.waitStatus(func(r *StatusReport) error {
		if r.Service("onp-metallb", "echoserver") != nil {
			return fmt.Errorf("deleted service still listed")
		}
		return nil
	})
	// The EndpointSlice may go first (noEndpoints) or the Service itself
	// (serviceDeleted): the watches race, as in Kubernetes.
	if ev := lastEvent(rep, "serviceWithdrawn"); ev == nil || (ev.Reason != ReasonServiceDeleted && ev.Reason != "noEndpoints") || ev.Service != "onp-metallb/echoserver" {
		t.Errorf("withdrawal event %+v", ev)
	}
	after, _ := r.neighbor(netip.MustParseAddr(nodeIP))
	if after.ConnectionsDropped != before.ConnectionsDropped || after.BGPState != "Established" {
		t.Errorf("deleting a service touched the session: dropped %d → %d, state %s", before.ConnectionsDropped, after.ConnectionsDropped, after.BGPState)
	}

	// MetalLB resource deleted: no session.
	l.delete(kube.KindFor[api.MetalLB](), "metallb-system", "metallb")
	rep = sp.waitStatus(func(r *StatusReport) error {
		if r.State != StateWaiting || len(r.Sessions) != 0 {
			return fmt.Errorf("speaker %s with %d sessions", r.State, len(r.Sessions))
		}
		return nil
	})
	if rep.Message != "waiting for a MetalLB resource in metallb-system" {
		t.Errorf("message %q", rep.Message)
	}
	r.waitNeighbor("Idle")
	if ev := lastEvent(rep, "peerRemoved"); ev == nil || ev.Peer != "onp-bgp-peer" || ev.Reason != ReasonNoMetalLB {
		t.Errorf("peerRemoved event %+v", ev)
	}

	// And back.
	l.apply(seedFile(t, "01-metallb-operator.yaml") + "\n---\n" + seedFile(t, "03-echoserver.yaml"))
	sp.waitStatus(all(sessionState("onp-bgp-peer", "Established"), serviceDecided("onp-metallb", "echoserver", true, "")))
	r.waitRoute("10.0.0.10/32")
}

func lastEvent(r *StatusReport, event string) *EventRecord {
	for i := len(r.Events) - 1; i >= 0; i-- {
		if r.Events[i].Event == event {
			return &r.Events[i]
		}
	}
	return nil
}
