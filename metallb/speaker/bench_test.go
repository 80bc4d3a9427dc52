package speaker

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	gobgpapi "github.com/osrg/gobgp/v3/api"
	"github.com/vishvananda/netlink"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"

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
// prefixes in FRR's BGP table (the neighbor's pfxRcd in `show bgp summary
// json`, polled every 5 ms on one connection to bgpd's vty socket, not
// vtysh: see vtyConn), through the agent's allocator and the
// speaker; then all deleted one request each → 0. The API-only agent and
// the speaker run as processes of their own, as onp runs them; their
// memory (RSS) is read with the N services announced. In the same run
// Debian's gobgpd, a second neighbor of the same FRR, injects N prefixes
// (gRPC AddPathStream in batches of 1,000, as metallb/bgp's benchmark does)
// and withdraws them: gobgpd-ms and the ratio speaker/gobgpd. With
// requested=1 every service asks for its address (metallb.io/loadBalancerIPs),
// which takes the allocator's search for a free address out of the path.
func BenchmarkServicesConverge(b *testing.B) {
	for _, tc := range []struct {
		n         int
		requested bool
	}{{1000, false}, {10000, false}, {10000, true}} {
		b.Run(fmt.Sprintf("services=%d/requested=%v", tc.n, tc.requested), func(b *testing.B) {
			n := tc.n
			l, agent := newProcessLab(b)
			r := l.addRouter("eth0", nodeIP+"/24", routerIP+"/24", fmt.Sprintf(`hostname vyos
router bgp 64512
 bgp router-id %[1]s
 neighbor %[2]s remote-as 64512
 neighbor %[3]s remote-as 64512
 neighbor %[3]s timers connect 1
 address-family ipv4 unicast
  neighbor %[2]s activate
  neighbor %[3]s activate
 exit-address-family
`, routerIP, nodeIP, gobgpdIP))
			g := startGobgpd(b)
			o := l.speakerOptions()
			o.DisableEvents = true
			sp := l.startSpeakerProcess(o)
			l.apply(metallbNamespace + metallbResource + appsNamespace + `apiVersion: metallb.io/v1beta1
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
			vty, err := dialVty(r.frr.Dir(), "bgpd")
			if err != nil {
				b.Fatal(err)
			}
			defer vty.Close()
			waitCount := func(neighbor string, want int) time.Time {
				var at time.Time
				testutil.Eventually(b, 600*time.Second, 5*time.Millisecond, func() error {
					sum, err := vty.bgpSummary()
					if err != nil {
						return err
					}
					p, ok := sum["ipv4Unicast"].Peers[neighbor]
					if !ok || p.State != "Established" {
						return fmt.Errorf("FRR neighbor %s: %+v", neighbor, p)
					}
					if p.PfxRcd != want {
						return fmt.Errorf("FRR has %d prefixes from %s, want %d", p.PfxRcd, neighbor, want)
					}
					at = time.Now()
					return nil
				})
				return at
			}
			waitCount(gobgpdIP, 0)
			objs := testutil.LoadBalancerServices(n, tc.requested)
			ctx := context.Background()
			var add, del, gadd, gdel time.Duration
			var agentRSS, speakerRSS, agentPeak, speakerPeak float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := l.c.Apply(ctx, objs, kube.ApplyOptions{Mode: kube.ModeApply, Summary: true}); err != nil {
					b.Fatal(err)
				}
				add += waitCount(nodeIP, n).Sub(t0)
				agentRSS, agentPeak = rssMiB(agent.Process.Pid)
				speakerRSS, speakerPeak = rssMiB(sp.cmd.Process.Pid)
				t1 := time.Now()
				for j := range n {
					if err := l.c.Delete(ctx, kube.KindFor[api.Service](), "apps", fmt.Sprintf("s%05d", j), kube.DeleteOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				del += waitCount(nodeIP, 0).Sub(t1)

				t2 := time.Now()
				g.inject(b, n)
				gadd += waitCount(gobgpdIP, n).Sub(t2)
				t3 := time.Now()
				g.withdrawAll(b)
				gdel += waitCount(gobgpdIP, 0).Sub(t3)
				b.Logf("n=%d speaker: converge %v, withdraw %v (agent %.0f MiB, speaker %.0f MiB) | gobgpd: converge %v, withdraw %v",
					n, add/time.Duration(i+1), del/time.Duration(i+1), agentRSS, speakerRSS, gadd/time.Duration(i+1), gdel/time.Duration(i+1))
			}
			b.StopTimer()
			sp.terminate()
			l.stopAgent()
			N := float64(b.N)
			b.ReportMetric(ms(add)/N, "converge-ms")
			b.ReportMetric(ms(del)/N, "withdraw-all-ms")
			b.ReportMetric(ms(gadd)/N, "gobgpd-ms")
			b.ReportMetric(ms(gdel)/N, "gobgpd-withdraw-ms")
			b.ReportMetric(float64(add)/float64(gadd), "speaker/gobgpd")
			b.ReportMetric(agentRSS, "agent-rss-MiB")
			b.ReportMetric(speakerRSS, "speaker-rss-MiB")
			b.ReportMetric(agentPeak, "agent-peak-MiB")
			b.ReportMetric(speakerPeak, "speaker-peak-MiB")
		})
	}
}

// gobgpdIP is the node address Debian's gobgpd speaks from in the
// benchmarks (a second address on the node's link to the router).
const gobgpdIP = "192.168.126.4"

// gobgpd is Debian's gobgpd in the node's namespace, a passive iBGP
// neighbor of the router, driven over its gRPC API.
type gobgpd struct {
	client gobgpapi.GobgpApiClient
}

func startGobgpd(b *testing.B) *gobgpd {
	b.Helper()
	testutil.RequireBinary(b, "/usr/bin/gobgpd", "gobgpd")
	lk, err := netlink.LinkByName("eth0")
	if err != nil {
		b.Fatal(err)
	}
	a, _ := netlink.ParseAddr(gobgpdIP + "/24")
	if err := netlink.AddrAdd(lk, a); err != nil {
		b.Fatalf("add %s to the node: %v", gobgpdIP, err)
	}
	dir := shortDir(b, "onpgobgp")
	const apiAddr = "127.0.0.1:50061"
	conf := fmt.Sprintf(`[global.config]
  as = 64512
  router-id = "%[1]s"
  port = 179
  local-address-list = ["%[1]s"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "%[2]s"
    peer-as = 64512
  [neighbors.timers.config]
    connect-retry = 1
  [neighbors.transport.config]
    passive-mode = true
    local-address = "%[1]s"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`, gobgpdIP, routerIP)
	cf := filepath.Join(dir, "gobgpd.toml")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "gobgpd.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/gobgpd", "-f", cf, "-p", "--api-hosts", apiAddr, "--pprof-disable", "-l", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatalf("start gobgpd: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	b.Cleanup(func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		<-exited
		logf.Close()
	})
	conn, err := grpc.Dial(apiAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	g := &gobgpd{client: gobgpapi.NewGobgpApiClient(conn)}
	testutil.Eventually(b, 10*time.Second, 20*time.Millisecond, func() error {
		_, err := g.client.GetBgp(context.Background(), &gobgpapi.GetBgpRequest{})
		return err
	})
	return g
}

var gobgpFamily = &gobgpapi.Family{Afi: gobgpapi.Family_AFI_IP, Safi: gobgpapi.Family_SAFI_UNICAST}

// inject adds n /32s (10.200.0.0 up) with community 65535:65282.
func (g *gobgpd) inject(b *testing.B, n int) {
	b.Helper()
	origin, _ := anypb.New(&gobgpapi.OriginAttribute{Origin: 0})
	nh, _ := anypb.New(&gobgpapi.NextHopAttribute{NextHop: "0.0.0.0"})
	comm, _ := anypb.New(&gobgpapi.CommunitiesAttribute{Communities: []uint32{65535<<16 | 65282}})
	stream, err := g.client.AddPathStream(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("10.200.0.0")
	const batch = 1000
	for i := 0; i < n; i += batch {
		paths := make([]*gobgpapi.Path, 0, batch)
		for range min(batch, n-i) {
			nlri, _ := anypb.New(&gobgpapi.IPAddressPrefix{Prefix: a.String(), PrefixLen: 32})
			paths = append(paths, &gobgpapi.Path{Family: gobgpFamily, Nlri: nlri, Pattrs: []*anypb.Any{origin, nh, comm}})
			a = a.Next()
		}
		if err := stream.Send(&gobgpapi.AddPathStreamRequest{TableType: gobgpapi.TableType_GLOBAL, Paths: paths}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		b.Fatal(err)
	}
}

// withdrawAll deletes every path of the family.
func (g *gobgpd) withdrawAll(b *testing.B) {
	b.Helper()
	if _, err := g.client.DeletePath(context.Background(), &gobgpapi.DeletePathRequest{TableType: gobgpapi.TableType_GLOBAL, Family: gobgpFamily}); err != nil {
		b.Fatal(err)
	}
}
