package speaker

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/api"
)

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentile(d []time.Duration, q float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return ms(s[int(float64(len(s)-1)*q)])
}

// BenchmarkServiceToFIB: a LoadBalancer Service created through the
// cluster API → its /32 in the router's kernel FIB, end to end: the
// agent's endpointslice controller and MetalLB controller (allocation into
// the Service's status), the speaker's watch and decision, gobgp, FRR's
// bgpd and zebra. The full reference lab (seed manifests, echoserver pod
// running); each sample creates a Service selecting the echoserver with
// metallb.io/loadBalancerIPs set (the allocator still assigns it), polls
// the router's FIB with netlink every 0.5 ms, then deletes the Service and
// waits for the route to go. Reported: median and p95 of both.
func BenchmarkServiceToFIB(b *testing.B) {
	l := newTestLab(b, true)
	r := l.seedRouter()
	o := l.speakerOptions()
	o.Logger = testLogger(b, slog.LevelWarn)
	sp := l.startSpeaker(o)
	l.apply(seedFile(b, "01-metallb-operator.yaml") + "\n---\n" + seedFile(b, "02-metallb-bgp.yaml") + "\n---\n" + seedFile(b, "03-echoserver.yaml"))
	sp.waitStatus(all(sessionState("onp-bgp-peer", "Established"), serviceDecided("onp-metallb", "echoserver", true, "")))
	r.waitRoute("10.0.0.10/32")
	h := r.ns.Handle(b)
	gw := netip.MustParseAddr(nodeIP)
	wait := func(p netip.Prefix, present bool) time.Time {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if r.inFIB(h, p, gw) == present {
				return time.Now()
			}
			time.Sleep(500 * time.Microsecond)
		}
		b.Fatalf("%s present=%v not reached in 20s", p, present)
		return time.Time{}
	}
	ctx := context.Background()
	svcKind := kube.KindFor[api.Service]()
	const samples = 20
	var adds, dels []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < samples; j++ {
			ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(11 + j%10)})
			name := fmt.Sprintf("bench-%d-%d", i, j)
			docs, err := api.Decode("bench.yaml", []byte(fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  namespace: onp-metallb
  name: %s
  annotations: {metallb.io/loadBalancerIPs: "%s"}
spec:
  type: LoadBalancer
  selector: {app: echoserver}
  ports: [{port: 8080, targetPort: 8080, protocol: TCP}]
`, name, ip)))
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			if _, err := l.c.Create(ctx, docs[0].Object); err != nil {
				b.Fatal(err)
			}
			adds = append(adds, wait(netip.PrefixFrom(ip, 32), true).Sub(t0))
			t1 := time.Now()
			if err := l.c.Delete(ctx, svcKind, "onp-metallb", name, kube.DeleteOptions{}); err != nil {
				b.Fatal(err)
			}
			dels = append(dels, wait(netip.PrefixFrom(ip, 32), false).Sub(t1))
		}
	}
	b.StopTimer()
	b.ReportMetric(percentile(adds, 0.5), "add-median-ms")
	b.ReportMetric(percentile(adds, 0.95), "add-p95-ms")
	b.ReportMetric(percentile(dels, 0.5), "withdraw-median-ms")
	b.ReportMetric(percentile(dels, 0.95), "withdraw-p95-ms")
}

// BenchmarkServicesConverge: N LoadBalancer Services (selector-less, each
// with a ready EndpointSlice on the node) applied in one request → all N
// prefixes in FRR's BGP table (the neighbor's pfxRcd), through the agent's
// allocator and the speaker; then all deleted → 0. API-only agent.
func BenchmarkServicesConverge(b *testing.B) {
	for _, n := range []int{1000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			l := newTestLab(b, false)
			r := l.seedRouter()
			o := l.speakerOptions()
			o.Logger = testLogger(b, slog.LevelWarn)
			o.DisableEvents = true
			sp := l.startSpeaker(o)
			l.apply(metallbNamespace + metallbResource + `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {namespace: metallb-system, name: big}
spec: {addresses: [10.100.0.0/16]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {namespace: metallb-system, name: onp-bgp-peer}
spec: {peerAddress: 192.168.126.3, peerASN: 64512, myASN: 64512}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {namespace: metallb-system, name: all}
spec: {communities: ["65535:65282"]}
`)
			sp.waitStatus(sessionState("onp-bgp-peer", "Established"))
			r.waitNeighbor("Established")
			pfxRcd := func() (int, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				sum, err := r.frr.BGPSummary(ctx)
				if err != nil {
					return 0, err
				}
				return sum["ipv4Unicast"].Peers[nodeIP].PfxRcd, nil
			}
			waitCount := func(want int) time.Time {
				var at time.Time
				testutil.Eventually(b, 300*time.Second, 5*time.Millisecond, func() error {
					got, err := pfxRcd()
					if err != nil {
						return err
					}
					if got != want {
						return fmt.Errorf("FRR has %d prefixes from the speaker, want %d", got, want)
					}
					at = time.Now()
					return nil
				})
				return at
			}
			var yaml strings.Builder
			yaml.WriteString(appsNamespace)
			for i := range n {
				yaml.WriteString(serviceYAML("apps", fmt.Sprintf("s%05d", i), "", "", "sno4", true))
			}
			docs, err := api.Decode("bench.yaml", []byte(yaml.String()))
			if err != nil {
				b.Fatal(err)
			}
			objs := make([]api.Object, len(docs))
			for i, d := range docs {
				objs[i] = d.Object
			}
			ctx := context.Background()
			var add, del time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := l.c.Apply(ctx, objs, kube.ApplyOptions{Mode: kube.ModeApply}); err != nil {
					b.Fatal(err)
				}
				add += waitCount(n).Sub(t0)
				t1 := time.Now()
				for j := range n {
					if err := l.c.Delete(ctx, kube.KindFor[api.Service](), "apps", fmt.Sprintf("s%05d", j), kube.DeleteOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				del += waitCount(0).Sub(t1)
			}
			b.StopTimer()
			b.ReportMetric(ms(add)/float64(b.N), "converge-ms")
			b.ReportMetric(ms(del)/float64(b.N), "withdraw-all-ms")
		})
	}
}
