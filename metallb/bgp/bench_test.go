package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/testutil"
	api "github.com/osrg/gobgp/v3/api"
	"github.com/vishvananda/netlink"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
)

// convergenceLab: FRR (zebra + bgpd) in a router namespace with two iBGP
// neighbors on the node side: our speaker (10.126.N.2) and Debian's
// gobgpd (10.126.N.3, running in the node namespace too).
type convergenceLab struct {
	l       *lab
	frr     *frrRouter
	s       *Session
	gobgpIP netip.Addr
	client  api.GobgpApiClient
}

const benchAPI = "127.0.0.1:50052"

func setupConvergence(b *testing.B) *convergenceLab {
	b.Helper()
	l := newLab(b)
	gobgpIP := l.nodeIP.Next()
	l.addNodeAddr(gobgpIP.String() + "/24")
	conf := fmt.Sprintf(`hostname r
!
router bgp 64512
 bgp router-id %s
 no bgp ebgp-requires-policy
 neighbor %s remote-as 64512
 neighbor %s timers connect 1
 neighbor %s remote-as 64512
 neighbor %s timers connect 1
 address-family ipv4 unicast
  neighbor %s activate
  neighbor %s activate
 exit-address-family
!
`, l.routerIP, l.nodeIP, l.nodeIP, gobgpIP, gobgpIP, l.nodeIP, gobgpIP)
	f := startFRR(b, l.router, conf, "")
	startGobgpd(b, l.node, gobgpIP, 64512, l.routerIP, 64512, true, benchAPI)
	conn, err := grpc.Dial(benchAPI, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	m := NewManager(Options{Logger: testLogger(b, slog.LevelWarn)})
	b.Cleanup(func() { m.Close() })
	s, err := m.NewSession(SessionParameters{Name: "bench", PeerAddress: l.routerIP, SourceAddress: l.nodeIP, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		b.Fatal(err)
	}
	c := &convergenceLab{l: l, frr: f, s: s, gobgpIP: gobgpIP, client: api.NewGobgpApiClient(conn)}
	testutil.Eventually(b, 30*time.Second, 100*time.Millisecond, func() error {
		_, peers, err := f.summary()
		if err != nil {
			return err
		}
		for _, a := range []netip.Addr{l.nodeIP, gobgpIP} {
			if peers[a.String()].State != "Established" {
				return fmt.Errorf("FRR neighbor %s is %q", a, peers[a.String()].State)
			}
		}
		return nil
	})
	return c
}

func benchPrefixes(n int) []netip.Prefix {
	out := make([]netip.Prefix, n)
	a := netip.MustParseAddr("10.200.0.0")
	for i := range out {
		out[i] = netip.PrefixFrom(a, 32)
		a = a.Next()
	}
	return out
}

// waitFRR polls FRR's summary until neighbor has want prefixes; it returns
// when that was first seen.
func (c *convergenceLab) waitFRR(tb testing.TB, neighbor netip.Addr, want int) time.Time {
	tb.Helper()
	var at time.Time
	testutil.Eventually(tb, 120*time.Second, 5*time.Millisecond, func() error {
		_, peers, err := c.frr.summary()
		if err != nil {
			return err
		}
		if got := peers[neighbor.String()].PfxRcd; got != want {
			return fmt.Errorf("FRR has %d prefixes from %s, want %d", got, neighbor, want)
		}
		at = time.Now()
		return nil
	})
	return at
}

func (c *convergenceLab) speakerRound(tb testing.TB, n int) (add, del time.Duration) {
	pfxs := benchPrefixes(n)
	t0 := time.Now()
	advs := make([]Advertisement, n)
	for i, p := range pfxs {
		advs[i] = Advertisement{Prefix: p, Communities: []Community{NewCommunity(65535, 65282)}}
	}
	if err := c.s.Set(advs...); err != nil {
		tb.Fatal(err)
	}
	add = c.waitFRR(tb, c.l.nodeIP, n).Sub(t0)
	t1 := time.Now()
	if err := c.s.Set(); err != nil {
		tb.Fatal(err)
	}
	del = c.waitFRR(tb, c.l.nodeIP, 0).Sub(t1)
	return add, del
}

// gobgpdRound injects the same prefixes into gobgpd through its gRPC API
// with AddPathStream in batches of 1,000 paths (the fastest path into
// gobgpd: one management operation per batch, as `gobgp mrt inject` does),
// and withdraws them with one DeletePath for the whole family.
func (c *convergenceLab) gobgpdRound(tb testing.TB, n int) (add, del time.Duration) {
	ctx := context.Background()
	pfxs := benchPrefixes(n)
	fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	t0 := time.Now()
	origin, _ := anypb.New(&api.OriginAttribute{Origin: 0})
	nh, _ := anypb.New(&api.NextHopAttribute{NextHop: "0.0.0.0"})
	comm, _ := anypb.New(&api.CommunitiesAttribute{Communities: []uint32{uint32(NewCommunity(65535, 65282))}})
	stream, err := c.client.AddPathStream(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	const batch = 1000
	for i := 0; i < n; i += batch {
		paths := make([]*api.Path, 0, batch)
		for _, p := range pfxs[i:min(i+batch, n)] {
			nlri, _ := anypb.New(&api.IPAddressPrefix{Prefix: p.Addr().String(), PrefixLen: 32})
			paths = append(paths, &api.Path{Family: fam, Nlri: nlri, Pattrs: []*anypb.Any{origin, nh, comm}})
		}
		if err := stream.Send(&api.AddPathStreamRequest{TableType: api.TableType_GLOBAL, Paths: paths}); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		tb.Fatal(err)
	}
	add = c.waitFRR(tb, c.gobgpIP, n).Sub(t0)
	t1 := time.Now()
	if _, err := c.client.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: fam}); err != nil {
		tb.Fatal(err)
	}
	del = c.waitFRR(tb, c.gobgpIP, 0).Sub(t1)
	return add, del
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkConvergence: N advertisements → all N in FRR's BGP table (the
// neighbor's pfxRcd in `show bgp summary json`, polled every 5 ms plus the
// vtysh call), for our speaker and for Debian's gobgpd (3.10) advertising
// the same prefixes to the same FRR in the same run, one after the other.
// Reported: speaker-ms, gobgpd-ms (adds), their ratio, and withdrawal
// times. ns/op covers both rounds and is not meaningful on its own.
func BenchmarkConvergence(b *testing.B) {
	c := setupConvergence(b)
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("prefixes=%d", n), func(b *testing.B) {
			var ours, theirs, oursDel, theirsDel time.Duration
			for i := 0; i < b.N; i++ {
				a, d := c.speakerRound(b, n)
				ours, oursDel = ours+a, oursDel+d
				a, d = c.gobgpdRound(b, n)
				theirs, theirsDel = theirs+a, theirsDel+d
				b.Logf("n=%d speaker add %v withdraw %v | gobgpd add %v withdraw %v", n, ours/time.Duration(i+1), oursDel/time.Duration(i+1), theirs/time.Duration(i+1), theirsDel/time.Duration(i+1))
			}
			N := float64(b.N)
			b.ReportMetric(ms(ours)/N, "speaker-ms")
			b.ReportMetric(ms(theirs)/N, "gobgpd-ms")
			b.ReportMetric(float64(ours)/float64(theirs), "speaker/gobgpd")
			b.ReportMetric(ms(oursDel)/N, "speaker-withdraw-ms")
			b.ReportMetric(ms(theirsDel)/N, "gobgpd-withdraw-ms")
		})
	}
}

// BenchmarkFIBLatency: one advertisement (a Service's /32) → the route in
// the router's kernel FIB, polled with netlink every 0.5 ms; then its
// withdrawal → gone. Reported as median and p95 over the samples.
func BenchmarkFIBLatency(b *testing.B) {
	l := newLab(b)
	startFRR(b, l.router, frrBGPConf(l, 64512, 64512), "")
	m := NewManager(Options{Logger: testLogger(b, slog.LevelWarn)})
	b.Cleanup(func() { m.Close() })
	s, err := m.NewSession(SessionParameters{Name: "fib", PeerAddress: l.routerIP, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		b.Fatal(err)
	}
	waitState(b, s, StateEstablished, 30*time.Second)
	h := l.router.Handle(b)
	inFIB := func(p netip.Prefix) bool {
		rs, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: prefixNet(p)}, netlink.RT_FILTER_DST)
		return err == nil && len(rs) > 0
	}
	wait := func(p netip.Prefix, present bool) time.Time {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if inFIB(p) == present {
				return time.Now()
			}
			time.Sleep(500 * time.Microsecond)
		}
		b.Fatalf("%s present=%v not reached in 10s", p, present)
		return time.Time{}
	}
	const samples = 25
	var adds, dels []time.Duration
	for i := 0; i < b.N; i++ {
		for j := 0; j < samples; j++ {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 201, byte(j), 1}), 32)
			t0 := time.Now()
			if err := s.Set(Advertisement{Prefix: p}); err != nil {
				b.Fatal(err)
			}
			adds = append(adds, wait(p, true).Sub(t0))
			t1 := time.Now()
			if err := s.Set(); err != nil {
				b.Fatal(err)
			}
			dels = append(dels, wait(p, false).Sub(t1))
		}
	}
	slices.Sort(adds)
	slices.Sort(dels)
	pct := func(d []time.Duration, q float64) float64 { return ms(d[int(float64(len(d)-1)*q)]) }
	b.ReportMetric(pct(adds, 0.5), "add-median-ms")
	b.ReportMetric(pct(adds, 0.95), "add-p95-ms")
	b.ReportMetric(pct(dels, 0.5), "withdraw-median-ms")
	b.ReportMetric(pct(dels, 0.95), "withdraw-p95-ms")
}
